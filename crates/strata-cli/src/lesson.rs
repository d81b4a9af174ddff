//! The lesson told by the stack (`strata demo --narrate`): a short line
//! beside each phase of a run saying what it is for, with the run's own
//! numbers.
//!
//! Two parts:
//! - [`narrate`] walks a finished ladder (frames, state changes, notes) and
//!   picks out the moments worth a word, as [`Msg`] values carrying this
//!   run's numbers;
//! - the message catalogue ([`Msg::text`]) turns each into a sentence. Every
//!   sentence of the narration lives in this catalogue, one function per
//!   language, so a translation touches nothing else. English first; Chinese
//!   (`--lang zh`), the language the lesson was written in.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use clap::ValueEnum;
use strata::time::{Duration, Instant};
use strata::wire::port::{self, PortRange};

use crate::ladder::{Entry, Ladder, Side};

/// The language of the narration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Lang {
    /// English.
    #[default]
    En,
    /// Chinese (中文).
    Zh,
}

/// Who did something, as the narration names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// The left host.
    Client,
    /// The right host.
    Server,
    /// Another host on the link, by its address (a router).
    Host(Ipv4Addr),
}

impl Who {
    fn of(side: Side) -> Who {
        match side {
            Side::Left => Who::Client,
            Side::Right => Who::Server,
        }
    }
    fn other(self) -> Who {
        match self {
            Who::Client => Who::Server,
            Who::Server | Who::Host(_) => Who::Client,
        }
    }
    fn name(self, lang: Lang) -> String {
        match (lang, self) {
            (Lang::En, Who::Client) => "the client".into(),
            (Lang::En, Who::Server) => "the server".into(),
            (Lang::En, Who::Host(ip)) => format!("the host {ip}"),
            (Lang::Zh, Who::Client) => "客户端".into(),
            (Lang::Zh, Who::Server) => "服务器".into(),
            (Lang::Zh, Who::Host(ip)) => format!("主机 {ip} "),
        }
    }
    fn cap(self, lang: Lang) -> String {
        let n = self.name(lang);
        let mut c = n.chars();
        match c.next() {
            Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
            None => String::new(),
        }
    }
}

/// One thing the narration says, with this run's numbers.
#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    /// Gratuitous ARP when an address comes up.
    Announce,
    /// An ARP request: who has `target`?
    WhoHas {
        /// Who asks.
        asker: Who,
        /// The address asked for.
        target: Ipv4Addr,
    },
    /// The same ARP request again: no answer came in time.
    WhoHasAgain {
        /// Who asks.
        asker: Who,
        /// The address asked for.
        target: Ipv4Addr,
        /// Requests so far.
        tries: u32,
        /// Time since the previous request.
        waited: Duration,
        /// What this run's capture says about the silence.
        why: ArpSilence,
    },
    /// A unicast ARP request to a cached neighbour: TCP retransmitted
    /// without progress and asked the link layer to re-confirm it (RFC
    /// 1122 §4.2.3.5 negative advice to the link layer).
    Reconfirm {
        /// Who asks.
        asker: Who,
        /// The neighbour asked.
        target: Ipv4Addr,
    },
    /// The ARP reply.
    IsAt {
        /// Who answers.
        who: Who,
        /// Its address.
        ip: Ipv4Addr,
        /// Its MAC.
        mac: String,
        /// Time from the request.
        took: Duration,
    },
    /// Well-known versus ephemeral ports, at the first SYN.
    Ports {
        /// The client's (ephemeral) port.
        client: u16,
        /// The server's port.
        server: u16,
    },
    /// Step 1 of the handshake.
    Syn {
        /// The sender's initial sequence number.
        isn: u32,
    },
    /// A SYN sent again.
    SynAgain {
        /// Time since the previous try.
        gap: Duration,
        /// Time until the next try, if this one fails too.
        next: Duration,
        /// Tries so far, this one included.
        tries: u32,
    },
    /// A SYN from an address that does not exist.
    SpoofedSyn {
        /// The forged source.
        from: Ipv4Addr,
    },
    /// Step 2 of the handshake.
    SynAck {
        /// The server's initial sequence number.
        isn: u32,
    },
    /// A SYN/ACK sent again: the ACK of step 3 has not come.
    SynAckAgain {
        /// Time since the previous try.
        gap: Duration,
        /// Time until the next try, if this one fails too.
        next: Duration,
    },
    /// Step 3 of the handshake.
    HandshakeDone {
        /// From the client's SYN to this ACK.
        rtt: Duration,
        /// The ACK rides on data.
        with_data: bool,
    },
    /// New data sent.
    Data {
        /// The sender.
        who: Who,
        /// Bytes.
        len: u32,
        /// First byte's relative sequence number.
        first: u32,
        /// Last byte's relative sequence number.
        last: u32,
        /// Bytes the sender now holds unacknowledged.
        holding: u32,
    },
    /// Data that arrives after its receiver sent FIN (half-close).
    DataAfterFin {
        /// The sender.
        who: Who,
        /// Bytes.
        len: u32,
    },
    /// A pure ACK that acknowledges new data.
    Acked {
        /// The acknowledging side.
        who: Who,
        /// The acknowledgment number.
        ack: u32,
        /// Bytes the other side still holds unacknowledged.
        holding: u32,
    },
    /// A frame the wire dropped.
    Lost {
        /// The sender.
        who: Who,
    },
    /// A retransmission on timeout.
    Retransmit {
        /// The sender.
        who: Who,
        /// Relative sequence number.
        seq: u32,
        /// Bytes.
        len: u32,
        /// Time since the previous try.
        gap: Duration,
        /// Time until the next try, if this one fails too.
        next: Duration,
        /// Retransmissions of this segment so far.
        n: u32,
    },
    /// A tail loss probe (RFC 8985 §7): the last segment sent again once,
    /// at the latest when its retransmission timer would have fired.
    Probe {
        /// The sender.
        who: Who,
        /// Relative sequence number.
        seq: u32,
        /// Time since it was sent.
        gap: Duration,
    },
    /// A retransmission triggered by duplicate ACKs.
    FastRetransmit {
        /// The sender.
        who: Who,
        /// Relative sequence number.
        seq: u32,
        /// Duplicate ACKs seen.
        dupacks: u32,
    },
    /// The first FIN of the connection.
    FinFirst {
        /// The side that closes first.
        who: Who,
    },
    /// The second FIN.
    FinSecond {
        /// The side that closes second.
        who: Who,
    },
    /// The ACK of a FIN.
    FinAcked {
        /// The acknowledging side.
        who: Who,
    },
    /// Entered CLOSE-WAIT.
    CloseWait {
        /// The side.
        who: Who,
    },
    /// Entered CLOSING (simultaneous close).
    Closing {
        /// The side.
        who: Who,
    },
    /// Entered TIME-WAIT.
    TimeWait {
        /// The side.
        who: Who,
        /// 2×MSL.
        wait: Duration,
        /// When it ends.
        until: Instant,
    },
    /// TIME-WAIT over.
    TimeWaitOver {
        /// The side.
        who: Who,
    },
    /// Closed from LAST-ACK: no wait.
    ClosedNoWait {
        /// The side.
        who: Who,
    },
    /// The application shut down its sending side.
    HalfClose {
        /// The side.
        who: Who,
    },
    /// A reset.
    Rst {
        /// The sender.
        who: Who,
    },
    /// The first UDP datagram.
    Udp,
    /// The first ICMP echo request.
    PingRequest,
    /// The first ICMP echo reply.
    PingReply {
        /// Round trip.
        rtt: Duration,
    },
    /// A half-open entry joined the server's SYN queue.
    HalfOpen {
        /// Entries now.
        n: usize,
        /// Queue size.
        backlog: usize,
    },
    /// The legitimate SYN meets a full queue.
    SynDropped {
        /// Queue size.
        backlog: usize,
    },
    /// The server's link was cut.
    LinkCut,
    /// A side gave up: the connection timed out.
    GaveUp {
        /// The side.
        who: Who,
        /// Retransmissions before giving up.
        retries: u32,
        /// Time since the first transmission.
        since: Duration,
    },
}

