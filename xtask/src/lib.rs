//! Repository tasks. The one task today is the RFC 9293 compliance matrix.
//!
//! # The matrix
//!
//! `cargo xtask compliance` reads three things and writes `docs/rfc9293.md`:
//!
//! 1. `docs/rfc9293-requirements.txt`: every requirement of RFC 9293
//!    Appendix B (`MUST-n`, `SHLD-n`, `MAY-n`, `REC-n`), its section, a
//!    summary, and for the few that do not apply to strata the reason.
//! 2. **Implementation tags**: a comment (`//`, `///`, `//!`) in a source
//!    file under `crates/*/src` that names a requirement, e.g.
//!    `// RFC 9293 §3.7.1 MUST-15: ...`, marks the line that implements it.
//!    Ranges are written `MUST-30..33`. Comments inside a `#[cfg(test)]`
//!    module do not count: they are tests, not implementation.
//! 3. **Test coverage**: a comment `// covers: MUST-7, SHLD-3` on a test
//!    function (next to its `#[test]` attribute or doc comment, anywhere
//!    under `crates/`) says that this test checks those requirements. The
//!    tool finds the function's name and lists it.
//!
//! Each requirement then has a status: implemented and tested,
//! implemented but untested, not applicable (with the reason), or not
//! implemented. [`Matrix::problems`] lists every applicable MUST without
//! an implementation tag or without a test; the workspace test
//! `xtask/tests/rfc9293.rs` fails on any of them and when the committed
//! `docs/rfc9293.md` differs from what the tool would write now.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

/// Where the requirement list lives, relative to the repository root.
pub const REQUIREMENTS: &str = "docs/rfc9293-requirements.txt";
/// Where the matrix is written, relative to the repository root.
pub const MATRIX: &str = "docs/rfc9293.md";

/// An error of the tool: a malformed requirement list, an unknown tag, a
/// `covers:` comment that is not on a test, or an I/O failure.
#[derive(Debug)]
pub struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

fn err<T>(msg: impl Into<String>) -> Result<T, Error> {
    Err(Error(msg.into()))
}

/// The keyword class of a requirement label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// `MUST-n` (MUST and MUST NOT).
    Must,
    /// `SHLD-n` (SHOULD and SHOULD NOT).
    Shld,
    /// `MAY-n`.
    May,
    /// `REC-n` (RECOMMENDED).
    Rec,
}

impl Level {
    const ALL: [Level; 4] = [Level::Must, Level::Shld, Level::May, Level::Rec];

    fn prefix(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::Shld => "SHLD",
            Level::May => "MAY",
            Level::Rec => "REC",
        }
    }
}

/// A requirement label such as `MUST-15`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReqId {
    /// MUST, SHLD, MAY or REC.
    pub level: Level,
    /// The number after the dash.
    pub n: u32,
}

impl fmt::Display for ReqId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.level.prefix(), self.n)
    }
}

impl ReqId {
    /// Parses exactly `MUST-15` (no surrounding text).
    pub fn parse(s: &str) -> Option<ReqId> {
        let (p, n) = s.split_once('-')?;
        let level = Level::ALL.into_iter().find(|l| l.prefix() == p)?;
        let n = n.parse().ok()?;
        Some(ReqId { level, n })
    }
}

/// One line of the requirement list.
#[derive(Debug, Clone)]
pub struct Requirement {
    /// The label.
    pub id: ReqId,
    /// The RFC 9293 section that states it.
    pub section: String,
    /// A one-line summary of what it asks.
    pub summary: String,
    /// Why it does not apply to strata, if it does not.
    pub not_applicable: Option<String>,

    /// The group heading it sits under.
    pub group: String,
}

/// A line of source that carries an implementation tag.
///
/// The matrix names the file and the function, not the line: a line
/// number changes with every edit above it, and a generated file that
/// every commit must regenerate would make concurrent work conflict on it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Location {
    /// Repository-relative path with `/` separators.
    pub path: String,
    /// The function the tag sits in (a `///` tag: the function it
    /// documents); empty at file level.
    pub item: String,
    /// 1-based line number (for error messages only).
    pub line: usize,
}

/// A test function named by a `covers:` comment.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TestRef {
    /// Repository-relative path of the file that holds it.
    pub path: String,
    /// The function's name.
    pub name: String,
}

