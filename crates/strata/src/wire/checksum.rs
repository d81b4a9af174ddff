//! The Internet checksum (RFC 1071), its IPv4 pseudo-header (RFC 9293 §3.1,
//! RFC 768) and incremental update (RFC 1624).
//!
//! Vocabulary used here:
//! - a **sum** is the folded 16-bit one's-complement sum of 16-bit big-endian
//!   words, *not* complemented ([`sum`], [`pseudo_header`], [`combine`]);
//! - a **checksum** is the complement of a sum, as written into a header
//!   ([`checksum`], [`finish`]).
//!
//! A buffer verifies when the sum over it (checksum field included) is
//! `0xffff`.
//!
//! Speed: the one's-complement sum does not depend on byte order
//! (RFC 1071 §2(B)), so [`sum`] adds native-endian 16-bit words into a 32-bit
//! accumulator in a loop the compiler turns into SIMD lanes (deferred carries,
//! RFC 1071 §2(C)), at most 64 KiB per accumulator so no carry is lost, folds
//! once at the end and swaps bytes once if the machine is little-endian. On
//! x86-64 the same loop is also compiled for AVX2 and chosen at run time when
//! the CPU has it (about three times the SSE2 speed on a 1500-byte frame).
//! [`naive`] is the textbook byte-pair loop, kept as the reference for the
//! differential test and the benchmark.

use core::net::Ipv4Addr;

use super::ipv4::IpProtocol;

/// Bytes summed into one 32-bit accumulator: 32,768 words of at most
/// 0xffff stay below 2^32, so no carry is lost before the accumulator is
/// widened.
const PIECE: usize = 65_536;

/// The unfolded native-endian sum of `data`: 16-bit words (an odd last byte
/// is the high-order byte of a zero-padded word, RFC 1071 §4.1) added into a
/// 32-bit accumulator per [`PIECE`], the pieces into 64 bits. Written so the
/// compiler vectorises the inner loop (independent lanes, carries deferred).
#[inline(always)]
fn words(data: &[u8]) -> u64 {
    let mut total = 0u64;
    for piece in data.chunks(PIECE) {
        let mut acc = 0u32;
        let mut quads = piece.chunks_exact(4);
        for q in &mut quads {
            acc += u32::from(u16::from_ne_bytes([q[0], q[1]]));
            acc += u32::from(u16::from_ne_bytes([q[2], q[3]]));
        }
        let mut rest = quads.remainder();
        if let [a, b, tail @ ..] = rest {
            acc += u32::from(u16::from_ne_bytes([*a, *b]));
            rest = tail;
        }
        if let [last] = rest {
            acc += u32::from(u16::from_ne_bytes([*last, 0]));
        }
        total += u64::from(acc);
    }
    total
}

/// Copies `src` into `dst` (same length) and returns [`words`] of it, in
/// one pass: each 64-byte block is loaded once, stored and summed from the
/// registers. Against a copy followed by a sum this saves a second read of
/// the data, which matters once a segment outgrows the first-level cache.
#[inline(always)]
fn copy_words(dst: &mut [u8], src: &[u8]) -> u64 {
    const B: usize = 64;
    let dst = &mut dst[..src.len()];
    let mut total = 0u64;
    for (dp, sp) in dst.chunks_mut(PIECE).zip(src.chunks(PIECE)) {
        // One lane per 16-bit word of a block (four vector registers): no
        // reduction inside the loop; a lane gets one word per 64-byte
        // block, at most 1024 per piece: no overflow.
        let mut lanes = [0u32; B / 2];
        let blocks = sp.len() / B;
        let (dh, dt) = dp.split_at_mut(blocks * B);
        let (sh, st) = sp.split_at(blocks * B);
        for (d, s) in dh.chunks_exact_mut(B).zip(sh.chunks_exact(B)) {
            let mut block = [0u8; B];
            block.copy_from_slice(s);
            d.copy_from_slice(&block);
            for (lane, w) in lanes.iter_mut().zip(block.chunks_exact(2)) {
                *lane += u32::from(u16::from_ne_bytes([w[0], w[1]]));
            }
        }
        dt.copy_from_slice(st);
        // The tail starts at an even offset (a multiple of 64): no shift.
        total += lanes.iter().map(|&l| u64::from(l)).sum::<u64>() + words_short(st);
    }
    total
}

