"""strata.socket: every call, its errors and its timeouts, on the default
(loopback) stack: the server and client of each test are threads of this
process talking through strata's TCP and UDP."""

import errno
import hashlib
import threading
import time

import pytest

import strata
from strata import socket


def listener(port=0, backlog=5):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", port))
    s.listen(backlog)
    return s


def pair():
    """A connected (client, server-side) pair."""
    with listener() as l:
        c = socket.socket()
        c.connect(l.getsockname())
        s, addr = l.accept()
    assert addr == c.getsockname()
    return c, s


def test_default_net_is_strata_loopback():
    net = strata.default_net()
    assert net.kind == "loopback"
    assert net.address == "127.0.0.1"
    before = net.stats()["tcp_segments_out"]
    c, s = pair()
    c.close()
    s.close()
    # The handshake crossed strata's TCP, not the kernel's.
    assert net.stats()["tcp_segments_out"] >= before + 3


def test_lesson_echo_server_and_client_threads():
    server = socket.socket()
    server.bind(("127.0.0.1", 8080))
    server.listen(5)
    assert server.getsockname() == ("127.0.0.1", 8080)

    def serve():
        conn, addr = server.accept()
        data = conn.recv(1024)
        conn.send(data.upper())
        conn.close()

    t = threading.Thread(target=serve)
    t.start()
    client = socket.socket()
    client.connect(("127.0.0.1", 8080))
    assert client.getpeername() == ("127.0.0.1", 8080)
    assert client.send(b"hello") == 5
    assert client.recv(1024) == b"HELLO"
    assert client.recv(1024) == b""  # the server closed: end of stream
    client.close()
    t.join()
    server.close()


def test_constants_and_types():
    assert socket.AF_INET == 2 and socket.SOCK_STREAM == 1 and socket.SOCK_DGRAM == 2
    assert socket.timeout is TimeoutError
    assert socket.error is OSError
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        assert u.type == socket.SOCK_DGRAM and u.family == socket.AF_INET
    with pytest.raises(OSError) as e:
        socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    assert e.value.errno == errno.EAFNOSUPPORT


def test_context_manager_closes():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        assert s.fileno() > 0
    assert s.fileno() == -1
    with pytest.raises(OSError) as e:
        s.listen(1)
    assert e.value.errno == errno.EBADF


def test_sendall_recv_into_a_megabyte_exactly():
    c, s = pair()
    data = bytes((i * 31 + (i >> 8)) & 0xFF for i in range(1 << 20))
    t = threading.Thread(target=lambda: (c.sendall(data), c.shutdown(socket.SHUT_WR)))
    t.start()
    buf = bytearray(65536)
    h = hashlib.sha256()
    got = 0
    while True:
        n = s.recv_into(buf)
        if n == 0:
            break
        h.update(buf[:n])
        got += n
    t.join()
    assert got == len(data)
    assert h.digest() == hashlib.sha256(data).digest()
    c.close()
    s.close()


def test_recv_into_nbytes_and_recvfrom_on_tcp():
    c, s = pair()
    c.sendall(b"abcdef")
    buf = bytearray(10)
    assert s.recv_into(buf, 3) == 3
    assert bytes(buf[:3]) == b"abc"
    data, addr = s.recvfrom(10)
    assert data == b"def" and addr is None
    c.close()
    s.close()


def test_connect_refused_and_connect_ex():
    with listener() as l:
        port = l.getsockname()[1]
        c = socket.socket()
        assert c.connect_ex(("127.0.0.1", port)) == 0
        c.close()
    c = socket.socket()
    with pytest.raises(ConnectionRefusedError) as e:
        c.connect(("127.0.0.1", port))
    assert e.value.errno == errno.ECONNREFUSED
    c.close()
    with socket.socket() as c:
        assert c.connect_ex(("127.0.0.1", port)) == errno.ECONNREFUSED


