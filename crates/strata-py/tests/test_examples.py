"""The examples in examples/python run as they are (only their import
line differs from the lesson), on the default strata stack."""

from conftest import run_example


def test_echo_threads():
    out = run_example("echo_threads.py")
    assert "server: connection from ('127.0.0.1'," in out
    assert "client: received HELLO, STRATA" in out


def test_chat_loop():
    out = run_example("chat.py")
    assert "alice heard bob: hi alice" in out
    assert "alice heard bob: all layers fine" in out
    assert "bob heard alice: how is the stack?" in out
    assert "bob heard alice: bye" in out
