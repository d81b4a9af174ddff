//! FTP control connection text (RFC 959): commands, replies, and the
//! address arguments of PORT/PASV (RFC 959 §4.1.2, §4.1.3) and EPRT/EPSV
//! (RFC 2428).
//!
//! A command is one line, `VERB[ SP argument] CRLF` (RFC 959 §5.3.1): the
//! verb is case-insensitive, at most four letters. A reply is a three-digit
//! code and text (§4.2); a multi-line reply starts with `ddd-` and ends
//! with a line that starts with the same code and a space. Parsing never
//! panics: bad input is a typed [`FtpError`].

use core::net::{Ipv4Addr, SocketAddrV4};

/// Longest command or reply line accepted (RFC 959 sets no limit; this
/// bounds what a peer can make us buffer).
pub const MAX_LINE: usize = 4096;

/// Most lines in one multi-line reply.
pub const MAX_REPLY_LINES: usize = 256;

/// Why a line is not a command, reply or address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FtpError {
    /// The line is longer than [`MAX_LINE`].
    #[error("line too long")]
    LineTooLong,
    /// No verb, or a verb that is not 3–4 letters.
    #[error("bad command verb")]
    BadVerb,
    /// The verb needs an argument that is missing or malformed.
    #[error("bad argument to {0}")]
    BadArgument(&'static str),
    /// A reply line that does not start with a three-digit code.
    #[error("bad reply line")]
    BadReply,
    /// A multi-line reply with more than [`MAX_REPLY_LINES`] lines.
    #[error("reply too long")]
    ReplyTooLong,
    /// Bytes that are not text.
    #[error("not UTF-8 text")]
    NotText,
}

/// Representation type (RFC 959 §3.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeCode {
    /// ASCII (`A`): lines end in CRLF on the wire.
    Ascii,
    /// Image (`I`, or `L 8`): bytes as they are.
    Image,
}

/// One FTP command (RFC 959 §4.1, RFC 2428 §2–§3, RFC 3659 §4 for SIZE).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// USER name.
    User(String),
    /// PASS password (may be empty).
    Pass(String),
    /// SYST.
    Syst,
    /// FEAT (RFC 2389).
    Feat,
    /// PWD (or XPWD).
    Pwd,
    /// CWD path.
    Cwd(String),
    /// CDUP.
    Cdup,
    /// TYPE A / TYPE I / TYPE L 8.
    Type(TypeCode),
    /// TYPE with a code we do not take (answered 504).
    TypeUnsupported(String),
    /// MODE code (only S, stream, is taken).
    Mode(char),
    /// STRU code (only F, file, is taken).
    Stru(char),
    /// PORT h1,h2,h3,h4,p1,p2.
    Port(SocketAddrV4),
    /// EPRT |1|address|port| (RFC 2428 §2).
    Eprt(SocketAddrV4),
    /// PASV.
    Pasv,
    /// EPSV, with `ALL` when given (RFC 2428 §3).
    Epsv {
        /// `EPSV ALL`: only EPSV from now on.
        all: bool,
    },
    /// LIST [path].
    List(Option<String>),
    /// NLST [path].
    Nlst(Option<String>),
    /// RETR path.
    Retr(String),
    /// STOR path.
    Stor(String),
    /// SIZE path (RFC 3659 §4).
    Size(String),
    /// NOOP.
    Noop,
    /// QUIT.
    Quit,
    /// A well-formed verb we do not implement (answered 502).
    Other(String),
}

fn arg_of(rest: &str) -> Option<String> {
    let r = rest.trim_matches(' ');
    (!r.is_empty()).then(|| r.to_string())
}