/// A duration for a sentence: `109 µs`, `200 ms`, `1.4 s`, `60 s`.
pub fn dur(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns < 1_000_000 {
        format!("{} µs", (ns + 500) / 1000)
    } else if ns < 1_000_000_000 {
        let ms = ns as f64 / 1e6;
        if ms >= 10.0 || (ms - ms.round()).abs() < 0.05 {
            format!("{} ms", ms.round())
        } else {
            format!("{ms:.1} ms")
        }
    } else {
        let s = ns as f64 / 1e9;
        if (s - s.round()).abs() < 0.0005 {
            format!("{} s", s.round())
        } else {
            format!("{s:.3} s")
        }
    }
}

fn range_en(r: PortRange) -> &'static str {
    match r {
        PortRange::WellKnown => "well-known (0–1023)",
        PortRange::Registered => "registered (1024–49151)",
        PortRange::Dynamic => "dynamic (49152–65535)",
    }
}

fn range_zh(r: PortRange) -> &'static str {
    match r {
        PortRange::WellKnown => "知名端口（0–1023）",
        PortRange::Registered => "注册端口（1024–49151）",
        PortRange::Dynamic => "动态端口（49152–65535）",
    }
}

impl Msg {
    /// The sentence in `lang`.
    pub fn text(&self, lang: Lang) -> String {
        match lang {
            Lang::En => self.en(),
            Lang::Zh => self.zh(),
        }
    }