impl TestRef {
    /// `crate::file::function`, e.g. `strata::tcp_scenarios::simultaneous_open`.
    pub fn display_name(&self) -> String {
        let mut parts = self.path.split('/');
        let krate = match (parts.next(), parts.next()) {
            (Some("crates"), Some(c)) => c.to_string(),
            _ => String::new(),
        };
        let stem = Path::new(&self.path)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let stem = if stem == "mod" {
            Path::new(&self.path)
                .parent()
                .and_then(|p| p.file_name())
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or(stem)
        } else {
            stem
        };
        format!("{krate}::{stem}::{}", self.name)
    }
}

/// Parses the requirement list.
pub fn parse_requirements(text: &str) -> Result<Vec<Requirement>, Error> {
    let mut out: Vec<Requirement> = Vec::new();
    let mut group = String::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if let Some(h) = line.strip_prefix("## ") {
            group = h.trim().to_string();
            continue;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split('|').map(str::trim).collect();
        let at = format!("{REQUIREMENTS}:{}", i + 1);
        if !(3..=4).contains(&fields.len()) {
            return err(format!(
                "{at}: expected `ID | section | summary [| n/a: reason]`"
            ));
        }
        let Some(id) = ReqId::parse(fields[0]) else {
            return err(format!("{at}: `{}` is not a requirement label", fields[0]));
        };
        if out.iter().any(|r| r.id == id) {
            return err(format!("{at}: {id} listed twice"));
        }
        let not_applicable = match fields.get(3) {
            None => None,
            Some(f) => match f.strip_prefix("n/a:") {
                Some(reason) if !reason.trim().is_empty() => Some(reason.trim().to_string()),
                _ => return err(format!("{at}: the fourth field must be `n/a: <reason>`")),
            },
        };
        if fields[2].is_empty() {
            return err(format!("{at}: {id} has no summary"));
        }
        out.push(Requirement {
            id,
            section: fields[1].to_string(),
            summary: fields[2].to_string(),
            not_applicable,
            group: group.clone(),
        });
    }
    Ok(out)
}

/// Every requirement label in `text`, with `MUST-30..33` (also `…`)
/// expanded to MUST-30, MUST-31, MUST-32, MUST-33.
pub fn tags_in(text: &str) -> Vec<ReqId> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let rest = &text[i..];
        let hit = Level::ALL.into_iter().find_map(|l| {
            let p = l.prefix();
            let boundary = i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
            (boundary && rest.starts_with(p) && rest[p.len()..].starts_with('-'))
                .then_some((l, p.len() + 1))
        });
        let Some((level, skip)) = hit else {
            i += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        };
        let digits = rest[skip..].bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            i += skip;
            continue;
        }
        let n: u32 = rest[skip..skip + digits].parse().unwrap_or(0);
        let mut end = skip + digits;
        out.push(ReqId { level, n });
        // A range: `..33`, `…33`, `..MUST-33`.
        let tail = &rest[end..];
        let after = tail
            .strip_prefix("..")
            .or_else(|| tail.strip_prefix('…'))
            .map(|t| {
                t.strip_prefix(level.prefix())
                    .and_then(|t| t.strip_prefix('-'))
                    .unwrap_or(t)
            });
        if let Some(t) = after {
            let d = t.bytes().take_while(u8::is_ascii_digit).count();
            if let Ok(hi) = t[..d].parse::<u32>() {
                if hi > n && hi - n < 100 {
                    out.extend((n + 1..=hi).map(|n| ReqId { level, n }));
                    end = rest.len() - t.len() + d;
                }
            }
        }
        i += end;
    }
    out
}

