//! CI gate for the RFC 9293 compliance matrix: `docs/rfc9293.md` must be
//! what `cargo xtask compliance` writes now, and every applicable MUST
//! must have an implementation tag and a covering test.

use xtask::{repo_root, Matrix, MATRIX};

#[test]
fn rfc9293_matrix_is_current_and_every_applicable_must_is_tested() {
    let root = repo_root();
    let m = Matrix::build(&root).unwrap_or_else(|e| panic!("compliance scan: {e}"));
    let problems = m.problems();
    assert!(
        problems.is_empty(),
        "applicable RFC 9293 MUSTs without implementation or test:\n  {}",
        problems.join("\n  ")
    );
    let want = m.render();
    let have = std::fs::read_to_string(root.join(MATRIX)).unwrap_or_default();
    assert!(
        have == want,
        "{MATRIX} is stale: run `cargo xtask compliance` and commit the result"
    );
}