    /// The English catalogue.
    fn en(&self) -> String {
        let l = Lang::En;
        match self {
            Msg::Announce => "gratuitous ARP: as its address comes up, each host tells the whole \
                link \"this IP is at my MAC\", so stale caches are corrected at once"
                .into(),
            Msg::WhoHas { asker, target } => format!(
                "ARP: {} knows the IP {target} but Ethernet delivers by MAC address, and a MAC \
                 only means something on the local link: so it asks everyone \
                 (broadcast ff:ff:ff:ff:ff:ff) \"who has {target}?\"",
                asker.name(l)
            ),
            Msg::WhoHasAgain {
                asker,
                target,
                tries,
                waited,
                why,
            } => format!(
                "ARP try {tries}: no answer for {target} came within {}, so {} asks again — {}",
                dur(*waited),
                asker.name(l),
                match why {
                    ArpSilence::RequestLost =>
                        "the last request was lost on the way, so no \
                         host could answer it",
                    ArpSilence::ReplyLost => "an answer was sent, but it was lost on the way back",
                    ArpSilence::Unknown =>
                        "a frame may have been lost, or no host on this link \
                         has that address; only an answer would tell",
                }
            ),
            Msg::Reconfirm { asker, target } => format!(
                "ARP re-confirm: {}'s TCP has retransmitted without an answer, so it asks \
                 {target} directly (unicast) whether it is still there; until it answers, the \
                 cached MAC is in doubt (RFC 1122 negative advice)",
                asker.name(l)
            ),
            Msg::IsAt { who, ip, mac, took } => format!(
                "{} answers only the asker (unicast): {ip} is at {mac}; the answer is cached, \
                 and every frame to {ip} now carries that MAC ({} after the question)",
                who.cap(l),
                dur(*took)
            ),
            Msg::Ports { client, server } => {
                let svc = port::service(*server)
                    .map(|s| format!(", {}", s.name))
                    .unwrap_or_default();
                format!(
                    "ports: the server listens on {server}, a {} port{svc}; the client's port \
                     {client} is {} — an ephemeral port the OS picked for this one connection. \
                     The four numbers {}:{client} ↔ {}:{server} name the connection",
                    range_en(PortRange::of(*server)),
                    range_en(PortRange::of(*client)),
                    crate::demo::CLIENT_IP,
                    crate::demo::SERVER_IP,
                )
            }
            Msg::Syn { isn } => format!(
                "handshake 1/3, SYN: \"I want to talk; my sequence numbers start at {isn}\" \
                 (the initial sequence number, shown as 0 here; the SYN takes that number and \
                 data starts at 1. Chosen at random, so old segments cannot be mistaken for \
                 new ones)"
            ),
            Msg::SynAgain { gap, next, tries } => format!(
                "no SYN/ACK after {}: the SYN is sent again (try {tries}); the wait doubles \
                 each time, so the next try comes {} later",
                dur(*gap),
                dur(*next)
            ),
            Msg::SpoofedSyn { from } => format!(
                "a SYN with a forged source, {from}: the attacker never sees the answer and \
                 never completes the handshake"
            ),
            Msg::SynAck { isn } => format!(
                "handshake 2/3, SYN/ACK: the server acknowledges the client's SYN (ack=1: \
                 \"I got your number 0, send 1 next\") and sends its own SYN, starting at \
                 {isn}. The client now knows the path works both ways"
            ),
            Msg::SynAckAgain { gap, next } => format!(
                "no ACK for the SYN/ACK after {}: the server sends it again, and waits twice as \
                 long ({}) before the next try",
                dur(*gap),
                dur(*next)
            ),
            Msg::HandshakeDone { rtt, with_data } => format!(
                "handshake 3/3, ACK{}: now the server too knows its segments arrive. Three, not \
                 two: each side must send its number and see it acknowledged, and the middle \
                 segment does both at once. One round trip: {}",
                if *with_data {
                    " (riding on the first data)"
                } else {
                    ""
                },
                dur(*rtt)
            ),
            Msg::Data {
                who,
                len,
                first,
                last,
                holding,
            } => format!(
                "{} sends {len} bytes (bytes {first}–{last}) and keeps a copy until they are \
                 acknowledged: it now holds {holding} unacknowledged bytes",
                who.cap(l)
            ),
            Msg::DataAfterFin { who, len } => format!(
                "{} sends {len} more bytes although {} has already sent its FIN: a FIN closes \
                 one direction only (half-close), the other keeps flowing",
                who.cap(l),
                who.other().name(l)
            ),
            Msg::Acked { who, ack, holding } => format!(
                "ack={ack}: {} has every byte before {ack}; {} may drop its copy and now \
                 holds {holding} unacknowledged bytes",
                who.name(l),
                who.other().name(l)
            ),
            Msg::Lost { who } => format!(
                "lost on the wire: {} cannot see this; only a missing ACK will tell it",
                who.name(l)
            ),
            Msg::Retransmit {
                who,
                seq,
                len,
                gap,
                next,
                n,
            } => format!(
                "retransmission {n}: no ACK for seq={seq} within {} (the retransmission \
                 timeout), so {} sends the same {len} bytes again; the timeout doubles, so the \
                 next try comes {} later if this one fails too",
                dur(*gap),
                who.name(l),
                dur(*next)
            ),
            Msg::Probe { who, seq, gap } => format!(
                "tail loss probe: no ACK for seq={seq} within {}, and no later segment exists \
                 to bring duplicate ACKs, so {} sends its last segment once more to ask for news \
                 (RFC 8985), in place of the timeout; the timer starts again, and only if the \
                 probe goes unanswered too does the timeout come, {} later",
                dur(*gap),
                who.name(l),
                dur(*gap)
            ),
            Msg::FastRetransmit { who, seq, dupacks } => format!(
                "fast retransmission: {dupacks} duplicate ACKs say a segment is missing, so {} \
                 resends seq={seq} at once instead of waiting for its timer",
                who.name(l)
            ),
            Msg::FinFirst { who } => format!(
                "FIN from {}: \"I have nothing more to send\". It starts the close (the active \
                 close) and waits in FIN-WAIT for the other side",
                who.name(l)
            ),
            Msg::FinSecond { who } => {
                format!("FIN from {}: now it too has finished sending", who.name(l))
            }
            Msg::FinAcked { who } => format!(
                "{} acknowledges the FIN (the FIN counts as one byte, so the ACK is one more)",
                who.cap(l)
            ),
            Msg::CloseWait { who } => format!(
                "CLOSE-WAIT: {} will send nothing more, but {} may still send; it closes when \
                 its application calls close()",
                who.other().name(l),
                who.name(l)
            ),
            Msg::Closing { who } => format!(
                "CLOSING: {} got the other side's FIN before the ACK of its own — both closed \
                 at once (simultaneous close); each now waits for the ACK of its FIN",
                who.name(l)
            ),
            Msg::TimeWait { who, wait, until } => format!(
                "TIME-WAIT: {} closed first, so it waits 2×MSL = {} (until {until}): long \
                 enough to resend the last ACK if it was lost, and for stray segments of this \
                 connection to die out before the same ports can be used again",
                who.name(l),
                dur(*wait)
            ),
            Msg::TimeWaitOver { who } => {
                format!("2×MSL later {} forgets the connection: CLOSED", who.name(l))
            }
            Msg::ClosedNoWait { who } => format!(
                "{} closed second: once its FIN is acknowledged it is CLOSED at once, no \
                 TIME-WAIT",
                who.cap(l)
            ),
            Msg::HalfClose { who } => format!(
                "shutdown(): {} has sent everything and says so with a FIN, but keeps reading — \
                 the answer can still come back (half-close)",
                who.name(l)
            ),
            Msg::Rst { who } => format!(
                "RST from {}: the connection is aborted, no goodbye",
                who.name(l)
            ),
            Msg::Udp => "UDP: no handshake, no ACK, no retransmission — the datagram just goes; \
                if it is lost, nobody knows and nobody resends it"
                .into(),
            Msg::PingRequest => "ICMP echo request: \"are you there?\" — ICMP rides directly in \
                IPv4, with no ports and no connection"
                .into(),
            Msg::PingReply { rtt } => format!("ICMP echo reply: the round trip took {}", dur(*rtt)),
            Msg::HalfOpen { n, backlog } => format!(
                "the server keeps a half-open entry (SYN-RECEIVED) and answers into the void: \
                 {n} of {backlog} places in its SYN queue are taken"
            ),
            Msg::SynDropped { backlog } => format!(
                "the SYN queue is full ({backlog} of {backlog} half-open): the server drops the \
                 client's SYN without a word (no SYN cookies here), and the client can only \
                 wait and retry"
            ),
            Msg::LinkCut => "the server's cable is cut: from now on its frames vanish; \
                nothing tells the client"
                .into(),
            Msg::GaveUp {
                who,
                retries,
                since,
            } => format!(
                "{} gives up after {retries} retransmissions over {}: it presumes the peer \
                 dead, aborts the connection and reports \"timed out\" to its application",
                who.cap(l),
                dur(*since)
            ),
        }
    }

