#!/usr/bin/env python3
"""Writes seed inputs for the `nat` fuzz target: a first byte choosing the
filtering (0: address-dependent, 1: endpoint-independent), then frames,
each with the target's 2-byte prefix (bit 15: from the outside interface,
bit 14: ten minutes pass after it, bits 0-10: length). The router is
10.0.0.1 (MAC 02:00:00:00:00:01) inside and 10.0.1.1 (02:00:00:00:01:01)
outside; the inside host is 10.0.0.9, the outside server 10.0.1.7.
Checksums are fixed by the target itself."""
import os, struct
here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nat")
r_in, r_out = bytes.fromhex("020000000001"), bytes.fromhex("020000000101")
host_mac, srv_mac = bytes.fromhex("0200000000aa"), bytes.fromhex("0200000001bb")
host, srv, ext = bytes([10,0,0,9]), bytes([10,0,1,7]), bytes([10,0,1,1])
def eth(dst, src, t, payload): return dst + src + struct.pack("!H", t) + payload
def ip(proto, payload, src, dst, ident=1, frag=0x4000, ttl=64):
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20+len(payload), ident, frag, ttl, proto, 0, src, dst) + payload
def rec(frame, outside=False, pause=False):
    return struct.pack("!H", len(frame) | (0x8000 if outside else 0) | (0x4000 if pause else 0)) + frame
def arp_who(mac, sender, target):
    return eth(b"\xff"*6, mac, 0x0806, struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + sender + b"\0"*6 + target)
def udp(sp, dp, data): return struct.pack("!HHHH", sp, dp, 8+len(data), 1) + data
def tcp(sp, dp, seq, ack, flags): return struct.pack("!HHIIBBHHH", sp, dp, seq, ack, 0x50, flags, 65535, 0, 0)
def icmp_echo(t, ident, seq): return struct.pack("!BBHHH", t, 0, 0, ident, seq) + b"abcdefgh"
# The neighbours make themselves known (the router learns from requests naming it).
hello = [rec(arp_who(host_mac, host, bytes([10,0,0,1]))), rec(arp_who(srv_mac, srv, ext), outside=True)]
def out_(payload, proto): return rec(eth(r_in, host_mac, 0x0800, ip(proto, payload, host, srv)))
def in_(payload, proto, src=srv, pause=False):
    return rec(eth(r_out, srv_mac, 0x0800, ip(proto, payload, src, ext)), outside=True, pause=pause)
seeds = {
    # UDP out, the answer back to the preserved port, then from elsewhere (filtered).
    "udp": hello + [out_(udp(40000, 53, b"q"), 17), in_(udp(53, 40000, b"a"), 17),
                     in_(udp(54, 40000, b"b"), 17), in_(udp(53, 40000, b"c"), 17, src=bytes([10,0,1,8]))],
    # A TCP handshake through the NAT, then a FIN each way.
    "tcp": hello + [out_(tcp(40001, 80, 1, 0, 0x02), 6), in_(tcp(80, 40001, 100, 2, 0x12), 6),
                     out_(tcp(40001, 80, 2, 101, 0x10), 6), out_(tcp(40001, 80, 2, 101, 0x11), 6),
                     in_(tcp(80, 40001, 101, 3, 0x11), 6)],
    # Echo out and back; an unsolicited echo request from outside.
    "icmp": hello + [out_(icmp_echo(8, 0x77, 1), 1), in_(icmp_echo(0, 0x77, 1), 1),
                      in_(icmp_echo(8, 0x99, 1), 1)],
    # An ICMP error from outside about a datagram the NAT sent: it quotes the
    # translated header, and goes back in translated (RFC 5508).
    "icmp_error": hello + [out_(udp(40002, 9, b"x"), 17),
                            in_(struct.pack("!BBHI", 3, 3, 0, 0) + ip(17, udp(40002, 9, b"x"), ext, srv)[:28], 1)],
    # A mapping that expires: ten minutes pass, then the late answer.
    "expiry": hello + [rec(eth(r_in, host_mac, 0x0800, ip(17, udp(40003, 53, b"q"), host, srv)), pause=True),
                        in_(udp(53, 40003, b"late"), 17)],
    # Fragments through the NAT (RFC 4787 REQ-14): reassembled, translated.
    "fragments": hello + [rec(eth(r_in, host_mac, 0x0800, ip(17, udp(40004, 53, b"f"*40)[:24], host, srv, ident=5, frag=0x2000))),
                           rec(eth(r_in, host_mac, 0x0800, ip(17, (b"f"*40)[16:], host, srv, ident=5, frag=3)))],
    # Hairpinning: the inside host to the router's outside address and mapped port.
    "hairpin": hello + [out_(udp(40005, 53, b"q"), 17),
                         rec(eth(r_in, host_mac, 0x0800, ip(17, udp(40006, 40005, b"h"), host, ext)))],
}
os.makedirs(here, exist_ok=True)
for name, frames in seeds.items():
    for filtering in (0, 1):
        with open(os.path.join(here, f"{name}-{'eif' if filtering else 'adf'}"), "wb") as f:
            f.write(bytes([filtering]) + b"".join(frames))