def test_address_in_use_and_not_available():
    with listener() as l:
        with socket.socket() as other:
            with pytest.raises(OSError) as e:
                other.bind(l.getsockname())
            assert e.value.errno == errno.EADDRINUSE
    with socket.socket() as s:
        with pytest.raises(OSError) as e:
            s.bind(("10.123.45.67", 80))
        assert e.value.errno == errno.EADDRNOTAVAIL
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a:
        a.bind(("127.0.0.1", 0))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as b:
            with pytest.raises(OSError) as e:
                b.bind(a.getsockname())
            assert e.value.errno == errno.EADDRINUSE


def test_connection_reset_when_peer_closes_with_unread_data():
    c, s = pair()
    c.sendall(b"never read")
    time.sleep(0.05)
    s.close()  # unread data: RST, as Linux does
    with pytest.raises(ConnectionResetError) as e:
        c.settimeout(5)
        c.recv(10)
    assert e.value.errno == errno.ECONNRESET
    c.close()


def test_broken_pipe_after_shutdown_write():
    c, s = pair()
    c.shutdown(socket.SHUT_WR)
    with pytest.raises(BrokenPipeError) as e:
        c.send(b"late")
    assert e.value.errno == errno.EPIPE
    assert s.recv(10) == b""  # the FIN arrived
    s.sendall(b"still open this way")
    assert c.recv(100) == b"still open this way"
    c.close()
    s.close()


def test_timeouts():
    c, s = pair()
    assert c.gettimeout() is None
    c.settimeout(0.2)
    assert c.gettimeout() == 0.2
    t0 = time.monotonic()
    with pytest.raises(socket.timeout):
        c.recv(10)
    assert time.monotonic() - t0 >= 0.19
    with listener() as l:
        l.settimeout(0.1)
        with pytest.raises(TimeoutError):
            l.accept()
    with pytest.raises(ValueError):
        c.settimeout(-1)
    c.settimeout(None)
    c.close()
    s.close()


def test_setdefaulttimeout_applies_to_new_sockets():
    socket.setdefaulttimeout(0.1)
    try:
        with socket.socket() as s:
            assert s.gettimeout() == 0.1
    finally:
        socket.setdefaulttimeout(None)
    assert socket.getdefaulttimeout() is None


def test_setblocking_false_raises_blocking_io_error():
    c, s = pair()
    c.setblocking(False)
    assert c.gettimeout() == 0.0 and not c.getblocking()
    with pytest.raises(BlockingIOError) as e:
        c.recv(10)
    assert e.value.errno == errno.EAGAIN
    with listener() as l:
        l.setblocking(False)
        with pytest.raises(BlockingIOError):
            l.accept()
    c.setblocking(True)
    assert c.gettimeout() is None and c.getblocking()
    c.close()
    s.close()


def test_nonblocking_connect_completes_in_the_background():
    with listener() as l:
        c = socket.socket()
        c.setblocking(False)
        r = c.connect_ex(l.getsockname())
        assert r in (0, errno.EINPROGRESS)
        from strata import select

        _, w, _ = select.select([], [c], [], 5)
        assert w == [c]
        assert c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
        s, _ = l.accept()
        c.close()
        s.close()


def test_socket_options():
    with socket.socket() as s:
        for level, opt in [
            (socket.SOL_SOCKET, socket.SO_REUSEADDR),
            (socket.SOL_SOCKET, socket.SO_KEEPALIVE),
            (socket.IPPROTO_TCP, socket.TCP_NODELAY),
        ]:
            assert s.getsockopt(level, opt) == 0
            s.setsockopt(level, opt, 1)
            assert s.getsockopt(level, opt) == 1
        assert s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) > 0
        assert s.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) > 0
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32768)
        assert s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) == 65536
        assert s.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) == 32768
        assert s.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE) == socket.SOCK_STREAM
        assert len(s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 4)) == 4
        with pytest.raises(OSError) as e:
            s.setsockopt(socket.SOL_SOCKET, 9999, 1)
        assert e.value.errno == errno.ENOPROTOOPT
    # Options set before connect act on the connection; after, at once.
    c, srv = pair()
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    assert c.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    c.close()
    srv.close()


