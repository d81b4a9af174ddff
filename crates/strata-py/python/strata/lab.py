"""``strata.Lab``: a simulated network for Python programs.

    lab = strata.Lab(rtt="20ms", loss=0.05, rate="10mbit")
    server = lab.host("10.0.0.1")
    client = lab.host("10.0.0.2")
    lab.pcap("run.pcap")
    s = server.socket()            # a strata.socket.socket on that host
    ...
    print(lab.ladder())            # who sent what to whom, in time order

Each host has its own strata stack and so its own socket namespace; every
frame between hosts crosses strata-sim's links with the faults chosen here
(once per direction), in real time.
"""

import ipaddress
import re
import struct

from . import _strata

_UNITS = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}


def _rate(v):
    if isinstance(v, str):
        m = re.fullmatch(r"\s*([0-9.]+)\s*([kmg]?)(bit|bps|b)?(/s)?\s*", v.lower())
        if not m:
            raise ValueError("rate like 10mbit, 1gbit or bits per second: %r" % v)
        return int(float(m.group(1)) * _UNITS[m.group(2)])
    return int(v)


def _seconds(v):
    if isinstance(v, str):
        m = re.fullmatch(r"\s*([0-9.]+)\s*(us|ms|s)?\s*", v.lower())
        if not m:
            raise ValueError("time like 20ms or seconds: %r" % v)
        return float(m.group(1)) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, None: 1.0}[m.group(2)]
    return float(v)


class Host:
    """One host of a :class:`Lab`: its own stack, its own sockets."""

    def __init__(self, lab, net):
        self._lab = lab
        self.net = net

    @property
    def address(self):
        return self.net.address

    def socket(self, family=None, type=None, proto=0):
        """A :class:`strata.socket.socket` on this host."""
        from . import socket as s

        return s.socket(s.AF_INET if family is None else family, s.SOCK_STREAM if type is None else type, proto, _net=self.net)

    def create_connection(self, address, *args, **kw):
        from . import socket as s

        return s.create_connection(address, *args, _net=self.net, **kw)

    def create_server(self, address, **kw):
        from . import socket as s

        return s.create_server(address, _net=self.net, **kw)

    def stats(self):
        """The host stack's counters (frames, segments, retransmissions ...)."""
        return self.net.stats()

    def __repr__(self):
        return "<strata.Host %s>" % self.address


class Lab:
    """A simulated network: ``Lab(rate=0, rtt=0, loss=0, reorder=0,
    duplicate=0, corrupt=0, mtu=1500, seed=1)``.

    `rate` in bits per second or as ``"10mbit"``; `rtt` in seconds or as
    ``"20ms"``; `loss`, `reorder`, `duplicate`, `corrupt` are
    probabilities per frame and direction; `mtu` is the largest IP datagram.
    """

    def __init__(self, rate=0, rtt=0.0, loss=0.0, reorder=0.0, duplicate=0.0, corrupt=0.0, mtu=1500, seed=1, prefix=24):
        self._lab = _strata.Lab(_rate(rate), _seconds(rtt), loss, reorder, duplicate, corrupt, mtu, seed, prefix)
        self._hosts = {}
        self._pcap = None

    def host(self, address):
        """The host with this address, added on first use."""
        address = str(ipaddress.IPv4Address(address))
        if address not in self._hosts:
            self._hosts[address] = Host(self, self._lab.host(address))
        return self._hosts[address]

    @property
    def hosts(self):
        return list(self._hosts.values())

    def pcap(self, path):
        """Captures what the network delivers, from now on, into `path`."""
        self._lab.pcap(str(path))
        self._pcap = str(path)

    def stats(self):
        """The links' counters: frames sent and delivered, dropped by loss,
        duplicated, reordered, corrupted."""
        return self._lab.stats()

    def ladder(self, file=None):
        """The capture as a ladder diagram (one line per frame); printed to
        `file` if given, and returned."""
        if self._pcap is None:
            raise RuntimeError("call lab.pcap(path) before the traffic to draw its ladder")
        self._lab.flush()
        text = ladder(self._pcap, [h.address for h in self._hosts.values()])
        if file is not None:
            print(text, file=file)
        return text

    def close(self):
        """Stops the network; hosts' connections are reset."""
        self._lab.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ----- the ladder: frames of a pcap, drawn between the hosts -----


