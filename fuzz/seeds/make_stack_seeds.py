#!/usr/bin/env python3
"""Writes seed inputs for the `stack` fuzz target: frames addressed to the
fuzzed host (10.0.0.1, MAC 02:00:00:00:00:01), each with the target's
2-byte length prefix. Checksums are fixed by the target itself."""
import os, struct
here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "stack")
me, peer = bytes.fromhex("020000000001"), bytes.fromhex("0200000000aa")
def eth(dst, t, payload): return dst + peer + struct.pack("!H", t) + payload
def ip(proto, payload, dst=bytes([10,0,0,1]), ident=1, frag=0x4000, src=bytes([10,0,0,9]), opts=b""):
    return struct.pack("!BBHHHBBH4s4s", 0x45 + len(opts)//4, 0, 20+len(opts)+len(payload), ident, frag, 64, proto, 0, src, dst) + opts + payload
def rec(frame, iface=0): return struct.pack("!H", len(frame) | (0x8000 if iface else 0)) + frame
arp = eth(b"\xff"*6, 0x0806, struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + peer + bytes([10,0,0,9]) + b"\0"*6 + bytes([10,0,0,1]))
ping = eth(me, 0x0800, ip(1, struct.pack("!BBHHH", 8, 0, 0, 0x77, 1) + b"abcdefgh"))
dns = eth(me, 0x0800, ip(17, struct.pack("!HHHH", 40000, 53, 8+4, 1) + b"\x12\x34\x01\x00"))
closed = eth(me, 0x0800, ip(17, struct.pack("!HHHH", 40000, 9, 8+4, 1) + b"ping"))
fwd = eth(me, 0x0800, ip(17, struct.pack("!HHHH", 40000, 53, 8+1000, 1) + b"x"*1000, dst=bytes([10,0,1,7])))
frag1 = eth(me, 0x0800, ip(17, struct.pack("!HHHH", 40000, 53, 8+24, 1) + b"y"*16, ident=9, frag=0x2000))
frag2 = eth(me, 0x0800, ip(17, b"z"*8, ident=9, frag=3))
syn = eth(me, 0x0800, ip(6, struct.pack("!HHIIBBHHH", 40000, 80, 1, 0, 0x50, 0x02, 1000, 0, 0)))
# Issue 23's hostile shapes. Fragments from many spoofed sources: empty last
# fragments, overlapping pairs, lone middle fragments, oversized (ping of
# death), a 60-byte first header with 20-byte later ones.
def spoof(i): return bytes([10,128,i >> 8, i & 0xff])
def frag(src, ident, off8, mf, data, opts=b""):
    return eth(me, 0x0800, ip(17, data, ident=ident, frag=(0x2000 if mf else 0) | off8, src=src, opts=opts))
empty_last = [frag(spoof(i), i, 1, False, b"") for i in range(40)]
overlapping = [f for i in range(20) for f in (frag(spoof(i), 7, 0, True, b"a"*16), frag(spoof(i), 7, 1, True, b"b"*16))]
never = [frag(spoof(i), 9, 1 + 97*i, True, b"n"*24) for i in range(40)]
oversized = [frag(spoof(1), 3, 0, True, b"o"*32), frag(spoof(1), 3, 8191, False, b"p"*16)]
nop_opts = b"\x01"*40
long_first = [frag(bytes([10,0,0,9]), 4, 0, True, struct.pack("!HHHH", 40000, 53, 8+1992, 0) + b"l"*1000, opts=nop_opts),
              frag(bytes([10,0,0,9]), 4, 126, False, b"m"*992)]
# Martian and reflector sources: loopback, this-network, class E, our own
# address (LAND), the other interface's directed broadcast, multicast.
martian_src = [eth(me, 0x0800, ip(1, struct.pack("!BBHHH", 8, 0, 0, 0x77, 1) + b"abcdefgh", src=bytes(a)))
               for a in ([127,0,0,1], [0,1,2,3], [240,0,0,9], [10,0,0,1], [10,0,1,255], [224,0,0,1], [255,255,255,255])]
martian_udp = [eth(me, 0x0800, ip(17, struct.pack("!HHHH", 5353, 9, 8+4, 0) + b"mart", src=bytes(a)))
               for a in ([127,0,0,1], [0,9,9,9], [250,1,1,1], [10,0,0,1], [10,0,1,255])]
martian_fwd = [eth(me, 0x0800, ip(17, struct.pack("!HHHH", 1, 2, 8+1, 0) + b"f", src=bytes([10,0,0,9]), dst=bytes(d)))
               for d in ([127,0,0,1], [0,0,0,7], [240,1,2,3], [239,1,1,1], [10,0,1,255])]
lsrr = bytes([131, 7, 4, 10, 0, 1, 9, 0])
source_route = [eth(me, 0x0800, ip(1, struct.pack("!BBHHH", 8, 0, 0, 0x78, 1) + b"route", src=bytes([10,0,0,9]), opts=lsrr)),
                eth(me, 0x0800, ip(17, struct.pack("!HHHH", 1, 2, 8+1, 0) + b"s", dst=bytes([10,0,1,7]), opts=bytes([137, 7, 4, 10, 0, 1, 9, 0])))]
# ARP from off-link senders naming us as target, and a MAC change for a
# known neighbour right after it was learned.
def arp_from(mac, sender, target=bytes([10,0,0,1])):
    return eth(b"\xff"*6, 0x0806, struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + sender + b"\0"*6 + target)
arp_off_link = [arp_from(bytes([2,9,0,0,0,i]), bytes([192,168,7,i])) for i in range(30)]
arp_flip = [arp, arp_from(bytes.fromhex("020606060606"), bytes([10,0,0,9]))]
seeds = {"arp": [arp], "ping": [arp, ping], "udp": [arp, dns, closed], "forward": [arp, fwd],
         "frags": [frag1, frag2], "syn": [arp, syn],
         "frag_empty_last": empty_last, "frag_overlapping": overlapping, "frag_never_completed": never,
         "frag_oversized": oversized, "frag_long_first_header": long_first,
         "martian_sources": [arp] + martian_src + martian_udp, "martian_forward": [arp] + martian_fwd,
         "source_route": [arp] + source_route, "arp_off_link": arp_off_link, "arp_flip": arp_flip}
os.makedirs(here, exist_ok=True)
for name, frames in seeds.items():
    with open(os.path.join(here, name), "wb") as f:
        f.write(b"".join(rec(x) for x in frames))