def test_buffer_sizes_act_on_the_connection():
    # The client's receive size, set before connect, is the window its SYN
    # offers; the server's send size bounds what it may queue. A server
    # whose client does not read gets rid of only those two, not the
    # 256 KiB defaults.
    with listener() as l:
        c = socket.socket()
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.connect(l.getsockname())
        s, _ = l.accept()
    assert c.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) == 4096
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
    assert s.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) == 8192
    # Clamped to the stack's smallest buffer.
    c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1)
    assert c.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) == 2048
    data = bytes(i % 251 for i in range(100_000))
    s.setblocking(False)
    sent = 0
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        try:
            sent += s.send(data[sent:])
        except BlockingIOError:
            time.sleep(0.01)
    assert 8192 <= sent <= 8192 + 4096, sent
    # Reading drains it all, exactly.
    s.setblocking(True)
    t = threading.Thread(target=lambda: (s.sendall(data[sent:]), s.close()))
    t.start()
    got = bytearray()
    while True:
        b = c.recv(65536)
        if not b:
            break
        got += b
    t.join()
    assert bytes(got) == data
    c.close()


def test_udp_receive_buffer_drops_what_does_not_fit():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as r, socket.socket(
        socket.AF_INET, socket.SOCK_DGRAM
    ) as w:
        r.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2500)
        r.bind(("127.0.0.1", 0))
        assert r.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) == 2500
        for _ in range(5):
            w.sendto(b"x" * 1000, r.getsockname())
        r.settimeout(0.5)
        assert r.recv(2000) == b"x" * 1000
        assert r.recv(2000) == b"x" * 1000
        with pytest.raises(TimeoutError):
            r.recv(2000)


def test_connected_udp_socket_names_its_source_address():
    # As the kernel does: connect picks the source address of the route.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as srv, socket.socket(
        socket.AF_INET, socket.SOCK_DGRAM
    ) as u:
        srv.bind(("127.0.0.1", 0))
        u.connect(srv.getsockname())
        host, port = u.getsockname()
        assert host == "127.0.0.1" and port != 0
        u.send(b"who")
        data, peer = srv.recvfrom(100)
        assert data == b"who" and peer == (host, port)
        srv.sendto(b"you", peer)
        assert u.recv(100) == b"you"


def test_getsockname_getpeername():
    c, s = pair()
    assert c.getpeername() == s.getsockname()
    assert s.getpeername() == c.getsockname()
    assert c.getsockname()[0] == "127.0.0.1"
    with socket.socket() as fresh:
        with pytest.raises(OSError) as e:
            fresh.getpeername()
        assert e.value.errno == errno.ENOTCONN
        assert fresh.getsockname() == ("0.0.0.0", 0)
    c.close()
    s.close()


def test_makefile_lines_both_ways():
    c, s = pair()
    sf = s.makefile("rwb")
    cf = c.makefile("rw", encoding="utf-8", newline="\n")
    cf.write("GET / HTTP/1.0\nHost: strata\n\n")
    cf.flush()
    assert sf.readline() == b"GET / HTTP/1.0\n"
    assert sf.readline() == b"Host: strata\n"
    sf.write(b"200 OK\nbye\n")
    sf.flush()
    assert cf.readline() == "200 OK\n"
    assert cf.readline() == "bye\n"
    # The socket stays open until its files are closed too.
    c.close()
    assert cf.readable()
    cf.close()
    sf.close()
    s.close()


def test_create_server_and_create_connection():
    srv = socket.create_server(("127.0.0.1", 0))
    addr = srv.getsockname()
    assert srv.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) == 1
    c = socket.create_connection(srv.getsockname(), timeout=5)
    assert c.gettimeout() == 5
    s, _ = srv.accept()
    c.sendall(b"x")
    assert s.recv(1) == b"x"
    for x in (c, s, srv):
        x.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(addr)


def test_socketpair():
    a, b = socket.socketpair()
    a.sendall(b"ping")
    assert b.recv(4) == b"ping"
    a.close()
    b.close()