/// The comment part of one line of Rust (after `//` outside a string
/// literal), without its leading slashes and `!`.
fn comment_of(line: &str) -> Option<&str> {
    let b = line.as_bytes();
    let mut in_str = false;
    let mut i = 0;
    while i + 1 < b.len() {
        match b[i] {
            b'\\' if in_str => i += 1,
            b'"' => in_str = !in_str,
            b'\'' if !in_str => {
                // A char literal such as '"' must not open a string.
                if i + 2 < b.len() && b[i + 2] == b'\'' {
                    i += 2;
                } else if i + 3 < b.len() && b[i + 1] == b'\\' && b[i + 3] == b'\'' {
                    i += 3;
                }
            }
            b'/' if !in_str && b[i + 1] == b'/' => {
                return Some(line[i..].trim_start_matches('/').trim_start_matches('!'));
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// What the scan of the source tree found.
#[derive(Debug, Default)]
pub struct Scan {
    /// Implementation tags by requirement.
    pub implemented: BTreeMap<ReqId, Vec<Location>>,
    /// Covering tests by requirement.
    pub tested: BTreeMap<ReqId, Vec<TestRef>>,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), Error> {
    let entries = fs::read_dir(dir).map_err(|e| Error(format!("{}: {e}", dir.display())))?;
    for e in entries {
        let e = e.map_err(|e| Error(format!("{}: {e}", dir.display())))?;
        let p = e.path();
        let name = e.file_name();
        if p.is_dir() {
            if name != "target" && !name.to_string_lossy().starts_with('.') {
                rust_files(&p, out)?;
            }
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    Ok(())
}

fn is_test_attr(line: &str) -> bool {
    let t = line.trim();
    t.starts_with("#[") && (t == "#[test]" || t.contains("::test") || t.starts_with("#[test"))
}

/// Scans one file. `rel` is its repository-relative path; `is_src` says
/// whether implementation tags count in it (a file under `crates/*/src`).
pub fn scan_file(rel: &str, text: &str, is_src: bool, scan: &mut Scan) -> Result<(), Error> {
    let lines: Vec<&str> = text.lines().collect();
    // The closing line of the `#[cfg(test)] mod ... {` we are in, if any.
    let mut test_mod_end: Option<String> = None;
    let mut pending_cfg_test = false;
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim();
        if let Some(end) = &test_mod_end {
            if *line == end.as_str() {
                test_mod_end = None;
            }
        } else if t == "#[cfg(test)]" {
            pending_cfg_test = true;
        } else if pending_cfg_test && !t.starts_with("#[") {
            pending_cfg_test = false;
            if (t.starts_with("mod ") || t.starts_with("pub mod ")) && t.ends_with('{') {
                let indent = &line[..line.len() - line.trim_start().len()];
                test_mod_end = Some(format!("{indent}}}"));
            }
        }
        let Some(comment) = comment_of(line) else {
            continue;
        };
        let at = format!("{rel}:{}", i + 1);
        if let Some(list) = comment.trim().strip_prefix("covers:") {
            let tags = tags_in(list);
            if tags.is_empty() {
                return err(format!("{at}: `covers:` names no requirement"));
            }
            if !t.starts_with("//") {
                return err(format!("{at}: a `covers:` comment must be on its own line"));
            }
            let test = test_fn_at(&lines, i).ok_or_else(|| {
                Error(format!(
                    "{at}: `covers:` must sit on a test function (beside its #[test] \
                     attribute or doc comment)"
                ))
            })?;
            for id in tags {
                let v = scan.tested.entry(id).or_default();
                let r = TestRef {
                    path: rel.to_string(),
                    name: test.clone(),
                };
                if !v.contains(&r) {
                    v.push(r);
                }
            }
        } else if is_src && test_mod_end.is_none() {
            for id in tags_in(comment) {
                let v = scan.implemented.entry(id).or_default();
                let l = Location {
                    path: rel.to_string(),
                    item: enclosing_fn(&lines, i).unwrap_or_default(),
                    line: i + 1,
                };
                if !v.iter().any(|o| (&o.path, &o.item) == (&l.path, &l.item)) {
                    v.push(l);
                }
            }
        }
    }
    Ok(())
}

/// The name declared by `line` if it declares a function.
fn fn_name(line: &str) -> Option<String> {
    let t = line.trim();
    if t.starts_with("//") {
        return None;
    }
    let at = if t.starts_with("fn ") {
        0
    } else {
        t.find(" fn ")? + 1
    };
    // Only qualifiers may stand before `fn` (pub, pub(crate), const, async, unsafe, extern "C").
    let before = &t[..at];
    let qualifiers = [
        "pub", "const", "async", "unsafe", "extern", "\"C\"", "default",
    ];
    if !before
        .split_whitespace()
        .all(|w| qualifiers.contains(&w) || w.starts_with("pub("))
    {
        return None;
    }
    let name: String = t[at + 3..]
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// The function a tag comment at line `i` belongs to: for a `///` doc
/// comment the function it documents (the next declaration), otherwise
/// the nearest declaration above it.
fn enclosing_fn(lines: &[&str], i: usize) -> Option<String> {
    if lines[i].trim().starts_with("///") {
        return lines[i + 1..].iter().take(40).find_map(|l| fn_name(l));
    }
    lines[..i].iter().rev().find_map(|l| fn_name(l))
}

/// The test function a `covers:` comment at line `i` belongs to: the
/// next `fn`, reached over comments and attributes only, with a test
/// attribute on one side of the comment or the other.
fn test_fn_at(lines: &[&str], i: usize) -> Option<String> {
    let skippable = |l: &str| {
        let t = l.trim();
        t.is_empty() || t.starts_with("//") || t.starts_with("#[")
    };
    let mut has_test_attr = false;
    let mut j = i;
    while j > 0 && skippable(lines[j - 1]) {
        j -= 1;
        has_test_attr |= is_test_attr(lines[j]);
    }
    let mut k = i + 1;
    while k < lines.len() && skippable(lines[k]) {
        has_test_attr |= is_test_attr(lines[k]);
        k += 1;
    }
    let decl = lines.get(k)?.trim();
    let decl = decl.strip_prefix("pub ").unwrap_or(decl);
    let decl = decl.strip_prefix("async ").unwrap_or(decl);
    let name = decl.strip_prefix("fn ")?;
    let name: String = name
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (has_test_attr && !name.is_empty()).then_some(name)
}

/// Scans `crates/` under `root`.
pub fn scan_tree(root: &Path) -> Result<Scan, Error> {
    let mut files = Vec::new();
    rust_files(&root.join("crates"), &mut files)?;
    files.sort();
    let mut scan = Scan::default();
    for f in files {
        let rel = f
            .strip_prefix(root)
            .unwrap_or(&f)
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        let text = fs::read_to_string(&f).map_err(|e| Error(format!("{rel}: {e}")))?;
        // crates/<name>/src/...
        let is_src = rel.split('/').nth(2) == Some("src");
        scan_file(&rel, &text, is_src, &mut scan)?;
    }
    Ok(scan)
}

/// The status of one requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Implementation tag and at least one covering test.
    Tested,
    /// Implementation tag, no covering test.
    Untested,
    /// The requirement list says it does not apply.
    NotApplicable,
    /// No implementation tag.
    NotImplemented,
}

/// Requirements, scan and the status of each.
#[derive(Debug)]
pub struct Matrix {
    /// The requirement list in its order.
    pub requirements: Vec<Requirement>,
    /// What the source says.
    pub scan: Scan,
}

impl Matrix {
    /// Reads the requirement list and scans the tree under `root`; fails
    /// on tags that name no requirement of RFC 9293.
    pub fn build(root: &Path) -> Result<Matrix, Error> {
        let list = fs::read_to_string(root.join(REQUIREMENTS))
            .map_err(|e| Error(format!("{REQUIREMENTS}: {e}")))?;
        let requirements = parse_requirements(&list)?;
        let scan = scan_tree(root)?;
        let known = |id: &ReqId| requirements.iter().any(|r| r.id == *id);
        for (id, locs) in &scan.implemented {
            if !known(id) {
                let l = &locs[0];
                return err(format!(
                    "{}:{}: {id} is not a requirement of RFC 9293",
                    l.path, l.line
                ));
            }
        }
        for (id, tests) in &scan.tested {
            if !known(id) {
                let t = &tests[0];
                return err(format!(
                    "{}: test {} covers {id}, which RFC 9293 does not have",
                    t.path, t.name
                ));
            }
        }
        Ok(Matrix { requirements, scan })
    }

    /// The status of `r`.
    pub fn status(&self, r: &Requirement) -> Status {
        if r.not_applicable.is_some() {
            return Status::NotApplicable;
        }

        match (
            self.scan.implemented.contains_key(&r.id),
            self.scan.tested.contains_key(&r.id),
        ) {
            (true, true) => Status::Tested,
            (true, false) => Status::Untested,
            (false, _) => Status::NotImplemented,
        }
    }

    /// Every applicable MUST without an implementation tag or without a
    /// covering test, one line each.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for r in self
            .requirements
            .iter()
            .filter(|r| r.id.level == Level::Must)
        {
            match self.status(r) {
                Status::NotImplemented => out.push(format!(
                    "{} ({}) has no implementation tag{}",
                    r.id,
                    r.summary,
                    if self.scan.tested.contains_key(&r.id) {
                        ""
                    } else {
                        " and no test"
                    }
                )),
                Status::Untested => out.push(format!(
                    "{} ({}) is implemented but no test covers it",
                    r.id, r.summary
                )),
                Status::Tested | Status::NotApplicable => {}
            }
        }
        out
    }

    /// Counts per level: (total, not applicable, implemented, tested).
    pub fn counts(&self, level: Level) -> Counts {
        let mut c = Counts::default();
        for r in self.requirements.iter().filter(|r| r.id.level == level) {
            c.total += 1;
            match self.status(r) {
                Status::Tested => {
                    c.implemented += 1;
                    c.tested += 1;
                }
                Status::Untested => c.implemented += 1,
                Status::NotApplicable => c.not_applicable += 1,
                Status::NotImplemented => {}
            }
        }
        c
    }

    /// The markdown of `docs/rfc9293.md`.
    pub fn render(&self) -> String {
        let mut s = String::new();
        s.push_str("# RFC 9293 compliance matrix\n\n");
        s.push_str(
            "Generated by `cargo xtask compliance` (see `xtask/src/lib.rs`); do not edit by hand.\n\
             The requirements and their summaries come from `docs/rfc9293-requirements.txt`\n\
             (RFC 9293 Appendix B). *Implemented at* lists the source comments that name the\n\
             requirement (`// RFC 9293 §x.y MUST-n`); *Tested by* lists the test functions\n\
             marked `// covers: MUST-n`. The test `xtask/tests/rfc9293.rs` fails when this file\n\
             is stale or when an applicable MUST lacks an implementation or a test.\n\n",
        );
        s.push_str("## Summary\n\n");
        s.push_str(
            "| Level | Total | Not applicable | Applicable | Implemented | Implemented and tested | Not implemented |\n",
        );
        s.push_str("|---|---:|---:|---:|---:|---:|---:|\n");
        for level in Level::ALL {
            let c = self.counts(level);
            let applicable = c.total - c.not_applicable;
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                level.prefix(),
                c.total,
                c.not_applicable,
                applicable,
                c.implemented,
                c.tested,
                applicable - c.implemented
            ));
        }
        s.push('\n');
        let mut group = None;
        for r in &self.requirements {
            if group != Some(&r.group) {
                if group.is_some() {
                    s.push('\n');
                }
                group = Some(&r.group);
                s.push_str(&format!("## {}\n\n", r.group));
                s.push_str("| ReqID | § | Requirement | Status | Implemented at | Tested by |\n");
                s.push_str("|---|---|---|---|---|---|\n");
            }
            let status = match self.status(r) {
                Status::Tested => "implemented, tested".to_string(),
                Status::Untested => "implemented, untested".to_string(),
                Status::NotApplicable => {
                    format!(
                        "not applicable: {}",
                        r.not_applicable.as_deref().unwrap_or("")
                    )
                }
                Status::NotImplemented => "not implemented".to_string(),
            };
            let at = self
                .scan
                .implemented
                .get(&r.id)
                .map(|v| {
                    v.iter()
                        .map(|l| {
                            if l.item.is_empty() {
                                format!("[{0}](../{0})", l.path)
                            } else {
                                format!("[{0}](../{0}) `{1}`", l.path, l.item)
                            }
                        })
                        .collect::<Vec<_>>()
                        .join("<br>")
                })
                .unwrap_or_default();
            let tests = self
                .scan
                .tested
                .get(&r.id)
                .map(|v| {
                    v.iter()
                        .map(|t| format!("[`{}`](../{})", t.display_name(), t.path))
                        .collect::<Vec<_>>()
                        .join("<br>")
                })
                .unwrap_or_default();
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                r.id,
                r.section,
                r.summary.replace('|', "\\|"),
                status.replace('|', "\\|"),
                at,
                tests
            ));
        }
        s
    }
}