/// Below this length the SIMD set-up does not pay (headers, small segments).
const SIMD_MIN: usize = 128;

/// The unfolded sum of a short buffer (headers): native-endian 64-bit words
/// added with end-around carry (one's-complement addition modulo 2^64 − 1,
/// which 2^16 − 1 divides), no vector set-up; the value is then reduced
/// below 2^33 like [`words`]' result.
#[inline(always)]
fn words_short(data: &[u8]) -> u64 {
    let mut acc = 0u64;
    let mut eights = data.chunks_exact(8);
    for e in &mut eights {
        let w = u64::from_ne_bytes([e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7]]);
        let (s, carry) = acc.overflowing_add(w);
        acc = s + u64::from(carry);
    }
    let mut acc = (acc & 0xffff_ffff) + (acc >> 32);
    let mut rest = eights.remainder();
    if let [a, b, c, d, tail @ ..] = rest {
        acc += u64::from(u32::from_ne_bytes([*a, *b, *c, *d]));
        rest = tail;
    }
    if let [a, b, tail @ ..] = rest {
        acc += u64::from(u16::from_ne_bytes([*a, *b]));
        rest = tail;
    }
    if let [last] = rest {
        acc += u64::from(u16::from_ne_bytes([*last, 0]));
    }
    acc
}

/// The unfolded sum of `data` on the fastest path for its length and this CPU.
#[inline]
fn accumulate(data: &[u8]) -> u64 {
    if data.len() < SIMD_MIN {
        return words_short(data);
    }
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        return simd::words_avx2(data);
    }
    words(data)
}

/// The AVX2 build of [`words`], used only after run-time detection.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod simd {
    /// [`super::words`] compiled with AVX2 enabled.
    #[target_feature(enable = "avx2")]
    fn words_avx2_inner(data: &[u8]) -> u64 {
        super::words(data)
    }

    /// [`super::copy_words`] compiled with AVX2 enabled.
    #[target_feature(enable = "avx2")]
    fn copy_words_avx2_inner(dst: &mut [u8], src: &[u8]) -> u64 {
        super::copy_words(dst, src)
    }

    /// [`super::copy_words`] with AVX2 code. The caller has checked
    /// `is_x86_feature_detected!("avx2")`.
    #[inline]
    pub(super) fn copy_words_avx2(dst: &mut [u8], src: &[u8]) -> u64 {
        debug_assert!(std::is_x86_feature_detected!("avx2"));
        // SAFETY: as for `words_avx2`: the CPU has AVX2, checked by the caller.
        unsafe { copy_words_avx2_inner(dst, src) }
    }

    /// [`super::words`] with AVX2 code. The caller has checked
    /// `is_x86_feature_detected!("avx2")`.
    #[inline]
    pub(super) fn words_avx2(data: &[u8]) -> u64 {
        debug_assert!(std::is_x86_feature_detected!("avx2"));
        // SAFETY: the only requirement of a `#[target_feature]` function is
        // that the CPU supports the feature; the one caller checks it with
        // `is_x86_feature_detected!` right before. The function body is
        // ordinary safe Rust.
        unsafe { words_avx2_inner(data) }
    }
}

/// Folds a native-endian accumulator to 16 bits and converts it to a
/// big-endian-valued sum.
#[inline(always)]
fn fold_ne(acc: u64) -> u16 {
    u16::from_be(fold(acc))
}