    /// The Chinese catalogue (中文).
    fn zh(&self) -> String {
        let l = Lang::Zh;
        match self {
            Msg::Announce => {
                "免费 ARP：地址一启用，每台主机就向整个链路宣告“这个 IP 在我的 MAC 上”，\
                 旧的缓存立刻得到更正"
                    .into()
            }
            Msg::WhoHas { asker, target } => format!(
                "ARP：{}知道 IP {target}，但以太网按 MAC 地址投递，而 MAC 只在本地链路上有意义：\
                 所以它向所有人广播（ff:ff:ff:ff:ff:ff）“谁有 {target}？”",
                asker.name(l)
            ),
            Msg::WhoHasAgain {
                asker,
                target,
                tries,
                waited,
                why,
            } => format!(
                "ARP 第 {tries} 次：{} 内没有收到 {target} 的回答，{}再问一次——{}",
                dur(*waited),
                asker.name(l),
                match why {
                    ArpSilence::RequestLost => "上一个请求在路上丢失了，所以没有主机能回答它",
                    ArpSilence::ReplyLost => "回答已经发出，但在回来的路上丢失了",
                    ArpSilence::Unknown => {
                        "可能有帧丢失了，也可能这条链路上没有主机拥有这个地址；只有回答才能说明"
                    }
                }
            ),
            Msg::Reconfirm { asker, target } => format!(
                "ARP 重新确认：{}的 TCP 重传后仍没有回应，于是直接（单播）询问 {target} 是否还在；\
                 在它回答之前，缓存的 MAC 地址不再可信（RFC 1122 的“负面建议”）",
                asker.name(l)
            ),
            Msg::IsAt { who, ip, mac, took } => format!(
                "{}只回答提问者（单播）：{ip} 在 {mac}；答案被缓存，之后发往 {ip} 的每一帧都带上这个 \
                 MAC（提问后 {}）",
                who.name(l),
                dur(*took)
            ),
            Msg::Ports { client, server } => {
                let svc = port::service(*server)
                    .map(|s| format!("，{}", s.name))
                    .unwrap_or_default();
                format!(
                    "端口：服务器监听 {server}，属于{}{svc}；客户端的端口 {client} 属于{}——\
                     操作系统为这一个连接临时挑选的端口。四个数 {}:{client} ↔ {}:{server} \
                     确定这个连接",
                    range_zh(PortRange::of(*server)),
                    range_zh(PortRange::of(*client)),
                    crate::demo::CLIENT_IP,
                    crate::demo::SERVER_IP,
                )
            }
            Msg::Syn { isn } => format!(
                "三次握手 1/3，SYN：“我想通信，我的序号从 {isn} 开始”（初始序列号，这里显示为 0；\
                 SYN 占用这个序号，数据从 1 开始。随机选取，旧的报文段就不会被误认为新的）"
            ),
            Msg::SynAgain { gap, next, tries } => format!(
                "{} 后仍没有 SYN/ACK：再发一次 SYN（第 {tries} 次）；每次等待时间加倍，\
                 下一次在 {} 后",
                dur(*gap),
                dur(*next)
            ),
            Msg::SpoofedSyn { from } => format!(
                "一个源地址伪造的 SYN，{from}：攻击者永远看不到回答，也永远不会完成握手"
            ),
            Msg::SynAck { isn } => format!(
                "三次握手 2/3，SYN/ACK：服务器确认客户端的 SYN（ack=1：“收到你的序号 0，下一个发 1”），\
                 并发送自己的 SYN，从 {isn} 开始。客户端现在知道双向的路径都通了"
            ),
            Msg::SynAckAgain { gap, next } => format!(
                "{} 后仍没有对 SYN/ACK 的确认：服务器再发一次，下一次等待加倍（{}）",
                dur(*gap),
                dur(*next)
            ),
            Msg::HandshakeDone { rtt, with_data } => format!(
                "三次握手 3/3，ACK{}：现在服务器也知道自己的报文段能到达。为什么是三次而不是两次：\
                 双方都要发出自己的序号并看到它被确认，中间那个报文段同时做了两件事。一个往返：{}",
                if *with_data {
                    "（搭载在第一批数据上）"
                } else {
                    ""
                },
                dur(*rtt)
            ),
            Msg::Data {
                who,
                len,
                first,
                last,
                holding,
            } => format!(
                "{}发送 {len} 字节（第 {first}–{last} 字节），并保留副本直到被确认：\
                 现在持有 {holding} 个未确认字节",
                who.name(l)
            ),
            Msg::DataAfterFin { who, len } => format!(
                "{}又发送了 {len} 字节，尽管{}已经发了 FIN：FIN 只关闭一个方向（半关闭），\
                 另一个方向照常流动",
                who.name(l),
                who.other().name(l)
            ),
            Msg::Acked { who, ack, holding } => format!(
                "ack={ack}：{}已收到 {ack} 之前的每个字节；{}可以丢掉副本，现在持有 {holding} \
                 个未确认字节",
                who.name(l),
                who.other().name(l)
            ),
            Msg::Lost { who } => format!(
                "在线路上丢失：{}看不到这一点，只有迟迟不来的 ACK 会告诉它",
                who.name(l)
            ),
            Msg::Retransmit {
                who,
                seq,
                len,
                gap,
                next,
                n,
            } => format!(
                "第 {n} 次重传：seq={seq} 在 {}（重传超时）内没有得到 ACK，{}把同样的 {len} \
                 字节再发一次；超时时间加倍，若这次也失败，下一次在 {} 后",
                dur(*gap),
                who.name(l),
                dur(*next)
            ),
            Msg::Probe { who, seq, gap } => format!(
                "尾部丢失探测：seq={seq} 在 {} 内没有得到 ACK，后面也没有报文段能引出重复 ACK，\
                 于是{}把最后一个报文段再发一次探询消息（RFC 8985），代替超时重传；计时器重新开始，\
                 只有探测也没有回应，{} 后才是超时",
                dur(*gap),
                who.name(l),
                dur(*gap)
            ),
            Msg::FastRetransmit { who, seq, dupacks } => format!(
                "快速重传：{dupacks} 个重复 ACK 说明有报文段丢了，{}立刻重发 seq={seq}，\
                 不等计时器",
                who.name(l)
            ),
            Msg::FinFirst { who } => format!(
                "{}发出 FIN：“我没有更多要发的了”。它发起关闭（主动关闭），在 FIN-WAIT 中等待对方",
                who.name(l)
            ),
            Msg::FinSecond { who } => format!("{}发出 FIN：现在它也发送完毕", who.name(l)),
            Msg::FinAcked { who } => format!(
                "{}确认 FIN（FIN 占一个序号，所以 ack 多加一）",
                who.name(l)
            ),
            Msg::CloseWait { who } => format!(
                "CLOSE-WAIT：{}不会再发送了，但{}仍然可以发送；等它的应用调用 close() 时才关闭",
                who.other().name(l),
                who.name(l)
            ),
            Msg::Closing { who } => format!(
                "CLOSING：{}在自己的 FIN 被确认之前收到了对方的 FIN——双方同时关闭；\
                 现在各自等待自己 FIN 的 ACK",
                who.name(l)
            ),
            Msg::TimeWait { who, wait, until } => format!(
                "TIME-WAIT：{}先关闭，所以要等 2×MSL = {}（到 {until}）：足够在最后的 ACK \
                 丢失时重发它，也让这个连接迷途的报文段在同样的端口被重用之前消失",
                who.name(l),
                dur(*wait)
            ),
            Msg::TimeWaitOver { who } => {
                format!("2×MSL 之后，{}忘掉这个连接：CLOSED", who.name(l))
            }
            Msg::ClosedNoWait { who } => format!(
                "{}后关闭：它的 FIN 一被确认就立即 CLOSED，不用 TIME-WAIT",
                who.name(l)
            ),
            Msg::HalfClose { who } => format!(
                "shutdown()：{}已发完所有数据，用 FIN 说明这一点，但继续读取——回答仍然可以传回来（半关闭）",
                who.name(l)
            ),
            Msg::Rst { who } => format!("{}发出 RST：连接被中止，没有告别", who.name(l)),
            Msg::Udp => "UDP：没有握手，没有 ACK，没有重传——数据报发出去就算了；\
                丢了也没人知道，没人重发"
                .into(),
            Msg::PingRequest => {
                "ICMP 回显请求：“你在吗？”——ICMP 直接装在 IPv4 里，没有端口，没有连接".into()
            }
            Msg::PingReply { rtt } => format!("ICMP 回显应答：往返用了 {}", dur(*rtt)),
            Msg::HalfOpen { n, backlog } => format!(
                "服务器保留一个半开连接（SYN-RECEIVED），向虚无作答：SYN 队列的 {backlog} \
                 个位置已占 {n} 个"
            ),
            Msg::SynDropped { backlog } => format!(
                "SYN 队列已满（{backlog}/{backlog} 个半开连接）：服务器一声不响地丢弃客户端的 SYN\
                 （这里没有 SYN cookie），客户端只能等待重试"
            ),
            Msg::LinkCut => "服务器的网线被剪断：从此它的帧都消失了；没有任何东西告诉客户端".into(),
            Msg::GaveUp {
                who,
                retries,
                since,
            } => format!(
                "{}在 {} 内重传 {retries} 次后放弃：认定对方已死，中止连接，并向应用报告“超时”",
                who.name(l),
                dur(*since)
            ),
        }
    }
}

