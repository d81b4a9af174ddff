#!/usr/bin/env python3
"""Generate crates/strata/src/wire/oui.rs, the OUI -> vendor table behind
`MacAddr::vendor()`, from the IEEE MA-L registry as Debian's `ieee-data`
package ships it (/usr/share/ieee-data/oui.csv). No network access.

Usage (from the repository root):

    python3 tools/gen-oui.py [--csv /usr/share/ieee-data/oui.csv] \
        [--out crates/strata/src/wire/oui.rs]

What it does, so the output is compact and readable for a learner:

* keeps every MA-L (24-bit OUI) assignment of the registry; MA-M/MA-S
  sub-blocks are not included (their parent OUI resolves to
  "IEEE Registration Authority");
* shortens names by stripping legal-form suffixes ("Inc.", "Co., Ltd.",
  "Corporation", "GmbH", ...), so "Cisco Systems, Inc" becomes
  "Cisco Systems" and "Intel Corporate" becomes "Intel";
* title-cases words of four or more letters in names written entirely in
  capitals ("REALTEK SEMICONDUCTOR CORP." -> "Realtek Semiconductor");
  shorter words (acronyms such as IBM, NEC, ZTE) stay as they are;
* deduplicates the names into one sorted table, and writes the OUIs as a
  sorted array of (OUI, index into the name table) for binary search;
* drops invisible format characters (zero-width spaces) from names;
* when the registry lists an OUI twice (a few historic entries do), keeps
  the first entry in file order.

The output is deterministic for a given input file.
"""

import argparse
import csv
import os
import re
import sys
import unicodedata

# Legal-form suffixes, stripped repeatedly from the end of a name
# (case-insensitive, each optionally preceded by a comma/space).
SUFFIXES = [
    r"co\.?\s*,?\s*ltd\.?",
    r"co\.?\s*,?\s*limited",
    r"corp\.?\s*,?\s*ltd\.?",
    r"pte\.?\s*ltd\.?",
    r"pty\.?\s*ltd\.?",
    r"pvt\.?\s*ltd\.?",
    r"sdn\.?\s*bhd\.?",
    r"(?:gmbh\s*)?(?:&|and|\+)\s*co\.?\s*kg",
    r"inc\.?",
    r"incorporated",
    r"ltd\.?",
    r"limited",
    r"l\.?l\.?c\.?",
    r"corp\.?",
    r"corporation",
    r"corporate",
    r"company",
    r"co\.?",
    r"gmbh",
    r"ag",
    r"kg",
    r"a/s",
    r"s\.?a\.?s\.?",
    r"s\.?a\.?",
    r"s\.?p\.?a\.?",
    r"s\.?l\.?",
    r"s\.?r\.?l\.?",
    r"b\.?v\.?",
    r"n\.?v\.?",
    r"oy",
    r"ab",
    r"plc",
    r"pty",
    r"bhd\.?",
]
SUFFIX_RE = re.compile(r"[\s,]+(?:" + "|".join(SUFFIXES) + r")\s*$", re.IGNORECASE)


def title_word(word: str) -> str:
    """Title-case runs of 4+ capital letters ("(SUZHOU)" -> "(Suzhou)")."""
    return re.sub(r"[A-Z]{4,}", lambda m: m.group(0)[0] + m.group(0)[1:].lower(), word)


def shorten(name: str) -> str:
    """The display name of a registry organisation (see the module doc)."""
    # Drop invisible format characters (zero-width spaces, BOMs) the
    # registry contains in a few names; split() also folds NBSP into spaces.
    name = "".join(c for c in name if unicodedata.category(c) != "Cf")
    full = " ".join(name.split())
    short = full
    while True:
        stripped = SUFFIX_RE.sub("", short).rstrip(" ,.")
        if stripped == short or not stripped:
            break
        short = stripped
    if not short:
        short = full
    if not any(c.islower() for c in short) and any(c.isalpha() for c in short):
        short = " ".join(title_word(w) for w in short.split(" "))
    return short


def rust_str(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append("\\u{%x}" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", default="/usr/share/ieee-data/oui.csv")
    ap.add_argument("--out", default="crates/strata/src/wire/oui.rs")
    args = ap.parse_args()

    by_oui = {}
    with open(args.csv, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            if row["Registry"] != "MA-L":
                continue
            assignment = row["Assignment"].strip()
            if not re.fullmatch(r"[0-9A-Fa-f]{6}", assignment):
                continue
            oui = int(assignment, 16)
            if oui in by_oui:
                continue  # first entry in file order wins
            by_oui[oui] = shorten(row["Organization Name"])

    if len(by_oui) < 1000:
        print(f"error: only {len(by_oui)} MA-L entries in {args.csv}", file=sys.stderr)
        return 1

    names = sorted(set(by_oui.values()))
    if len(names) > 0xFFFF:
        print("error: more than 65535 distinct names", file=sys.stderr)
        return 1
    index = {n: i for i, n in enumerate(names)}
    entries = sorted(by_oui.items())

    src_date = ""
    stamp = os.path.join(os.path.dirname(args.csv), ".lastupdate")
    try:
        with open(stamp) as f:
            import datetime

            ts = int(f.read().strip())
            src_date = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime(
                " (registry snapshot of %Y-%m-%d)"
            )
    except (OSError, ValueError):
        pass

    lines = []
    w = lines.append
    w("//! The IEEE MA-L (OUI) registry: 24-bit OUI -> vendor name.")
    w("//!")
    w("//! GENERATED by `tools/gen-oui.py` from Debian's `ieee-data` package")
    w(f"//! (`{args.csv}`){src_date}; do not edit by hand.")
    w("//!")
    w(f"//! {len(entries)} assignments, {len(names)} distinct names. Every MA-L entry")
    w("//! is kept; names are shortened (legal-form suffixes such as Inc., Ltd.,")
    w("//! Co., Corporation, GmbH stripped; all-capital names title-cased) and")
    w("//! deduplicated. [`OUIS`] is sorted by OUI for binary search; its second")
    w("//! field indexes [`VENDORS`].")
    w("")
    w("/// Distinct vendor names, sorted.")
    w("#[rustfmt::skip]")
    w(f"pub(super) static VENDORS: [&str; {len(names)}] = [")
    for n in names:
        w(rust_str(n) + ",")
    w("];")
    w("")
    w("/// (OUI as a 24-bit number, index into [`VENDORS`]), sorted by OUI.")
    w("#[rustfmt::skip]")
    w(f"pub(super) static OUIS: [(u32, u16); {len(entries)}] = [")
    per_line = 6
    for i in range(0, len(entries), per_line):
        chunk = entries[i : i + per_line]
        w("".join(f"(0x{o:06X},{index[n]})," for o, n in chunk))
    w("];")
    w("")

    with open(args.out, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines))
    size = os.path.getsize(args.out)
    print(f"wrote {args.out}: {len(entries)} OUIs, {len(names)} names, {size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
