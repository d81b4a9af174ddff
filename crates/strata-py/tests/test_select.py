"""Readiness: strata.select.select and the strata.selectors selector."""

import time

import pytest

from strata import select, selectors, socket


def test_select_listener_stream_and_timeout():
    l = socket.create_server(("127.0.0.1", 0))
    t0 = time.monotonic()
    assert select.select([l], [], [], 0.1) == ([], [], [])
    assert time.monotonic() - t0 >= 0.09
    c = socket.create_connection(l.getsockname())
    r, _, _ = select.select([l], [], [], 5)
    assert r == [l]
    s, _ = l.accept()
    _, w, _ = select.select([], [c, s], [], 5)
    assert w == [c, s]
    assert select.select([s], [], [], 0) == ([], [], [])
    c.sendall(b"x")
    r, _, _ = select.select([s, l], [], [], 5)
    assert r == [s]
    c.close()
    r, _, _ = select.select([s], [], [], 5)
    assert r == [s] and s.recv(10) == b"x" and s.recv(10) == b""
    s.close()
    l.close()
    with pytest.raises(TypeError):
        select.select([object()], [], [], 0)


def test_select_udp():
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b.bind(("127.0.0.1", 0))
    assert select.select([b], [], [], 0) == ([], [], [])
    a.sendto(b"d", b.getsockname())
    assert select.select([b], [a], [], 5) == ([b], [a], [])
    assert b.recvfrom(10)[0] == b"d"
    a.close()
    b.close()


def test_selectors_echo_loop():
    sel = selectors.DefaultSelector()
    l = socket.create_server(("127.0.0.1", 0))
    l.setblocking(False)
    sel.register(l, selectors.EVENT_READ, "listener")
    c = socket.create_connection(l.getsockname())
    c.sendall(b"via selectors")
    echoed = False
    deadline = time.monotonic() + 10
    while not echoed and time.monotonic() < deadline:
        for key, events in sel.select(timeout=1):
            assert events == selectors.EVENT_READ
            if key.data == "listener":
                conn, _ = l.accept()
                sel.register(conn, selectors.EVENT_READ, "conn")
            else:
                d = key.fileobj.recv(100)
                key.fileobj.sendall(d.upper())
                echoed = True
    assert c.recv(100) == b"VIA SELECTORS"
    assert len(sel.get_map()) == 2
    sel.modify(l, selectors.EVENT_READ | selectors.EVENT_WRITE, "listener")
    sel.unregister(l)
    sel.close()
    c.close()
    l.close()


def test_select_over_sockets_of_several_stacks():
    import strata

    with strata.Lab() as lab:
        h = lab.host("10.0.0.1")
        lab_srv = h.create_server(("0.0.0.0", 80))
        loc_srv = socket.create_server(("127.0.0.1", 0))
        assert select.select([lab_srv, loc_srv], [], [], 0.05) == ([], [], [])
        c = h.create_connection(("127.0.0.1", 80), timeout=5)
        r, _, _ = select.select([lab_srv, loc_srv], [], [], 5)
        assert r == [lab_srv]
        d = socket.create_connection(loc_srv.getsockname(), timeout=5)
        r, _, _ = select.select([loc_srv], [], [], 5)
        assert r == [loc_srv]
        for x in (c, d, lab_srv, loc_srv):
            x.close()