/// What the narration needs to know beyond the ladder.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Maximum segment lifetime of the stacks (TIME-WAIT lasts 2×MSL).
    pub msl: Duration,
    /// Upper bound of the retransmission timeout.
    pub rto_max: Duration,
    /// The server's SYN queue size, when the scenario is about it (flood).
    pub syn_backlog: Option<usize>,
    /// When the server's link was cut (dead-peer).
    pub cut_at: Option<Instant>,
    /// When a side's connection timed out.
    pub timed_out: Vec<(Instant, Side)>,
}

/// The transmissions of one segment.
#[derive(Clone, Copy)]
struct Sent {
    first: Instant,
    last: Instant,
    tries: u32,
}

/// Per direction of a TCP connection.
#[derive(Default)]
struct Flow {
    /// Highest data sequence number sent + 1 (relative).
    data_hi: u32,
    /// Highest acknowledgment the other side sent for this flow.
    acked: u32,
    /// Relative sequence number of our FIN, once sent.
    fin: Option<u32>,
    /// Per relative sequence number sent: first and last time, and how
    /// often.
    sent: HashMap<u32, Sent>,
    /// The last pure ACK number this flow carried, and how often in a row.
    last_ack: Option<(u32, u32)>,
    /// Most retransmissions of one segment.
    max_retries: u32,
    /// Its SYN offered SACK (RFC 2018): with SACK on both sides a sender
    /// probes a lost tail before its timeout (RFC 8985 §7.2).
    sack_permitted: bool,
}

