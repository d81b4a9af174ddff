#!/usr/bin/env python3
"""Writes seed inputs for the `stack` fuzz target: frames addressed to the
fuzzed host (10.0.0.1, MAC 02:00:00:00:00:01), each with the target's
2-byte length prefix. Checksums are fixed by the target itself."""
import os, struct
here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "stack")
me, peer = bytes.fromhex("020000000001"), bytes.fromhex("0200000000aa")
def eth(dst, t, payload): return dst + peer + struct.pack("!H", t) + payload
def ip(proto, payload, dst=bytes([10,0,0,1]), ident=1, frag=0x4000):
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20+len(payload), ident, frag, 64, proto, 0, bytes([10,0,0,9]), dst) + payload
def rec(frame, iface=0): return struct.pack("!H", len(frame) | (0x8000 if iface else 0)) + frame
arp = eth(b"\xff"*6, 0x0806, struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + peer + bytes([10,0,0,9]) + b"\0"*6 + bytes([10,0,0,1]))
ping = eth(me, 0x0800, ip(1, struct.pack("!BBHHH", 8, 0, 0, 0x77, 1) + b"abcdefgh"))
dns = eth(me, 0x0800, ip(17, struct.pack("!HHHH", 40000, 53, 8+4, 1) + b"\x12\x34\x01\x00"))
closed = eth(me, 0x0800, ip(17, struct.pack("!HHHH", 40000, 9, 8+4, 1) + b"ping"))
fwd = eth(me, 0x0800, ip(17, struct.pack("!HHHH", 40000, 53, 8+1000, 1) + b"x"*1000, dst=bytes([10,0,1,7])))
frag1 = eth(me, 0x0800, ip(17, struct.pack("!HHHH", 40000, 53, 8+24, 1) + b"y"*16, ident=9, frag=0x2000))
frag2 = eth(me, 0x0800, ip(17, b"z"*8, ident=9, frag=3))
syn = eth(me, 0x0800, ip(6, struct.pack("!HHIIBBHHH", 40000, 80, 1, 0, 0x50, 0x02, 1000, 0, 0)))
seeds = {"arp": [arp], "ping": [arp, ping], "udp": [arp, dns, closed], "forward": [arp, fwd],
         "frags": [frag1, frag2], "syn": [arp, syn]}
os.makedirs(here, exist_ok=True)
for name, frames in seeds.items():
    with open(os.path.join(here, name), "wb") as f:
        f.write(b"".join(rec(x) for x in frames))