/// Counts of one level in the matrix.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Requirements of this level in RFC 9293 Appendix B.
    pub total: usize,
    /// Those that do not apply to strata.
    pub not_applicable: usize,
    /// Those with an implementation tag.
    pub implemented: usize,
    /// Those with an implementation tag and a covering test.
    pub tested: usize,
}

/// The repository root (the parent of this crate's directory).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> ReqId {
        ReqId::parse(s).unwrap()
    }

    #[test]
    fn tags_and_ranges() {
        assert_eq!(
            tags_in("RFC 9293 §3.1 MUST-2/MUST-3, SHLD-19 and MAY-5."),
            vec![id("MUST-2"), id("MUST-3"), id("SHLD-19"), id("MAY-5")]
        );
        assert_eq!(
            tags_in("(MUST-30..33 and MUST-61…MUST-62)"),
            vec![
                id("MUST-30"),
                id("MUST-31"),
                id("MUST-32"),
                id("MUST-33"),
                id("MUST-61"),
                id("MUST-62")
            ]
        );
        assert!(tags_in("MUSTARD-1 xMUST-2 MUST- REC-").is_empty());
    }

    #[test]
    fn covers_finds_the_test_and_skips_test_modules() {
        let src = "\
// RFC 9293 MUST-1: the window is unsigned
fn real() {}
let s = \"// MUST-2 in a string\";
#[cfg(test)]
mod tests {
    // MUST-3 in a test module is not an implementation
    #[test]
    // covers: MUST-1, SHLD-7
    fn checks_window() {}

    /// Doc.
    // covers: MUST-4
    #[tokio::test]
    async fn checks_async() {}
}
// MUST-5 after the module counts again
";
        let mut scan = Scan::default();
        scan_file("crates/x/src/a.rs", src, true, &mut scan).unwrap();
        let implemented: Vec<_> = scan.implemented.keys().map(|k| k.to_string()).collect();
        assert_eq!(implemented, ["MUST-1", "MUST-5"]);
        assert_eq!(scan.implemented[&id("MUST-5")][0].line, 16);
        assert_eq!(scan.tested[&id("MUST-1")][0].name, "checks_window");
        assert_eq!(scan.tested[&id("SHLD-7")][0].name, "checks_window");
        assert_eq!(scan.tested[&id("MUST-4")][0].name, "checks_async");
        assert_eq!(
            scan.tested[&id("MUST-4")][0].display_name(),
            "x::a::checks_async"
        );
    }

    #[test]
    fn covers_off_a_test_is_an_error() {
        let mut scan = Scan::default();
        let e = scan_file(
            "crates/x/tests/t.rs",
            "// covers: MUST-1\nfn helper() {}\n",
            false,
            &mut scan,
        );
        assert!(e.is_err());
        let e = scan_file(
            "crates/x/tests/t.rs",
            "#[test]\nfn t() {\n    // covers: MUST-1\n}\n",
            false,
            &mut scan,
        );
        assert!(e.is_err());
    }

    #[test]
    fn status_and_problems() {
        let reqs = parse_requirements(
            "## G\nMUST-1 | 3.1 | a\nMUST-2 | 3.1 | b\nMUST-3 | 3.1 | c\nMUST-4 | 3.1 | d | n/a: no such thing\nSHLD-1 | 3.4 | e\n",
        )
        .unwrap();
        let mut scan = Scan::default();
        scan_file(
            "crates/x/src/a.rs",
            "// MUST-1\n// MUST-2\n#[test]\n// covers: MUST-1\nfn t() {}\n",
            true,
            &mut scan,
        )
        .unwrap();
        let m = Matrix {
            requirements: reqs,
            scan,
        };
        let st: Vec<_> = m.requirements.iter().map(|r| m.status(r)).collect();
        assert_eq!(
            st,
            [
                Status::Tested,
                Status::Untested,
                Status::NotImplemented,
                Status::NotApplicable,
                Status::NotImplemented
            ]
        );
        let p = m.problems();
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].starts_with("MUST-2") && p[1].starts_with("MUST-3"));
        assert_eq!(
            m.counts(Level::Must),
            Counts {
                total: 4,
                not_applicable: 1,
                implemented: 2,
                tested: 1
            }
        );
        assert!(parse_requirements("MUST-1 | 3 | a\nMUST-1 | 3 | b\n").is_err());
        assert!(parse_requirements("MUST-1 | 3 | a | because\n").is_err());
    }

    #[test]
    fn a_tag_is_placed_in_its_function_not_on_its_line() {
        let src = "impl C {\n    /// RFC 9293 §3.8.1 MUST-1: documented here\n    pub(crate) fn first(&self) {}\n\n    pub fn second(&mut self) {\n        let fn_like = 1; // RFC 9293 §3.8.2 MUST-2: inside\n    }\n}\n";
        let lines: Vec<&str> = src.lines().collect();
        assert_eq!(enclosing_fn(&lines, 1).as_deref(), Some("first"));
        assert_eq!(enclosing_fn(&lines, 5).as_deref(), Some("second"));
        assert_eq!(fn_name("let x = y.fn_like(); // fn z"), None);
        assert_eq!(
            fn_name("pub const unsafe fn a_b<T>(x: T)"),
            Some("a_b".into())
        );
    }
}