def _records(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        end = "<"
    else:
        end = ">"
        magic = struct.unpack(">I", data[:4])[0]
    div = 1e9 if magic == 0xA1B23C4D else 1e6
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(end + "IIII", data[off : off + 16])
        off += 16
        yield sec + frac / div, data[off : off + incl]
        off += incl


_FLAGS = [(0x02, "SYN"), (0x10, "ACK"), (0x08, "PSH"), (0x01, "FIN"), (0x04, "RST")]


def _describe(frame, isn):
    """(src, dst, text) for one Ethernet frame."""
    if len(frame) < 14:
        return None
    ethertype = struct.unpack("!H", frame[12:14])[0]
    p = frame[14:]
    if ethertype == 0x0806 and len(p) >= 28:
        op = struct.unpack("!H", p[6:8])[0]
        spa, tpa = ".".join(map(str, p[14:18])), ".".join(map(str, p[24:28]))
        if op == 1 and spa == tpa:
            return spa, "*", "ARP announce %s" % spa
        if op == 1:
            return spa, "*", "ARP who-has %s" % tpa
        return spa, tpa, "ARP %s is-at %s" % (spa, p[8:14].hex(":"))
    if ethertype != 0x0800 or len(p) < 20:
        return None
    ihl = (p[0] & 15) * 4
    total = struct.unpack("!H", p[2:4])[0]
    proto = p[9]
    src, dst = ".".join(map(str, p[12:16])), ".".join(map(str, p[16:20]))
    body = p[ihl:total]
    if proto == 6 and len(body) >= 20:
        sport, dport, seq, ack = struct.unpack("!HHII", body[:12])
        doff = (body[12] >> 4) * 4
        flags = body[13]
        win = struct.unpack("!H", body[14:16])[0]
        names = ",".join(n for bit, n in _FLAGS if flags & bit) or "-"
        key = (src, sport, dst, dport)
        if flags & 0x02:
            isn[key] = seq
        rseq = (seq - isn.get(key, seq)) & 0xFFFFFFFF
        back = isn.get((dst, dport, src, sport))
        text = "%s %d>%d seq=%d" % (names, sport, dport, rseq)
        if flags & 0x10:
            text += " ack=%d" % (((ack - back) & 0xFFFFFFFF) if back is not None else ack)
        text += " win=%d len=%d" % (win, len(body) - doff)
        return src, dst, text
    if proto == 17 and len(body) >= 8:
        sport, dport, ulen = struct.unpack("!HHH", body[:6])
        return src, dst, "UDP %d>%d len=%d" % (sport, dport, ulen - 8)
    if proto == 1 and body:
        kinds = {0: "echo reply", 3: "unreachable", 8: "echo request", 11: "time exceeded"}
        return src, dst, "ICMP %s" % kinds.get(body[0], "type %d" % body[0])
    return src, dst, "IP proto %d" % proto


def ladder(path, hosts=None):
    """A ladder diagram of a pcap: one line per frame, an arrow between the
    columns of its sender and receiver."""
    rows = []
    isn = {}
    seen = list(hosts or [])
    t0 = None
    for ts, frame in _records(path):
        d = _describe(frame, isn)
        if d is None:
            continue
        if t0 is None:
            t0 = ts
        for a in d[:2]:
            if a != "*" and a not in seen:
                seen.append(a)
        rows.append((ts - t0, d))
    width = 44
    col = {h: i for i, h in enumerate(seen)}
    lines = ["%10s  " % "time" + "".join(h.ljust(width) for h in seen).rstrip()]
    for t, (src, dst, text) in rows:
        a = col[src]
        b = col.get(dst, a + 1 if a + 1 < len(seen) else a - 1)
        lo, hi = min(a, b), max(a, b)
        span = max((hi - lo) * width - 1, len(text) + 6)
        label = " %s " % text
        if b > a:
            arrow = "|" + label.center(span - 2, "-") + ">"
        else:
            arrow = "<" + label.center(span - 2, "-") + "|"
        lines.append("%10.6f  %s%s" % (t, " " * (lo * width), arrow))
    return "\n".join(lines)