def test_udp_sendto_recvfrom_and_connect():
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b.bind(("127.0.0.1", 0))
    assert a.sendto(b"one", b.getsockname()) == 3
    data, addr = b.recvfrom(100)
    # a was bound on first use, to any address (as on Linux).
    assert a.getsockname()[0] == "0.0.0.0"
    assert data == b"one" and addr == ("127.0.0.1", a.getsockname()[1])
    b.sendto(b"two", addr)
    assert a.recv(100) == b"two"
    a.connect(b.getsockname())
    assert a.getpeername() == b.getsockname()
    a.send(b"three")
    buf = bytearray(3)
    n, addr = b.recvfrom_into(buf)
    assert (n, bytes(buf), addr[1]) == (3, b"thr", a.getsockname()[1])  # truncated, as in Linux
    b.settimeout(0.1)
    with pytest.raises(socket.timeout):
        b.recvfrom(10)
    a.close()
    b.close()


def test_udp_to_a_closed_port_is_refused():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as gone:
        gone.bind(("127.0.0.1", 0))
        addr = gone.getsockname()
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.connect(addr)
    u.send(b"anyone?")
    u.settimeout(5)
    with pytest.raises(ConnectionRefusedError):
        u.recv(10)
    u.close()


def test_threads_blocked_in_accept_and_recv_release_the_gil():
    l = listener()
    c, s = pair()
    results = {}

    def in_accept():
        conn, _ = l.accept()
        results["accept"] = conn.recv(10)
        conn.close()

    def in_recv():
        results["recv"] = s.recv(10)

    threads = [threading.Thread(target=in_accept), threading.Thread(target=in_recv)]
    for t in threads:
        t.start()
    time.sleep(0.1)
    # Both threads are blocked inside strata; this thread still runs Python.
    n, t_end = 0, time.monotonic() + 0.3
    while time.monotonic() < t_end:
        n += 1
    assert n > 100  # (were the GIL held, this thread could not run at all)
    assert all(t.is_alive() for t in threads)
    c.sendall(b"wake")
    with socket.create_connection(l.getsockname()) as k:
        k.sendall(b"hello")
        for t in threads:
            t.join(10)
    assert results == {"accept": b"hello", "recv": b"wake"}
    for x in (l, c, s):
        x.close()


def test_many_threads_echo_concurrently():
    srv = socket.create_server(("127.0.0.1", 0))
    n = 8

    def serve():
        for _ in range(n):
            conn, _ = srv.accept()
            threading.Thread(target=echo, args=(conn,)).start()

    def echo(conn):
        with conn:
            while True:
                d = conn.recv(4096)
                if not d:
                    return
                conn.sendall(d)

    threading.Thread(target=serve, daemon=True).start()
    errors = []

    def client(i):
        try:
            payload = bytes([i]) * (20_000 + i)
            with socket.create_connection(srv.getsockname(), timeout=20) as c:
                c.sendall(payload)
                c.shutdown(socket.SHUT_WR)
                back = b""
                while True:
                    d = c.recv(65536)
                    if not d:
                        break
                    back += d
            assert back == payload
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    ts = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    srv.close()
    assert errors == []


def test_getaddrinfo_and_gethostbyname():
    assert socket.gethostbyname("localhost") == "127.0.0.1"
    infos = socket.getaddrinfo("localhost", 80, type=socket.SOCK_STREAM)
    assert infos == [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("127.0.0.1", 80))]
    assert {i[1] for i in socket.getaddrinfo("10.1.2.3", "80")} == {socket.SOCK_STREAM, socket.SOCK_DGRAM}
    assert socket.getaddrinfo(None, 8080, flags=socket.AI_PASSIVE)[0][4] == ("0.0.0.0", 8080)
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("localhost", 80, socket.AF_INET6)


def test_a_signal_interrupts_a_blocked_call():
    import signal

    class Interrupted(Exception):
        pass

    def handler(signum, frame):
        raise Interrupted()

    c, s = pair()
    old = signal.signal(signal.SIGALRM, handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        t0 = time.monotonic()
        with pytest.raises(Interrupted):
            s.recv(10)  # blocks with no timeout: only the signal ends it
        assert time.monotonic() - t0 < 5
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    c.close()
    s.close()