type Key = (Ipv4Addr, u16, Ipv4Addr, u16);

/// Why an ARP request went unanswered, as far as the capture tells: a
/// request or an answer lost on the way, or nothing seen at all (then the
/// address may have no owner on this link, or a frame was lost out of
/// sight of the capture).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArpSilence {
    /// The previous request was lost on the way.
    RequestLost,
    /// An answer was sent and lost on the way back.
    ReplyLost,
    /// Nothing in the capture explains it.
    Unknown,
}

/// The lesson's lines for a finished run, as ladder entries to add.
pub fn narrate(ladder: &Ladder, facts: &Facts, lang: Lang) -> Vec<Entry> {
    let mut out: Vec<(Instant, Msg)> = Vec::new();
    let client_ip = ladder.parties[0].ip;
    let mut flows: HashMap<Key, Flow> = HashMap::new();
    let mut announced = false;
    let mut arp_asked: HashMap<Ipv4Addr, Instant> = HashMap::new();
    // Per target, since its last answer: the last request (time, lost on
    // the wire), whether an answer was lost since, and how many requests
    // (broadcast or unicast) went unanswered in a row.
    let mut arp_last: HashMap<Ipv4Addr, (Instant, bool, bool, u32)> = HashMap::new();
    let mut fins = 0u32;
    let mut ports_told = false;
    let mut syn_at: Option<Instant> = None;
    let mut handshake_done = false;
    let mut udp_told = false;
    let mut ping_at: Option<Instant> = None;
    let mut pong_told = false;
    let mut half_open = 0usize;
    if let Some(t) = facts.cut_at {
        out.push((t, Msg::LinkCut));
    }
    for row in ladder.rows() {
        match row.entry {
            Entry::Frame { t, from, lost, .. } => {
                let t = *t;
                let who = Who::of(*from);
                let Some(d) = row.decoded.as_ref() else {
                    continue;
                };
                let label = d.label.as_str();
                if label.starts_with("ARP announce") {
                    if !announced {
                        announced = true;
                        out.push((t, Msg::Announce));
                    }
                    continue;
                }
                if let Some(rest) = label.strip_prefix("ARP who-has ") {
                    let target = rest
                        .split('?')
                        .next()
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(Ipv4Addr::UNSPECIFIED);
                    let unanswered = arp_last.get(&target).map_or(0, |e| e.3);
                    let prev = arp_last.insert(target, (t, *lost, false, unanswered + 1));
                    if !d.eth.contains("→ff:ff:ff:ff:ff:ff") {
                        // A unicast request re-confirms a cached neighbour.
                        out.push((t, Msg::Reconfirm { asker: who, target }));
                        continue;
                    }
                    arp_asked.entry(target).or_insert(t);
                    if unanswered == 0 {
                        out.push((t, Msg::WhoHas { asker: who, target }));
                    } else {
                        let (at, req_lost, reply_lost, _) = prev.unwrap_or((t, false, false, 0));
                        let why = if req_lost {
                            ArpSilence::RequestLost
                        } else if reply_lost {
                            ArpSilence::ReplyLost
                        } else {
                            ArpSilence::Unknown
                        };
                        out.push((
                            t,
                            Msg::WhoHasAgain {
                                asker: who,
                                target,
                                tries: unanswered + 1,
                                waited: t - at,
                                why,
                            },
                        ));
                    }
                    continue;
                }
                if let Some(rest) = label.strip_prefix("ARP ") {
                    if let Some((ip, mac)) = rest.split_once(" is-at ") {
                        if let Ok(ip) = ip.parse::<Ipv4Addr>() {
                            let who = if ladder.parties.iter().any(|p| p.ip == ip) {
                                who
                            } else {
                                Who::Host(ip)
                            };
                            let took = arp_asked.get(&ip).map_or(Duration::ZERO, |a| t - *a);
                            if let Some(e) = arp_last.get_mut(&ip) {
                                if *lost {
                                    e.2 = true;
                                } else {
                                    // Answered: the next request starts anew.
                                    e.3 = 0;
                                }
                            }
                            out.push((
                                t,
                                Msg::IsAt {
                                    who,
                                    ip,
                                    mac: mac.to_string(),
                                    took,
                                },
                            ));
                        }
                    }
                    continue;
                }
                if label.starts_with("UDP") && !udp_told {
                    udp_told = true;
                    out.push((t, Msg::Udp));
                    continue;
                }
                if label.contains("Echo request") && ping_at.is_none() {
                    ping_at = Some(t);
                    out.push((t, Msg::PingRequest));
                    continue;
                }
                if label.contains("Echo reply") && !pong_told {
                    pong_told = true;
                    let rtt = ping_at.map_or(Duration::ZERO, |p| t - p);
                    out.push((t, Msg::PingReply { rtt }));
                    continue;
                }
                let Some(tcp) = d.tcp.as_ref() else {
                    continue;
                };
                let key = (tcp.src_ip, tcp.src_port, tcp.dst_ip, tcp.dst_port);
                let rev = (tcp.dst_ip, tcp.dst_port, tcp.src_ip, tcp.src_port);
                let seq = tcp.rel_seq.unwrap_or(0);
                let ack = tcp.rel_ack.unwrap_or(0);
                let f = tcp.flags;
                let spoofed = *from == Side::Left && tcp.src_ip != client_ip;
                if f.rst() {
                    out.push((t, Msg::Rst { who }));
                    continue;
                }
                // Duplicate ACKs seen by the other side before this send.
                let dupacks = flows
                    .get(&rev)
                    .and_then(|r| r.last_ack)
                    .map_or(0, |(_, n)| n.saturating_sub(1));
                let rev_sack = flows.get(&rev).is_some_and(|r| r.sack_permitted);
                let flow = flows.entry(key).or_default();
                if f.syn() {
                    flow.sack_permitted = tcp.options.sack_permitted;
                }
                let sack = flow.sack_permitted && rev_sack;
                let space = tcp.len + u32::from(f.syn()) + u32::from(f.fin());
                let previous = flow.sent.get(&seq).map(|p| (p.last, p.tries));
                if space > 0 {
                    let e = flow.sent.entry(seq).or_insert(Sent {
                        first: t,
                        last: t,
                        tries: 0,
                    });
                    e.last = t;
                    e.tries += 1;
                }
                if f.syn() && !f.ack() {
                    if spoofed {
                        out.push((t, Msg::SpoofedSyn { from: tcp.src_ip }));
                        continue;
                    }
                    match previous {
                        None => {
                            syn_at = Some(t);
                            if !ports_told {
                                ports_told = true;
                                out.push((
                                    t,
                                    Msg::Ports {
                                        client: tcp.src_port,
                                        server: tcp.dst_port,
                                    },
                                ));
                            }
                            out.push((t, Msg::Syn { isn: tcp.seq }));
                        }
                        Some((prev, tries)) => {
                            syn_at = Some(t);
                            let gap = t - prev;
                            flow.max_retries = flow.max_retries.max(tries);
                            out.push((
                                t,
                                Msg::SynAgain {
                                    gap,
                                    next: (gap + gap).min(facts.rto_max),
                                    tries: tries + 1,
                                },
                            ));
                        }
                    }
                    if let Some(b) = facts.syn_backlog {
                        if half_open >= b {
                            out.push((t, Msg::SynDropped { backlog: b }));
                        }
                    }
                    continue;
                }
                if f.syn() {
                    match previous {
                        None if tcp.dst_ip == client_ip => {
                            out.push((t, Msg::SynAck { isn: tcp.seq }));
                        }
                        Some((prev, _)) if tcp.dst_ip == client_ip => {
                            let gap = t - prev;
                            out.push((
                                t,
                                Msg::SynAckAgain {
                                    gap,
                                    next: (gap + gap).min(facts.rto_max),
                                },
                            ));
                        }
                        _ => {}
                    }
                    continue;
                }
                if *from == Side::Left && !handshake_done && tcp.src_ip == client_ip && f.ack() {
                    handshake_done = true;
                    let rtt = syn_at.map_or(Duration::ZERO, |s| t - s);
                    out.push((
                        t,
                        Msg::HandshakeDone {
                            rtt,
                            with_data: tcp.len > 0,
                        },
                    ));
                }
                // What this segment acknowledges of the other direction.
                let peer_fin_acked = flows
                    .get(&rev)
                    .and_then(|r| r.fin)
                    .is_some_and(|pf| ack > pf);
                let mut acked_new = false;
                let mut fin_newly_acked = false;
                if let Some(r) = flows.get_mut(&rev) {
                    if ack > r.acked {
                        acked_new = ack > 1 && r.data_hi > r.acked.max(1);
                        fin_newly_acked = peer_fin_acked && r.fin.is_some_and(|pf| r.acked <= pf);
                        r.acked = ack;
                    }
                }
                if acked_new && !fin_newly_acked {
                    let holding = flows.get(&rev).map_or(0, |r| r.data_hi.saturating_sub(ack));
                    out.push((t, Msg::Acked { who, ack, holding }));
                }
                let flow = flows.entry(key).or_default();
                if tcp.len == 0 && !f.fin() {
                    flow.last_ack = match flow.last_ack {
                        Some((a, n)) if a == ack => Some((a, n + 1)),
                        _ => Some((ack, 1)),
                    };
                } else {
                    flow.last_ack = None;
                }
                if tcp.len > 0 {
                    let first = seq;
                    let last = seq + tcp.len - 1;
                    if let Some((prev, tries)) = previous {
                        flow.max_retries = flow.max_retries.max(tries);
                        if dupacks > 0 {
                            out.push((t, Msg::FastRetransmit { who, seq, dupacks }));
                        } else if sack && tries == 1 && last + 1 == flow.data_hi {
                            // The first resend of the last segment sent,
                            // with SACK: strata's timer-driven first try
                            // there is the tail loss probe (RFC 8985 §7.2).
                            out.push((
                                t,
                                Msg::Probe {
                                    who,
                                    seq,
                                    gap: t - prev,
                                },
                            ));
                        } else {
                            let gap = t - prev;
                            out.push((
                                t,
                                Msg::Retransmit {
                                    who,
                                    seq,
                                    len: tcp.len,
                                    gap,
                                    next: (gap + gap).min(facts.rto_max),
                                    n: tries,
                                },
                            ));
                        }
                    } else {
                        flow.data_hi = flow.data_hi.max(last + 1);
                        let holding = flow.data_hi.saturating_sub(flow.acked.max(1));
                        let peer_closed = flows.get(&rev).is_some_and(|r| r.fin.is_some());
                        if peer_closed {
                            out.push((t, Msg::DataAfterFin { who, len: tcp.len }));
                        } else {
                            out.push((
                                t,
                                Msg::Data {
                                    who,
                                    len: tcp.len,
                                    first,
                                    last,
                                    holding,
                                },
                            ));
                        }
                        if *lost {
                            out.push((t, Msg::Lost { who }));
                        }
                    }
                }
                if f.fin() && previous.is_none_or(|_| tcp.len > 0) {
                    let flow = flows.entry(key).or_default();
                    if flow.fin.is_none() {
                        flow.fin = Some(seq + tcp.len);
                        fins += 1;
                        out.push((
                            t,
                            if fins == 1 {
                                Msg::FinFirst { who }
                            } else {
                                Msg::FinSecond { who }
                            },
                        ));
                    }
                } else if f.fin() && tcp.len == 0 {
                    if let Some((prev, tries)) = previous {
                        let gap = t - prev;
                        out.push((
                            t,
                            Msg::Retransmit {
                                who,
                                seq,
                                len: 0,
                                gap,
                                next: (gap + gap).min(facts.rto_max),
                                n: tries,
                            },
                        ));
                    }
                }
                if fin_newly_acked {
                    out.push((t, Msg::FinAcked { who }));
                }
            }
            Entry::State {
                t, side, from, to, ..
            } => {
                let who = Who::of(*side);
                let t = *t;
                if let Some(b) = facts.syn_backlog {
                    if *side == Side::Right && to == "SYN-RECEIVED" {
                        half_open += 1;
                        out.push((
                            t,
                            Msg::HalfOpen {
                                n: half_open,
                                backlog: b,
                            },
                        ));
                    } else if *side == Side::Right && from == "SYN-RECEIVED" {
                        half_open = half_open.saturating_sub(1);
                    }
                }
                let timed_out = facts.timed_out.iter().any(|(at, s)| *at == t && s == side);
                match (from.as_str(), to.as_str()) {
                    (_, "CLOSED") if timed_out => {
                        let flow = flows
                            .iter()
                            .filter(|(k, _)| {
                                (k.0 == client_ip) == (*side == Side::Left) && k.0 != k.2
                            })
                            .map(|(_, f)| f)
                            .max_by_key(|f| f.max_retries);
                        // The segment sent most often is the one the
                        // side waited on in vain.
                        let (retries, since) = flow
                            .and_then(|f| f.sent.values().max_by_key(|s| (s.tries, s.first)))
                            .map_or((0, Duration::ZERO), |s| {
                                (s.tries.saturating_sub(1), t - s.first.min(t))
                            });
                        out.push((
                            t,
                            Msg::GaveUp {
                                who,
                                retries,
                                since,
                            },
                        ));
                    }
                    (_, "CLOSE-WAIT") => out.push((t, Msg::CloseWait { who })),
                    (_, "CLOSING") => out.push((t, Msg::Closing { who })),
                    (_, "TIME-WAIT") => {
                        let wait = facts.msl + facts.msl;
                        out.push((
                            t,
                            Msg::TimeWait {
                                who,
                                wait,
                                until: t + wait,
                            },
                        ));
                    }
                    ("TIME-WAIT", "CLOSED") => out.push((t, Msg::TimeWaitOver { who })),
                    ("LAST-ACK", "CLOSED") => out.push((t, Msg::ClosedNoWait { who })),
                    _ => {}
                }
            }
            Entry::Note { t, side, text } => {
                if text.starts_with("app: shutdown") {
                    if let Some(s) = side {
                        out.push((*t, Msg::HalfClose { who: Who::of(*s) }));
                    }
                }
            }
            Entry::Lesson { .. } => {}
        }
    }
    out.into_iter()
        .map(|(t, m)| Entry::Lesson {
            t,
            text: m.text(lang),
        })
        .collect()
}