/// Folds a wide one's-complement accumulator to 16 bits (end-around carry).
pub const fn fold(mut acc: u64) -> u16 {
    // RFC 1071 §4.1: "Fold 32-bit sum to 16 bits".
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The one's-complement sum of `data` as big-endian 16-bit words (an odd
/// last byte is padded with zero), folded, not complemented. Fast path.
pub fn sum(data: &[u8]) -> u16 {
    fold_ne(accumulate(data))
}

/// The same sum as [`sum`], computed byte pair by byte pair (RFC 1071 §4.1
/// as written). Slow; kept as the reference implementation.
pub fn naive(data: &[u8]) -> u16 {
    let mut acc: u32 = 0;
    let mut i = 0;
    while i + 1 < data.len() {
        acc += (u32::from(data[i]) << 8) | u32::from(data[i + 1]);
        acc = (acc & 0xffff) + (acc >> 16);
        i += 2;
    }
    if i < data.len() {
        acc += u32::from(data[i]) << 8;
    }
    fold(u64::from(acc))
}

/// Copies `src` into the start of `dst` and returns the [`sum`] of `src`,
/// reading each byte once.
///
/// # Panics
/// When `dst` is shorter than `src` (like `copy_from_slice`); callers check
/// buffer sizes first.
pub fn copy_and_sum(dst: &mut [u8], src: &[u8]) -> u16 {
    let dst = &mut dst[..src.len()];
    if src.len() < SIMD_MIN {
        dst.copy_from_slice(src);
        return fold_ne(words_short(dst));
    }
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        return fold_ne(simd::copy_words_avx2(dst, src));
    }
    fold_ne(copy_words(dst, src))
}

/// One's-complement addition of several sums. Every part except the last
/// must have covered an even number of bytes (else the byte pairing shifts).
pub fn combine(sums: &[u16]) -> u16 {
    let mut acc = 0u64;
    for &s in sums {
        acc += u64::from(s);
    }
    fold(acc)
}

/// The checksum to write into a header: the complement of a [`sum`].
pub const fn finish(sum: u16) -> u16 {
    !sum
}

/// The checksum of `data` (complement of its sum), e.g. for an IPv4 header
/// whose checksum field is zero.
pub fn checksum(data: &[u8]) -> u16 {
    finish(sum(data))
}

/// True when `data`, checksum field included, verifies (sums to `0xffff`).
pub fn verifies(data: &[u8]) -> bool {
    sum(data) == 0xffff
}

/// Sum of the IPv4 pseudo-header used by TCP and UDP (RFC 9293 §3.1,
/// RFC 768): source, destination, zero, protocol, and the TCP/UDP length
/// (header plus data).
pub fn pseudo_header(src: Ipv4Addr, dst: Ipv4Addr, protocol: IpProtocol, len: u32) -> u16 {
    let s = src.to_bits();
    let d = dst.to_bits();
    let acc = u64::from(s >> 16)
        + u64::from(s & 0xffff)
        + u64::from(d >> 16)
        + u64::from(d & 0xffff)
        + u64::from(protocol.0)
        + u64::from(len >> 16)
        + u64::from(len & 0xffff);
    fold(acc)
}

/// Incremental update of a header checksum when one 16-bit field changes
/// from `old` to `new` (RFC 1624 §3, eqn. 3: `HC' = ~(~HC + ~m + m')`).
///
/// Unlike eqn. 2 this never produces `0x0000` from a non-zero sum
/// (the RFC's point about `-0`).
pub const fn update(checksum: u16, old: u16, new: u16) -> u16 {
    // RFC 1624 §3, eqn. 3.
    !fold(!checksum as u64 + !old as u64 + new as u64)
}

