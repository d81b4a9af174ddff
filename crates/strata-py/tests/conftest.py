"""Shared helpers of the strata Python suite."""

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples" / "python"


def require(ok, reason):
    """Skips with `reason` unless `ok`; under CI (STRATA_REQUIRE_ALL=1) a
    missing tool or privilege fails instead."""
    if ok:
        return
    if os.environ.get("STRATA_REQUIRE_ALL") == "1":
        pytest.fail("required under STRATA_REQUIRE_ALL: " + reason)
    pytest.skip(reason)


def can_use_tap():
    if os.geteuid() != 0:
        return False, "needs root for network namespaces and TAP"
    if not os.path.exists("/dev/net/tun"):
        return False, "no /dev/net/tun"
    for tool in ("ip", "curl"):
        if shutil.which(tool) is None:
            return False, "needs %s" % tool
    return True, ""


def run_example(name, *args, env=None, timeout=60):
    """Runs examples/python/NAME with this interpreter; returns stdout."""
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=e,
    )
    assert p.returncode == 0, "%s failed:\n%s\n%s" % (name, p.stdout, p.stderr)
    return p.stdout
