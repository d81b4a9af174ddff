//! The urgent pointer (RFC 9293 §3.8.5, RFC 6093).
//!
//! Urgent data travels inline, in sequence with the rest of the stream
//! (RFC 6093 §4: applications must not rely on an "out-of-band" byte).
//! What the urgent mechanism adds is a mark: the sequence number of the
//! octet that follows the urgent data (MUST-62). The sender moves SND.UP to
//! the end of what the application wrote as urgent and sets URG with the
//! pointer on every segment that starts before it; the receiver keeps
//! RCV.UP, tells the application when it appears or advances (MUST-32), and
//! answers how much of the stream, from the read position, is urgent
//! (MUST-33). Both are sequence numbers, so urgent data of any length is
//! supported (MUST-31). The state is boxed: few connections ever use it.

use super::connection::{Conn, Ctx};
use super::seq::SeqNumber;
use super::TcpEvent;
use crate::wire::tcp::TcpFlags;

/// Urgent-pointer state of one connection.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Urgent {
    /// SND.UP: the octet after the last urgent octet we send, while not
    /// yet acknowledged.
    pub snd_up: Option<SeqNumber>,
    /// RCV.UP: the octet after the last urgent octet the peer marked.
    pub rcv_up: Option<SeqNumber>,
}

impl Conn {
    /// SEND with the URGENT flag (RFC 9293 §3.10.2): queue `data` and move
    /// SND.UP to just past it (MUST-30, MUST-62). Returns the bytes taken;
    /// when only part fits, the mark goes after that part.
    pub fn send_urgent(
        &mut self,
        data: &[u8],
        grow: usize,
        pool: &mut super::buffer::BufPool,
    ) -> Result<usize, super::TcpError> {
        let n = self.send(data, grow, pool)?;
        // RFC 9293 §3.8.5 MUST-62: the pointer names the octet following
        // the urgent data; data_end is the sequence number after the last
        // byte queued, i.e. after the urgent data just written.
        let up = self.data_end();
        let u = &mut self.rare.get_or_insert_with(Box::default).urgent;
        u.snd_up = Some(match u.snd_up {
            Some(old) if old > up => old,
            _ => up,
        });
        // Urgent data goes out without waiting for Nagle or the sender's
        // SWS avoidance (RFC 9293 §3.8.5: "as quickly as possible").
        self.force_send = true;
        Ok(n)
    }

    /// The URG flag and urgent field for a segment starting at `seq`: set
    /// while SND.UP is ahead of it (RFC 9293 §3.8.5 MUST-30). The field is
    /// an offset from SEG.SEQ; one beyond 65 535 octets is sent as 65 535
    /// and later segments carry the rest of the way (MUST-31).
    pub fn urgent_field(&mut self, seq: SeqNumber, flags: TcpFlags) -> (TcpFlags, u16) {
        let snd_una = self.snd_una;
        let Some(u) = self.rare.as_deref_mut().map(|r| &mut r.urgent) else {
            return (flags, 0);
        };
        let Some(up) = u.snd_up else {
            return (flags, 0);
        };
        if up <= snd_una {
            // All urgent data acknowledged: urgent mode ends.
            u.snd_up = None;
            return (flags, 0);
        }
        if !flags.ack() || flags.syn() || flags.rst() || up <= seq {
            return (flags, 0);
        }
        let off = up.since(seq).min(usize::from(u16::MAX)) as u16;
        (flags | TcpFlags::URG, off)
    }

    /// RFC 9293 §3.10.7.4 sixth step: a segment with URG in ESTABLISHED,
    /// FIN-WAIT-1 or FIN-WAIT-2 moves RCV.UP to max(RCV.UP, SEG.SEQ +
    /// SEG.UP); when that puts urgent data ahead of the reader, new or
    /// further than before, the application is told (MUST-32). Called for
    /// segments taken under the zero-window allowance too (MUST-66).
    pub fn on_urgent(&mut self, ctx: &mut Ctx<'_>, seq: SeqNumber, urgent: u16) {
        use super::State;
        if !matches!(
            self.state,
            State::Established | State::FinWait1 | State::FinWait2
        ) {
            return;
        }
        let up = seq + usize::from(urgent);
        let read = self.read_seq();
        if up <= read {
            // Robust to a pointer into data already read (RFC 9293 §3.8.5).
            return;
        }
        let u = &mut self.rare.get_or_insert_with(Box::default).urgent;
        // An old mark already read past is gone (urgent_read cleared it);
        // otherwise only a pointer further on is news.
        if u.rcv_up.is_some_and(|old| old >= up) {
            return;
        }
        u.rcv_up = Some(up);
        ctx.events.push_back(TcpEvent::Urgent(self.handle));
    }

    /// How many octets, from the application's read position, are urgent
    /// (RFC 9293 §3.8.5 MUST-33): `Some(n)` while the mark is ahead of the
    /// reader (it may lie beyond what has arrived), `None` otherwise.
    pub fn urgent_pending(&self) -> Option<usize> {
        let up = self.rare.as_deref()?.urgent.rcv_up?;
        let read = self.read_seq();
        (up > read).then(|| up.since(read))
    }

    /// The application read data: once it is past RCV.UP urgent mode
    /// ends and the mark is forgotten, so that it cannot alias a sequence
    /// number 2^31 octets later.
    pub fn urgent_read(&mut self) {
        let read = self.read_seq();
        if let Some(u) = self.rare.as_deref_mut().map(|r| &mut r.urgent) {
            if u.rcv_up.is_some_and(|up| up <= read) {
                u.rcv_up = None;
            }
        }
    }

    /// The sequence number of the next octet the application will read.
    fn read_seq(&self) -> SeqNumber {
        let fin = usize::from(self.peer_fin);
        SeqNumber((self.rcv_nxt.0).wrapping_sub((self.rx.len() + fin) as u32))
    }
}
