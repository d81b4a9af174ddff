"""The examples over a TAP, reached by the kernel: the browser/server page
fetched by the kernel's curl, and the lesson's echo client and server as
two processes whose strata stacks meet through the kernel's router. All
inside a network namespace the test creates and removes."""

import os
import subprocess
import sys
import time

import pytest

from conftest import EXAMPLES, can_use_tap, require


class Netns:
    """A network namespace, removed again (with its TAPs) on exit."""

    def __init__(self, tag):
        self.name = "strata-py-%s-%d" % (tag, os.getpid())
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)
        self.run("ip", "netns", "add", self.name, inside=False)
        self.procs = []
        self.run("ip", "link", "set", "lo", "up")

    def run(self, *args, inside=True):
        cmd = (["ip", "netns", "exec", self.name] if inside else []) + list(args)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, "%s: %s" % (" ".join(cmd), p.stderr)
        return p.stdout

    def add_tap(self, tap, kernel_cidr):
        self.run("ip", "tuntap", "add", "dev", tap, "mode", "tap")
        self.run("ip", "addr", "add", kernel_cidr, "dev", tap)
        self.run("ip", "link", "set", tap, "up")

    def spawn(self, script, args, env):
        e = dict(os.environ)
        e.update(env)
        p = subprocess.Popen(
            ["ip", "netns", "exec", self.name, sys.executable, "-u", str(EXAMPLES / script), *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=e,
        )
        self.procs.append(p)
        return p

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait(10)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


def wait_line(p, needle, timeout=30):
    """Reads p's stdout until a line containing `needle`."""
    deadline = time.monotonic() + timeout
    lines = []
    while time.monotonic() < deadline:
        line = p.stdout.readline()
        if not line:
            break
        lines.append(line)
        if needle in line:
            return line
    raise AssertionError("no %r from the process:\n%s\n%s" % (needle, "".join(lines), p.stderr.read() if p.poll() is not None else ""))


@pytest.fixture
def tap_ok():
    ok, why = can_use_tap()
    require(ok, why)


def test_browser_server_page_fetched_by_the_kernels_curl(tap_ok):
    with Netns("web") as ns:
        ns.add_tap("stpyweb", "10.77.0.1/24")
        env = {"STRATA_TAP": "stpyweb", "STRATA_ADDR": "10.77.0.2/24"}
        p = ns.spawn("web_server.py", [8080, 1], env)
        wait_line(p, "serving")
        body = ns.run("curl", "-sS", "--max-time", "20", "--retry", "3", "--retry-connrefused", "http://10.77.0.2:8080/")
        assert "<h1>Hello from strata</h1>" in body
        out, err = p.communicate(timeout=20)
        assert p.returncode == 0, err
        assert "10.77.0.1 GET / HTTP/1.1" in out


def test_echo_client_and_server_processes_through_the_kernel_router(tap_ok):
    with Netns("echo") as ns:
        ns.add_tap("stpysrv", "10.78.1.1/24")
        ns.add_tap("stpycli", "10.78.2.1/24")
        ns.run("sysctl", "-qw", "net.ipv4.ip_forward=1")
        srv = ns.spawn(
            "echo_server.py",
            ["0.0.0.0", 8080, 1],
            {"STRATA_TAP": "stpysrv", "STRATA_ADDR": "10.78.1.2/24", "STRATA_GATEWAY": "10.78.1.1"},
        )
        wait_line(srv, "listening")
        cli = ns.spawn(
            "echo_client.py",
            ["10.78.1.2", 8080, "through the kernel"],
            {"STRATA_TAP": "stpycli", "STRATA_ADDR": "10.78.2.2/24", "STRATA_GATEWAY": "10.78.2.1"},
        )
        out, err = cli.communicate(timeout=30)
        assert cli.returncode == 0, err
        assert "received: THROUGH THE KERNEL" in out
        out, err = srv.communicate(timeout=20)
        assert srv.returncode == 0, err
        assert "connection from ('10.78.2.2'," in out
