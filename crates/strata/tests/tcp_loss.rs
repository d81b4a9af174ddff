//! Loss recovery with SACK (issue #14): RFC 6675 repairs several losses in
//! one window without a timeout, and a tail loss probe (RFC 8985 §7)
//! repairs a lost final segment without a timeout. Every byte is checked.

mod tcp_pipe;

use std::cell::RefCell;
use std::rc::Rc;
use strata::time::{Duration, Instant};
use strata::transport::tcp::TcpConfig;
use tcp_pipe::{Net, A, B};

fn byte(i: usize) -> u8 {
    (i.wrapping_mul(2_654_435_761) >> 13) as u8
}

struct Outcome {
    /// From the write to the last byte read and acknowledged.
    elapsed: Duration,
    rto_expired: u64,
    fast_retransmits: u64,
    retransmits: u64,
    tlp_probes: u64,
    tlp_recoveries: u64,
    /// When each dropped segment was first sent and when SND.UNA passed
    /// the last of them.
    first_drop_at: Option<Instant>,
    repaired_at: Option<Instant>,
}

/// A sends `total` bytes in one write over a 40 ms RTT; the first
/// transmission of each data segment starting at an offset in `drop` is
/// lost.
fn transfer(total: usize, drop: &[usize]) -> Outcome {
    let cfg = TcpConfig {
        nodelay: true,
        ..TcpConfig::default()
    };
    let mut net = Net::new(cfg.clone(), cfg, 3);
    net.latency = Duration::from_millis(20);
    let (ca, cb) = net.connect_pair();
    let iss = net.hosts[A].info(ca).unwrap().iss;
    let targets: Vec<u32> = drop
        .iter()
        .map(|&o| iss.wrapping_add(1).wrapping_add(o as u32))
        .collect();
    let seen = Rc::new(RefCell::new(Vec::<u32>::new()));
    let first_drop = Rc::new(RefCell::new(None::<Instant>));
    let (s2, f2) = (seen.clone(), first_drop.clone());
    let clock = Rc::new(RefCell::new(net.now));
    let c2 = clock.clone();
    net.filter = Some(Box::new(move |from, seg| {
        if from != A || seg.payload.is_empty() || !targets.contains(&seg.seq) {
            return false;
        }
        let mut s = s2.borrow_mut();
        if s.contains(&seg.seq) {
            return false; // the retransmission gets through
        }
        s.push(seg.seq);
        f2.borrow_mut().get_or_insert(*c2.borrow());
        true
    }));
    let data: Vec<u8> = (0..total).map(byte).collect();
    let start = net.now;
    let mut sent = 0;
    let mut got = 0;
    let mut buf = vec![0u8; 1 << 16];
    let last_drop = iss
        .wrapping_add(1)
        .wrapping_add(*drop.iter().max().unwrap() as u32);
    let mut repaired_at = None;
    // Until every byte is read and A has seen the ACK of the last loss.
    while got < total || repaired_at.is_none() {
        assert!(
            net.now < start + Duration::from_secs(30),
            "stalled at {got}"
        );
        if sent < total {
            sent += net.hosts[A].send(ca, &data[sent..]).unwrap_or(0);
        }
        *clock.borrow_mut() = net.now;
        let until = net.now + Duration::from_millis(1);
        net.run_until(until);
        let una = net.hosts[A].info(ca).unwrap().snd_una;
        if repaired_at.is_none() && una.wrapping_sub(last_drop) as i32 > 0 {
            repaired_at = Some(net.now);
        }
        loop {
            let n = net.hosts[B].recv(cb, &mut buf).unwrap_or(0);
            if n == 0 {
                break;
            }
            assert_eq!(&buf[..n], &data[got..got + n], "bytes at {got}");
            got += n;
        }
    }
    assert_eq!(
        seen.borrow().len(),
        drop.len(),
        "every planned loss happened"
    );
    let st = net.hosts[A].stats();
    let first_drop_at = *first_drop.borrow();
    Outcome {
        elapsed: net.now - start,
        rto_expired: st.rto_expired,
        fast_retransmits: st.fast_retransmits,
        retransmits: st.retransmits,
        tlp_probes: st.tlp_probes,
        tlp_recoveries: st.tlp_recoveries,
        first_drop_at,
        repaired_at,
    }
}