/// Drops `ls`-style options (`-l`, `-a`) some clients put before a path.
fn path_arg(rest: &str) -> Option<String> {
    let words: Vec<&str> = rest
        .split(' ')
        .filter(|w| !w.is_empty() && !w.starts_with('-'))
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

impl Command {
    /// Parses one line (with or without its CRLF).
    pub fn parse(line: &[u8]) -> Result<Command, FtpError> {
        if line.len() > MAX_LINE {
            return Err(FtpError::LineTooLong);
        }
        let line = core::str::from_utf8(line).map_err(|_| FtpError::NotText)?;
        let line = line.trim_end_matches(['\r', '\n']);
        let (verb, rest) = match line.find(' ') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => (line, ""),
        };
        // RFC 959 §5.3.1: the command codes are 3 or 4 alphabetic characters.
        if !(3..=4).contains(&verb.len()) || !verb.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(FtpError::BadVerb);
        }
        let v = verb.to_ascii_uppercase();
        let need = |name: &'static str| arg_of(rest).ok_or(FtpError::BadArgument(name));
        Ok(match v.as_str() {
            "USER" => Command::User(need("USER")?),
            // The password may contain spaces; an empty one is allowed.
            "PASS" => Command::Pass(rest.to_string()),
            "SYST" => Command::Syst,
            "FEAT" => Command::Feat,
            "PWD" | "XPWD" => Command::Pwd,
            "CWD" | "XCWD" => Command::Cwd(need("CWD")?),
            "CDUP" | "XCUP" => Command::Cdup,
            "TYPE" => {
                let a = need("TYPE")?;
                match a.to_ascii_uppercase().as_str() {
                    "A" | "A N" => Command::Type(TypeCode::Ascii),
                    "I" | "L 8" => Command::Type(TypeCode::Image),
                    _ => Command::TypeUnsupported(a),
                }
            }
            "MODE" => Command::Mode(one_char(rest).ok_or(FtpError::BadArgument("MODE"))?),
            "STRU" => Command::Stru(one_char(rest).ok_or(FtpError::BadArgument("STRU"))?),
            "PORT" => {
                Command::Port(parse_host_port(rest.trim()).ok_or(FtpError::BadArgument("PORT"))?)
            }
            "EPRT" => Command::Eprt(parse_eprt(rest.trim()).ok_or(FtpError::BadArgument("EPRT"))?),
            "PASV" => Command::Pasv,
            "EPSV" => Command::Epsv {
                all: rest.trim().eq_ignore_ascii_case("ALL"),
            },
            "LIST" => Command::List(path_arg(rest)),
            "NLST" => Command::Nlst(path_arg(rest)),
            "RETR" => Command::Retr(need("RETR")?),
            "STOR" => Command::Stor(need("STOR")?),
            "SIZE" => Command::Size(need("SIZE")?),
            "NOOP" => Command::Noop,
            "QUIT" => Command::Quit,
            _ => Command::Other(v),
        })
    }

    /// The command as a line with its CRLF.
    pub fn emit(&self) -> String {
        let with = |v: &str, a: &str| format!("{v} {a}\r\n");
        match self {
            Command::User(u) => with("USER", u),
            Command::Pass(p) => with("PASS", p),
            Command::Syst => "SYST\r\n".into(),
            Command::Feat => "FEAT\r\n".into(),
            Command::Pwd => "PWD\r\n".into(),
            Command::Cwd(p) => with("CWD", p),
            Command::Cdup => "CDUP\r\n".into(),
            Command::Type(TypeCode::Ascii) => "TYPE A\r\n".into(),
            Command::Type(TypeCode::Image) => "TYPE I\r\n".into(),
            Command::TypeUnsupported(t) => with("TYPE", t),
            Command::Mode(c) => format!("MODE {c}\r\n"),
            Command::Stru(c) => format!("STRU {c}\r\n"),
            Command::Port(a) => with("PORT", &format_host_port(*a)),
            Command::Eprt(a) => format!("EPRT |1|{}|{}|\r\n", a.ip(), a.port()),
            Command::Pasv => "PASV\r\n".into(),
            Command::Epsv { all: true } => "EPSV ALL\r\n".into(),
            Command::Epsv { all: false } => "EPSV\r\n".into(),
            Command::List(None) => "LIST\r\n".into(),
            Command::List(Some(p)) => with("LIST", p),
            Command::Nlst(None) => "NLST\r\n".into(),
            Command::Nlst(Some(p)) => with("NLST", p),
            Command::Retr(p) => with("RETR", p),
            Command::Stor(p) => with("STOR", p),
            Command::Size(p) => with("SIZE", p),
            Command::Noop => "NOOP\r\n".into(),
            Command::Quit => "QUIT\r\n".into(),
            Command::Other(v) => format!("{v}\r\n"),
        }
    }
}