/// Incremental update when a 32-bit field (e.g. an IPv4 address, a TCP
/// sequence number) changes: eqn. 3 applied to both halves.
pub const fn update_u32(checksum: u16, old: u32, new: u32) -> u16 {
    let c = update(checksum, (old >> 16) as u16, (new >> 16) as u16);
    update(c, old as u16, new as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3 numerical example: bytes 00 01 f2 03 f4 f5 f6 f7
        // sum to 0xddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(sum(&data), 0xddf2);
        assert_eq!(naive(&data), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn odd_length_pads_last_byte_high() {
        assert_eq!(sum(&[0x12]), 0x1200);
        assert_eq!(sum(&[0x12, 0x34, 0x56]), 0x1234 + 0x5600);
        assert_eq!(naive(&[0x12, 0x34, 0x56]), 0x1234 + 0x5600);
    }

    #[test]
    fn fast_matches_naive_every_length_and_offset() {
        // A pseudo-random buffer (LCG) so carries happen often.
        let mut x: u32 = 0x1234_5678;
        let buf: Vec<u8> = (0..600)
            .map(|_| {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (x >> 24) as u8
            })
            .collect();
        for start in 0..5 {
            for end in start..buf.len() {
                let d = &buf[start..end];
                assert_eq!(sum(d), naive(d), "start {start} end {end}");
                // The portable loop too, whatever the CPU picks for `sum`.
                assert_eq!(fold_ne(words(d)), naive(d), "start {start} end {end}");
                assert_eq!(fold_ne(words_short(d)), naive(d), "start {start} end {end}");
                let mut dst = vec![0u8; d.len() + 3];
                assert_eq!(copy_and_sum(&mut dst, d), naive(d));
                assert_eq!(&dst[..d.len()], d);
                dst.fill(0);
                assert_eq!(fold_ne(copy_words(&mut dst[..d.len()], d)), naive(d));
                assert_eq!(&dst[..d.len()], d);
            }
        }
        // Past one 64 KiB accumulator piece, the worst case for carries.
        let ones = vec![0xffu8; 200_001];
        assert_eq!(sum(&ones), naive(&ones));
        assert_eq!(fold_ne(words(&ones)), naive(&ones));
        let mut dst = vec![0u8; ones.len()];
        assert_eq!(copy_and_sum(&mut dst, &ones), naive(&ones));
        assert_eq!(fold_ne(copy_words(&mut dst, &ones)), naive(&ones));
        assert_eq!(dst, ones);
    }

    #[test]
    fn combine_equals_sum_of_concatenation() {
        let a = [0xde, 0xad, 0xbe, 0xef];
        let b = [0xff, 0xff, 0x00, 0x01, 0x80];
        let mut ab = a.to_vec();
        ab.extend_from_slice(&b);
        assert_eq!(combine(&[sum(&a), sum(&b)]), sum(&ab));
    }

    #[test]
    fn pseudo_header_matches_bytes() {
        let src = Ipv4Addr::new(192, 168, 1, 10);
        let dst = Ipv4Addr::new(8, 8, 8, 8);
        let bytes = [192, 168, 1, 10, 8, 8, 8, 8, 0, 17, 0x01, 0x23];
        assert_eq!(
            pseudo_header(src, dst, IpProtocol::UDP, 0x0123),
            naive(&bytes)
        );
    }

    #[test]
    fn incremental_update_matches_recompute() {
        // An IPv4 header (checksum field zeroed at offset 10); decrement TTL.
        let mut hdr = [
            0x45, 0x00, 0x00, 0x54, 0xa6, 0xf2, 0x40, 0x00, 0x40, 0x01, 0x00, 0x00, 0x0a, 0x00,
            0x00, 0x01, 0x0a, 0x00, 0x00, 0x02,
        ];
        let c = checksum(&hdr);
        hdr[10..12].copy_from_slice(&c.to_be_bytes());
        assert!(verifies(&hdr));
        let old = u16::from_be_bytes([hdr[8], hdr[9]]);
        hdr[8] -= 1;
        let new = u16::from_be_bytes([hdr[8], hdr[9]]);
        let c2 = update(c, old, new);
        hdr[10..12].copy_from_slice(&[0, 0]);
        assert_eq!(c2, checksum(&hdr));
        // 32-bit field change (address rewrite).
        hdr[10..12].copy_from_slice(&c2.to_be_bytes());
        let old32 = u32::from_be_bytes([hdr[12], hdr[13], hdr[14], hdr[15]]);
        let new32: u32 = 0xc0a8_0101;
        hdr[12..16].copy_from_slice(&new32.to_be_bytes());
        let c3 = update_u32(c2, old32, new32);
        hdr[10..12].copy_from_slice(&[0, 0]);
        assert_eq!(c3, checksum(&hdr));
    }
}
