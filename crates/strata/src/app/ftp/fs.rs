//! An in-memory file tree for the FTP server: directories and files by
//! absolute path (`/`, `/pub`, `/pub/readme.txt`).

use std::collections::BTreeMap;

/// Largest file the tree takes (a STOR beyond it is refused).
pub const MAX_FILE: usize = 64 << 20;

/// One entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A directory.
    Dir,
    /// A file and its bytes.
    File(Vec<u8>),
}

/// A tree of directories and files; `/` always exists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fs {
    nodes: BTreeMap<String, Node>,
}

/// Joins `path` to `cwd` and removes `.`, `..` and empty parts; `..` at
/// the root stays at the root. Always absolute, without a trailing `/`
/// (except the root itself).
pub fn resolve(cwd: &str, path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    let base = if path.starts_with('/') { "" } else { cwd };
    for p in base.split('/').chain(path.split('/')) {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

impl Fs {
    /// An empty tree (only `/`).
    pub fn new() -> Fs {
        Fs::default()
    }

    /// Adds (or replaces) a file at an absolute path, making its
    /// directories.
    pub fn add_file(&mut self, path: &str, data: impl Into<Vec<u8>>) {
        let p = resolve("/", path);
        self.make_dirs(parent(&p).to_string());
        self.nodes.insert(p, Node::File(data.into()));
    }

    /// Adds a directory (and its parents).
    pub fn add_dir(&mut self, path: &str) {
        self.make_dirs(resolve("/", path));
    }

    fn make_dirs(&mut self, dir: String) {
        let mut d = dir;
        while d != "/" {
            let up = parent(&d).to_string();
            self.nodes.entry(d).or_insert(Node::Dir);
            d = up;
        }
    }

    /// The entry at an absolute path.
    pub fn get(&self, path: &str) -> Option<&Node> {
        if path == "/" {
            return Some(&Node::Dir);
        }
        self.nodes.get(path)
    }

    /// True for a directory.
    pub fn is_dir(&self, path: &str) -> bool {
        matches!(self.get(path), Some(Node::Dir))
    }

    /// A file's bytes.
    pub fn file(&self, path: &str) -> Option<&[u8]> {
        match self.get(path) {
            Some(Node::File(d)) => Some(d),
            _ => None,
        }
    }

    /// Stores a file whose directory exists; false when it does not, or
    /// the path is a directory.
    pub fn store(&mut self, path: &str, data: Vec<u8>) -> bool {
        if path == "/" || !self.is_dir(parent(path)) || self.is_dir(path) {
            return false;
        }
        self.nodes.insert(path.to_string(), Node::File(data));
        true
    }

    /// The entries directly in a directory: (name, node), by name.
    pub fn list(&self, dir: &str) -> Vec<(&str, &Node)> {
        let prefix = if dir == "/" {
            "/".to_string()
        } else {
            format!("{dir}/")
        };
        self.nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(k, _)| !k[prefix.len()..].contains('/'))
            .map(|(k, v)| (&k[prefix.len()..], v))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_and_list() {
        assert_eq!(resolve("/pub", "a.txt"), "/pub/a.txt");
        assert_eq!(resolve("/pub", "../x/./y/"), "/x/y");
        assert_eq!(resolve("/", "../../.."), "/");
        assert_eq!(resolve("/a", "/b"), "/b");
        let mut fs = Fs::new();
        fs.add_file("/pub/readme.txt", "hi");
        fs.add_file("/pub/sub/deep.bin", vec![1, 2]);
        fs.add_file("/top", "t");
        assert!(fs.is_dir("/pub/sub"));
        let names: Vec<&str> = fs.list("/pub").iter().map(|e| e.0).collect();
        assert_eq!(names, vec!["readme.txt", "sub"]);
        let names: Vec<&str> = fs.list("/").iter().map(|e| e.0).collect();
        assert_eq!(names, vec!["pub", "top"]);
        assert!(fs.store("/pub/new", b"n".to_vec()));
        assert!(!fs.store("/nodir/new", b"n".to_vec()));
        assert!(!fs.store("/pub", b"n".to_vec()));
    }
}