fn one_char(rest: &str) -> Option<char> {
    let r = rest.trim();
    let mut c = r.chars();
    let first = c.next()?;
    c.next().is_none().then(|| first.to_ascii_uppercase())
}

/// `h1,h2,h3,h4,p1,p2` (RFC 959 §4.1.2, PORT; §4.1.3's PASV reply).
pub fn parse_host_port(s: &str) -> Option<SocketAddrV4> {
    let mut n = [0u8; 6];
    let mut parts = s.split(',');
    for slot in n.iter_mut() {
        *slot = parts.next()?.trim().parse().ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(SocketAddrV4::new(
        Ipv4Addr::new(n[0], n[1], n[2], n[3]),
        u16::from_be_bytes([n[4], n[5]]),
    ))
}

/// The `h1,h2,h3,h4,p1,p2` form of an address.
pub fn format_host_port(a: SocketAddrV4) -> String {
    let o = a.ip().octets();
    let p = a.port().to_be_bytes();
    format!("{},{},{},{},{},{}", o[0], o[1], o[2], o[3], p[0], p[1])
}

/// `<d>1<d>address<d>port<d>` (RFC 2428 §2; protocol 1 is IPv4).
fn parse_eprt(s: &str) -> Option<SocketAddrV4> {
    let d = s.chars().next()?;
    // RFC 2428 §2: the delimiter is a printable ASCII character (33–126).
    if !(d.is_ascii_graphic()) {
        return None;
    }
    let f: Vec<&str> = s.split(d).collect();
    // "", proto, addr, port, ""
    if f.len() != 5 || !f[0].is_empty() || !f[4].is_empty() || f[1] != "1" {
        return None;
    }
    Some(SocketAddrV4::new(f[2].parse().ok()?, f[3].parse().ok()?))
}

/// The address in a 227 reply's text: the first `h1,h2,h3,h4,p1,p2` run
/// (RFC 959 §4.1.3 does not fix where it stands; RFC 1123 §4.1.2.6 asks
/// clients to scan for it).
pub fn parse_pasv_reply(text: &str) -> Option<SocketAddrV4> {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let end = b[i..]
                .iter()
                .position(|c| !(c.is_ascii_digit() || *c == b','))
                .map_or(b.len(), |p| i + p);
            if let Some(a) = parse_host_port(&text[i..end]) {
                return Some(a);
            }
            i = end;
        } else {
            i += 1;
        }
    }
    None
}

/// The port in a 229 reply's text: `(<d><d><d>port<d>)` (RFC 2428 §3).
pub fn parse_epsv_reply(text: &str) -> Option<u16> {
    let open = text.find('(')?;
    let inner = &text[open + 1..];
    let close = inner.find(')')?;
    let inner = &inner[..close];
    let d = inner.chars().next()?;
    let f: Vec<&str> = inner.split(d).collect();
    if f.len() != 5 || !f[0].is_empty() || !f[1].is_empty() || !f[2].is_empty() {
        return None;
    }
    f[3].parse().ok()
}

/// One reply (RFC 959 §4.2): a code and its lines of text (without the
/// code and CRLF).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code, 100–599.
    pub code: u16,
    /// The text, one entry per line.
    pub lines: Vec<String>,
}

impl Reply {
    /// A one-line reply.
    pub fn new(code: u16, text: impl Into<String>) -> Reply {
        Reply {
            code,
            lines: vec![text.into()],
        }
    }

    /// The text of the first line.
    pub fn text(&self) -> &str {
        self.lines.first().map_or("", String::as_str)
    }

