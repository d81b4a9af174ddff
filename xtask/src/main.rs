//! `cargo xtask compliance [--check]`: write (or, with `--check`, verify)
//! `docs/rfc9293.md`, the RFC 9293 compliance matrix. See the crate docs.

use std::process::ExitCode;

use xtask::{repo_root, Level, Matrix, MATRIX};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["compliance"] => compliance(false),
        ["compliance", "--check"] => compliance(true),
        _ => {
            eprintln!("usage: cargo xtask compliance [--check]");
            eprintln!("  writes {MATRIX} from the MUST-n/SHLD-n tags in the source and the");
            eprintln!("  `// covers:` comments on tests; --check only verifies it is current");
            ExitCode::from(2)
        }
    }
}

fn compliance(check: bool) -> ExitCode {
    let root = repo_root();
    let m = match Matrix::build(&root) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let text = m.render();
    let path = root.join(MATRIX);
    let mut ok = true;
    if check {
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            eprintln!("error: {MATRIX} is stale; run `cargo xtask compliance`");
            ok = false;
        }
    } else if let Err(e) = std::fs::write(&path, &text) {
        eprintln!("error: {}: {e}", path.display());
        return ExitCode::FAILURE;
    } else {
        println!("wrote {MATRIX}");
    }
    for level in [Level::Must, Level::Shld, Level::May, Level::Rec] {
        let c = m.counts(level);
        println!(
            "{level:?}: {} in RFC 9293, {} applicable, {} implemented, {} implemented and tested",
            c.total,
            c.total - c.not_applicable,
            c.implemented,
            c.tested
        );
    }
    for p in m.problems() {
        eprintln!("MUST not met: {p}");
        ok = false;
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
