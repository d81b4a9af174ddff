"""strata.Lab: hosts with their own sockets on a simulated network."""

import hashlib
import os
import threading

import pytest

import strata


def transfer(lab, size, seed=0):
    """Sends `size` bytes from 10.0.0.2 to 10.0.0.1 and returns them back
    from the server's side."""
    server = lab.host("10.0.0.1")
    client = lab.host("10.0.0.2")
    srv = server.socket()
    srv.bind(("0.0.0.0", 5000))
    srv.listen(1)
    data = os.urandom(size) if seed == 0 else bytes((i * seed) & 0xFF for i in range(size))
    got = {}

    def serve():
        conn, addr = srv.accept()
        got["peer"] = addr
        buf = bytearray()
        while True:
            d = conn.recv(65536)
            if not d:
                break
            buf += d
        got["data"] = bytes(buf)
        conn.sendall(hashlib.sha256(buf).digest())
        conn.close()

    t = threading.Thread(target=serve)
    t.start()
    c = client.socket()
    c.settimeout(60)
    c.connect(("10.0.0.1", 5000))
    c.sendall(data)
    c.shutdown(strata.socket.SHUT_WR)
    digest = c.recv(32)
    c.close()
    t.join(60)
    srv.close()
    return data, got, digest, client


def test_transfer_stays_exact_over_a_lossy_link():
    with strata.Lab(rtt="10ms", loss=0.05, seed=7) as lab:
        data, got, digest, client = transfer(lab, 300_000)
        assert got["peer"][0] == "10.0.0.2"
        assert got["data"] == data
        assert digest == hashlib.sha256(data).digest()
        stats = lab.stats()
        assert stats["dropped_loss"] > 0, stats
        assert client.stats()["tcp_retransmits"] > 0


def test_reordering_duplication_and_corruption_are_survived():
    with strata.Lab(rtt="4ms", reorder=0.05, duplicate=0.05, corrupt=0.02, seed=3) as lab:
        data, got, digest, _ = transfer(lab, 200_000, seed=13)
        assert got["data"] == data
        s = lab.stats()
        assert s["reordered"] > 0 and s["duplicated"] > 0 and s["corrupted"] > 0, s


def test_rate_and_mtu_shape_the_link():
    with strata.Lab(rate="20mbit", rtt="2ms", mtu=576) as lab:
        data, got, _, _ = transfer(lab, 100_000, seed=5)
        assert got["data"] == data
        assert lab.stats()["dropped_oversize"] == 0


def test_hosts_have_their_own_socket_namespaces():
    with strata.Lab() as lab:
        a, b = lab.host("10.0.0.1"), lab.host("10.0.0.2")
        sa, sb = a.socket(), b.socket()
        # The same port on two hosts: no conflict.
        sa.bind(("0.0.0.0", 80))
        sb.bind(("0.0.0.0", 80))
        sa.listen(1)
        sb.listen(1)
        # Each host's loopback is its own.
        c = a.create_connection(("127.0.0.1", 80), timeout=5)
        conn, addr = sa.accept()
        assert addr[0] == "127.0.0.1"
        c2 = b.create_connection(("10.0.0.1", 80), timeout=5)
        conn2, addr2 = sa.accept()
        assert addr2[0] == "10.0.0.2"
        for x in (c, conn, c2, conn2, sa, sb):
            x.close()
        assert lab.host("10.0.0.1") is a
        assert [h.address for h in lab.hosts] == ["10.0.0.1", "10.0.0.2"]


def test_pcap_and_ladder(tmp_path):
    path = tmp_path / "run.pcap"
    with strata.Lab(rtt="2ms") as lab:
        lab.pcap(path)
        server, client = lab.host("10.0.0.1"), lab.host("10.0.0.2")
        srv = server.create_server(("0.0.0.0", 7))
        c = client.create_connection(("10.0.0.1", 7), timeout=5)
        conn, _ = srv.accept()
        c.sendall(b"hello")
        assert conn.recv(5) == b"hello"
        c.close()
        assert conn.recv(5) == b""
        conn.close()
        srv.close()
        text = lab.ladder()
    data = path.read_bytes()
    assert data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1")
    lines = text.splitlines()
    assert "10.0.0.1" in lines[0] and "10.0.0.2" in lines[0]
    syn = [l for l in lines if " SYN " in l and "ACK" not in l]
    synack = [l for l in lines if "SYN,ACK" in l]
    assert syn and synack, text
    assert syn[0].rstrip().endswith("|") and ">" not in syn[0].split("SYN")[0]  # right to left: .2 -> .1
    assert any("len=5" in l for l in lines)
    assert any("FIN" in l for l in lines)


def test_closed_lab_fails_cleanly():
    lab = strata.Lab()
    h = lab.host("10.0.0.1")
    s = h.socket()
    lab.close()
    with pytest.raises(OSError):
        s.bind(("0.0.0.0", 1))
    s.close()
    with pytest.raises(RuntimeError):
        lab.host("10.0.0.3")


def test_bad_options_are_refused():
    with pytest.raises(ValueError):
        strata.Lab(loss=1.5)
    with pytest.raises(ValueError):
        strata.Lab(rate="fast")