    /// 1yz: positive preliminary (RFC 959 §4.2.1).
    pub fn is_preliminary(&self) -> bool {
        self.code / 100 == 1
    }

    /// 2yz: positive completion.
    pub fn is_completion(&self) -> bool {
        self.code / 100 == 2
    }

    /// 3yz: positive intermediate.
    pub fn is_intermediate(&self) -> bool {
        self.code / 100 == 3
    }

    /// The reply as it goes on the wire (RFC 959 §4.2: a multi-line reply's
    /// first line is `ddd-`, its last `ddd `; a middle line that starts
    /// with a digit is indented so it cannot be taken for the end).
    pub fn emit(&self) -> String {
        let n = self.lines.len();
        if n <= 1 {
            return format!("{} {}\r\n", self.code, self.text());
        }
        let mut s = format!("{}-{}\r\n", self.code, self.lines[0]);
        for l in &self.lines[1..n - 1] {
            if l.starts_with(|c: char| c.is_ascii_digit()) {
                s.push(' ');
            }
            s.push_str(l);
            s.push_str("\r\n");
        }
        s.push_str(&format!("{} {}\r\n", self.code, self.lines[n - 1]));
        s
    }
}

fn reply_code(line: &str) -> Option<(u16, u8)> {
    let b = line.as_bytes();
    if b.len() < 3 || !b[..3].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code = u16::from(b[0] - b'0') * 100 + u16::from(b[1] - b'0') * 10 + u16::from(b[2] - b'0');
    if !(100..600).contains(&code) {
        return None;
    }
    Some((code, b.get(3).copied().unwrap_or(b' ')))
}

/// Splits a byte stream into lines (LF-terminated, CR dropped), bounded
/// by [`MAX_LINE`].
#[derive(Debug, Clone, Default)]
pub struct LineBuffer {
    buf: Vec<u8>,
    overflow: bool,
}

impl LineBuffer {
    /// An empty buffer.
    pub fn new() -> LineBuffer {
        LineBuffer::default()
    }

    /// Appends bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete line (without CRLF), or an error for a line
    /// longer than [`MAX_LINE`] (which is then skipped).
    pub fn next_line(&mut self) -> Option<Result<Vec<u8>, FtpError>> {
        match self.buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let mut line: Vec<u8> = self.buf.drain(..=i).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if core::mem::take(&mut self.overflow) || line.len() > MAX_LINE {
                    return Some(Err(FtpError::LineTooLong));
                }
                Some(Ok(line))
            }
            None => {
                if self.buf.len() > MAX_LINE {
                    // Keep reading until its end, then report it once.
                    self.buf.clear();
                    self.overflow = true;
                }
                None
            }
        }
    }
}

/// Collects the replies in a stream of control connection bytes.
#[derive(Debug, Clone, Default)]
pub struct ReplyParser {
    lines: LineBuffer,
    partial: Option<Reply>,
}

impl ReplyParser {
    /// An empty parser.
    pub fn new() -> ReplyParser {
        ReplyParser::default()
    }

    /// Appends bytes from the server.
    pub fn push(&mut self, bytes: &[u8]) {
        self.lines.push(bytes);
    }