const MSS: usize = 1460 - 12; // timestamps on

#[test]
fn three_losses_in_one_window_are_repaired_without_timeout_within_two_round_trips() {
    // 100 segments; slow start with ABC (RFC 3465, L = 2: each delayed ACK
    // of two segments opens two) sends rounds of 10, 20, 40 segments, so
    // the third round holds segments 30..69 and 45, 50 and 55 are lost
    // from one window.
    let total = 100 * MSS;
    let o = transfer(total, &[45 * MSS, 50 * MSS, 55 * MSS]);
    let rtt = Duration::from_millis(40);
    let repair = o.repaired_at.unwrap() - o.first_drop_at.unwrap();
    println!(
        "3 losses: {total} bytes in {:?}; repaired {:?} after the first loss (reference: RTT {:?}, \
         loss detection takes one RTT, repair at most one more); {} retransmissions, {} fast, {} RTOs",
        o.elapsed, repair, rtt, o.retransmits, o.fast_retransmits, o.rto_expired
    );
    assert_eq!(o.rto_expired, 0);
    assert_eq!(o.retransmits, 3, "each lost segment is resent once");
    assert_eq!(o.fast_retransmits, 1, "one recovery episode");
    // The losses are seen one RTT after the first was sent; all three
    // retransmissions go out at once and are acknowledged one RTT later.
    assert!(repair <= 2 * rtt + Duration::from_millis(2), "{repair:?}");
}

#[test]
fn a_lost_final_segment_is_repaired_by_a_tail_loss_probe_without_timeout() {
    // 30 segments and a short last one; the last is lost. No later
    // segment exists to produce duplicate ACKs: only a probe or the RTO
    // can repair it.
    let total = 30 * MSS + 500;
    let o = transfer(total, &[30 * MSS]);
    println!(
        "tail loss: {total} bytes in {:?} (RTT 40 ms, PTO about 2 RTT, min RTO 200 ms); \
         {} probes, {} repaired by a probe, {} RTOs",
        o.elapsed, o.tlp_probes, o.tlp_recoveries, o.rto_expired
    );
    assert_eq!(o.rto_expired, 0, "no timeout");
    assert_eq!(o.tlp_probes, 1);
    assert_eq!(o.tlp_recoveries, 1);
    assert_eq!(o.retransmits, 1);
}

#[test]
fn a_lone_lost_segment_is_probed_at_the_rto_time_not_timed_out() {
    // One short segment written when nothing is in flight (a request of a
    // request-response exchange), lost. Its PTO, 2·SRTT + WCDelAckT (RFC
    // 8985 §7.2, one segment in flight) = 280 ms, is later than the RTO
    // (200 ms): the probe is then scheduled at the RTO's expiry and goes
    // out in its place, so the window is reduced once (§7.4.2) instead of
    // collapsing to one segment. The RTO timer must be running when the
    // PTO is computed, or the uncapped PTO loses the race to it.
    let o = transfer(500, &[0]);
    println!(
        "lone segment lost: 500 bytes in {:?} (reference: RTT 40 ms, min RTO 200 ms, \
         PTO 2·SRTT + 200 ms capped at the RTO); {} probes, {} repaired by a probe, {} RTOs, \
         {} retransmissions",
        o.elapsed, o.tlp_probes, o.tlp_recoveries, o.rto_expired, o.retransmits
    );
    assert_eq!(o.rto_expired, 0, "the probe goes out in the RTO's place");
    assert_eq!(o.tlp_probes, 1);
    assert_eq!(o.tlp_recoveries, 1);
    assert_eq!(o.retransmits, 1);
}