    /// The next complete reply, if one has arrived.
    pub fn next_reply(&mut self) -> Option<Result<Reply, FtpError>> {
        loop {
            let line = match self.lines.next_line()? {
                Ok(l) => l,
                Err(e) => return Some(Err(e)),
            };
            let Ok(line) = String::from_utf8(line) else {
                return Some(Err(FtpError::NotText));
            };
            match self.partial.as_mut() {
                None => {
                    let Some((code, sep)) = reply_code(&line) else {
                        return Some(Err(FtpError::BadReply));
                    };
                    let text = line.get(4..).unwrap_or("").to_string();
                    if sep == b'-' {
                        self.partial = Some(Reply {
                            code,
                            lines: vec![text],
                        });
                    } else {
                        return Some(Ok(Reply {
                            code,
                            lines: vec![text],
                        }));
                    }
                }
                Some(r) => {
                    // RFC 959 §4.2: the last line starts with the same
                    // code followed by a space.
                    if reply_code(&line).is_some_and(|(c, s)| c == r.code && s == b' ') {
                        let mut r = self.partial.take().expect("some");
                        r.lines.push(line.get(4..).unwrap_or("").to_string());
                        return Some(Ok(r));
                    }
                    if r.lines.len() >= MAX_REPLY_LINES {
                        self.partial = None;
                        return Some(Err(FtpError::ReplyTooLong));
                    }
                    r.lines.push(line.trim_start_matches(' ').to_string());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_and_emit() {
        let a = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 0x1234);
        for c in [
            Command::User("anonymous".into()),
            Command::Pass("me@".into()),
            Command::Cwd("/pub".into()),
            Command::Type(TypeCode::Image),
            Command::Port(a),
            Command::Eprt(a),
            Command::Epsv { all: false },
            Command::List(Some("sub".into())),
            Command::Retr("a b.txt".into()),
            Command::Size("x".into()),
            Command::Quit,
        ] {
            assert_eq!(Command::parse(c.emit().as_bytes()), Ok(c.clone()), "{c:?}");
        }
        assert_eq!(
            Command::parse(b"port 10,0,0,2,18,52\r\n"),
            Ok(Command::Port(a))
        );
        assert_eq!(
            Command::parse(b"LIST -la"),
            Ok(Command::List(None)),
            "options are not paths"
        );
        assert_eq!(Command::parse(b"RETR"), Err(FtpError::BadArgument("RETR")));
        assert_eq!(
            Command::parse(b"PORT 10,0,0,2,300,1"),
            Err(FtpError::BadArgument("PORT"))
        );
        assert_eq!(Command::parse(b"R"), Err(FtpError::BadVerb));
        assert_eq!(Command::parse(b"XMKD d"), Ok(Command::Other("XMKD".into())));
        assert_eq!(Command::parse(&[0xff, 0xfe]), Err(FtpError::NotText));
        assert_eq!(
            Command::parse(b"EPRT |2|::1|5282|"),
            Err(FtpError::BadArgument("EPRT"))
        );
    }

    #[test]
    fn replies_single_and_multi_line() {
        let mut p = ReplyParser::new();
        p.push(b"220 ready\r\n211-Features:\r\n SIZE\r\n EPSV\r\n211 End\r\n");
        assert_eq!(p.next_reply(), Some(Ok(Reply::new(220, "ready"))));
        let r = p.next_reply().unwrap().unwrap();
        assert_eq!(r.code, 211);
        assert_eq!(r.lines, vec!["Features:", "SIZE", "EPSV", "End"]);
        assert_eq!(p.next_reply(), None);
        // Split anywhere: the reply comes out once whole.
        p.push(b"22");
        assert_eq!(p.next_reply(), None);
        p.push(b"7 Entering Passive Mode (10,0,0,2,195,80).\r\n");
        let r = p.next_reply().unwrap().unwrap();
        assert_eq!(
            parse_pasv_reply(r.text()),
            Some(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 50000))
        );
        assert_eq!(
            parse_epsv_reply("Entering Extended Passive Mode (|||6446|)"),
            Some(6446)
        );
        p.push(b"hello\r\n");
        assert_eq!(p.next_reply(), Some(Err(FtpError::BadReply)));
        let multi = Reply {
            code: 211,
            lines: vec!["a".into(), "200 looks like an end".into(), "z".into()],
        };
        p.push(multi.emit().as_bytes());
        assert_eq!(p.next_reply(), Some(Ok(multi)));
    }

    #[test]
    fn long_lines_are_refused_not_buffered() {
        let mut l = LineBuffer::new();
        l.push(&vec![b'a'; MAX_LINE + 10]);
        assert_eq!(l.next_line(), None);
        l.push(b"aaa\r\nNOOP\r\n");
        assert_eq!(l.next_line(), Some(Err(FtpError::LineTooLong)));
        assert_eq!(l.next_line(), Some(Ok(b"NOOP".to_vec())));
    }
}
