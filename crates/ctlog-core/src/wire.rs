//! The compact batch format that carries events to JavaScript: one buffer
//! per batch, so a batch crosses into Node once. `src/wire.ts` reads it; the
//! two must change together (WIRE_VERSION).
//!
//! Little-endian. Batch header (32 bytes):
//!   u8 version, u8 flags (FLAG_FINAL), u16 reserved, u32 event count,
//!   u32 ENOBUFS errors seen, u32 messages that failed to decode,
//!   u64 events the kernel dropped (socket overrun),
//!   u64 deliveries the kernel could not make in reliable mode, all since
//!   the previous batch.
//! Each event:
//!   u8 type (0 new, 1 update, 2 destroy), u8 family, u16 reserved,
//!   u32 presence bits (F_*), u32 portid, u64 time read (ns since epoch),
//!   then each present field in bit order.
//! A tuple: u16 presence bits (T_*), then each present field in bit order;
//! addresses are u8 length (4 or 16) + bytes.
//! Strings and labels: u16 length + bytes.

use crate::event::{Counters, Event, EventType, ProtoInfo, Tuple};
use crate::kind::{kind_of, KINDS};

pub const WIRE_VERSION: u8 = 3;
pub const HEADER_LEN: usize = 32;
pub const FLAG_FINAL: u8 = 1;

pub const F_ORIG: u32 = 1 << 0;
pub const F_REPLY: u32 = 1 << 1;
pub const F_STATUS: u32 = 1 << 2;
pub const F_TIMEOUT: u32 = 1 << 3;
pub const F_MARK: u32 = 1 << 4;
pub const F_SECMARK: u32 = 1 << 5;
pub const F_ZONE: u32 = 1 << 6;
pub const F_USE: u32 = 1 << 7;
pub const F_ID: u32 = 1 << 8;
pub const F_PROTOINFO: u32 = 1 << 9;
pub const F_COUNTERS_ORIG: u32 = 1 << 10;
pub const F_COUNTERS_REPLY: u32 = 1 << 11;
pub const F_START: u32 = 1 << 12;
pub const F_STOP: u32 = 1 << 13;
pub const F_EVENT_TIME: u32 = 1 << 14;
pub const F_HELPER: u32 = 1 << 15;
pub const F_SECCTX: u32 = 1 << 16;
pub const F_LABELS: u32 = 1 << 17;
pub const F_PROGNAME: u32 = 1 << 18;

pub const T_SRC: u16 = 1 << 0;
pub const T_DST: u16 = 1 << 1;
pub const T_PROTO: u16 = 1 << 2;
pub const T_SPORT: u16 = 1 << 3;
pub const T_DPORT: u16 = 1 << 4;
pub const T_ICMP_TYPE: u16 = 1 << 5;
pub const T_ICMP_CODE: u16 = 1 << 6;
pub const T_ICMP_ID: u16 = 1 << 7;
pub const T_ZONE: u16 = 1 << 8;

pub const PROTOINFO_TCP: u8 = 1;
pub const PROTOINFO_DCCP: u8 = 2;
pub const PROTOINFO_SCTP: u8 = 3;

/// What happened since the previous batch, besides the events in it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Notices {
    pub enobufs: u32,
    pub decode_errors: u32,
    /// Events the kernel dropped: the receive buffer was full.
    pub lost: u64,
    /// In reliable mode, deliveries the kernel could not make (the receive
    /// buffer was full): it retries DESTROY events, so these are not all
    /// lost; NEW and UPDATE events among them may be.
    pub undelivered: u64,
}

impl Notices {
    pub fn is_empty(&self) -> bool {
        *self == Notices::default()
    }
}

/// A batch being filled. `finish` writes the header and hands out the bytes.
pub struct BatchWriter {
    buf: Vec<u8>,
    count: u32,
    /// Events in the batch per type and protocol class (kind::kind_of), for the counters.
    by_kind: [u32; KINDS],
}

impl Default for BatchWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl BatchWriter {
    pub fn new() -> Self {
        BatchWriter {
            buf: vec![0; HEADER_LEN],
            count: 0,
            by_kind: [0; KINDS],
        }
    }

    pub fn len(&self) -> u32 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Events in the batch per type and protocol class (kind::kind_of).
    pub fn by_kind(&self) -> [u32; KINDS] {
        self.by_kind
    }

    pub fn push(&mut self, ev: &Event, time_ns: u64) {
        let b = &mut self.buf;
        b.push(match ev.kind {
            EventType::New => 0,
            EventType::Update => 1,
            EventType::Destroy => 2,
        });
        b.push(ev.family);
        b.extend_from_slice(&[0, 0]);
        let bits_at = b.len();
        b.extend_from_slice(&[0; 4]);
        b.extend_from_slice(&ev.portid.to_le_bytes());
        b.extend_from_slice(&time_ns.to_le_bytes());
        let mut bits = F_ORIG | F_REPLY;
        tuple(b, &ev.orig);
        tuple(b, &ev.reply);
        let u32s = [
            (F_STATUS, ev.status),
            (F_TIMEOUT, ev.timeout),
            (F_MARK, ev.mark),
            (F_SECMARK, ev.secmark),
        ];
        for (bit, v) in u32s {
            if let Some(v) = v {
                bits |= bit;
                b.extend_from_slice(&v.to_le_bytes());
            }
        }
        if let Some(v) = ev.zone {
            bits |= F_ZONE;
            b.extend_from_slice(&v.to_le_bytes());
        }
        for (bit, v) in [(F_USE, ev.use_count), (F_ID, ev.id)] {
            if let Some(v) = v {
                bits |= bit;
                b.extend_from_slice(&v.to_le_bytes());
            }
        }
        if let Some(p) = ev.protoinfo {
            bits |= F_PROTOINFO;
            b.extend_from_slice(&match p {
                ProtoInfo::Tcp { state } => [PROTOINFO_TCP, state],
                ProtoInfo::Dccp { state } => [PROTOINFO_DCCP, state],
                ProtoInfo::Sctp { state } => [PROTOINFO_SCTP, state],
            });
        }
        for (bit, c) in [
            (F_COUNTERS_ORIG, ev.counters_orig),
            (F_COUNTERS_REPLY, ev.counters_reply),
        ] {
            if let Some(c) = c {
                bits |= bit;
                counters(b, &c);
            }
        }
        for (bit, v) in [
            (F_START, ev.start),
            (F_STOP, ev.stop),
            (F_EVENT_TIME, ev.event_time),
        ] {
            if let Some(v) = v {
                bits |= bit;
                b.extend_from_slice(&v.to_le_bytes());
            }
        }
        let strs = [
            (F_HELPER, ev.helper.as_deref().map(clamp_str)),
            (F_SECCTX, ev.secctx.as_deref().map(clamp_str)),
            (F_LABELS, ev.labels.as_deref().map(clamp)),
            (F_PROGNAME, ev.progname.as_deref().map(clamp_str)),
        ];
        for (bit, v) in strs {
            if let Some(v) = v {
                bits |= bit;
                bytes(b, v);
            }
        }
        b[bits_at..bits_at + 4].copy_from_slice(&bits.to_le_bytes());
        self.count += 1;
        self.by_kind[kind_of(ev)] += 1;
    }

    /// The finished batch; the writer is empty again afterwards.
    /// Ends the batch and returns its bytes; the next batch is written into
    /// `spare` (a Vec the consumer is done with) if given, so that a steady
    /// flow of batches does not allocate.
    pub fn finish(
        &mut self,
        notices: Notices,
        final_batch: bool,
        spare: Option<Vec<u8>>,
    ) -> Vec<u8> {
        let next = match spare {
            Some(mut v) => {
                v.clear();
                v.resize(HEADER_LEN, 0);
                v
            }
            None => vec![0; HEADER_LEN],
        };
        let mut out = std::mem::replace(&mut self.buf, next);
        let h = &mut out[..HEADER_LEN];
        h[0] = WIRE_VERSION;
        h[1] = if final_batch { FLAG_FINAL } else { 0 };
        h[4..8].copy_from_slice(&self.count.to_le_bytes());
        h[8..12].copy_from_slice(&notices.enobufs.to_le_bytes());
        h[12..16].copy_from_slice(&notices.decode_errors.to_le_bytes());
        h[16..24].copy_from_slice(&notices.lost.to_le_bytes());
        h[24..32].copy_from_slice(&notices.undelivered.to_le_bytes());
        self.count = 0;
        self.by_kind = [0; KINDS];
        out
    }

    /// Throws the pending events away: the reader does so only when
    /// decoding them panicked (the loss is counted as a decode error).
    pub fn discard(&mut self) {
        self.buf.truncate(HEADER_LEN);
        self.count = 0;
        self.by_kind = [0; KINDS];
    }
}

fn tuple(b: &mut Vec<u8>, t: &Tuple) {
    let bits_at = b.len();
    b.extend_from_slice(&[0, 0]);
    let mut bits = 0u16;
    if let Some(ip) = &t.src {
        bits |= T_SRC;
        addr(b, ip);
    }
    if let Some(ip) = &t.dst {
        bits |= T_DST;
        addr(b, ip);
    }
    if let Some(v) = t.proto {
        bits |= T_PROTO;
        b.push(v);
    }
    if let Some(v) = t.sport {
        bits |= T_SPORT;
        b.extend_from_slice(&v.to_le_bytes());
    }
    if let Some(v) = t.dport {
        bits |= T_DPORT;
        b.extend_from_slice(&v.to_le_bytes());
    }
    if let Some(v) = t.icmp_type {
        bits |= T_ICMP_TYPE;
        b.push(v);
    }
    if let Some(v) = t.icmp_code {
        bits |= T_ICMP_CODE;
        b.push(v);
    }
    if let Some(v) = t.icmp_id {
        bits |= T_ICMP_ID;
        b.extend_from_slice(&v.to_le_bytes());
    }
    if let Some(v) = t.zone {
        bits |= T_ZONE;
        b.extend_from_slice(&v.to_le_bytes());
    }
    b[bits_at..bits_at + 2].copy_from_slice(&bits.to_le_bytes());
}

fn addr(b: &mut Vec<u8>, ip: &std::net::IpAddr) {
    match ip {
        std::net::IpAddr::V4(a) => {
            b.push(4);
            b.extend_from_slice(&a.octets());
        }
        std::net::IpAddr::V6(a) => {
            b.push(16);
            b.extend_from_slice(&a.octets());
        }
    }
}

fn counters(b: &mut Vec<u8>, c: &Counters) {
    b.extend_from_slice(&c.packets.to_le_bytes());
    b.extend_from_slice(&c.bytes.to_le_bytes());
}

/// The most bytes a string or a label set carries: its length is a u16.
pub const MAX_BYTES: usize = u16::MAX as usize;

/// Kernel strings and label sets are far below 64 KiB, but a message may
/// claim anything: what is longer is cut to MAX_BYTES.
fn clamp(s: &[u8]) -> &[u8] {
    &s[..s.len().min(MAX_BYTES)]
}

/// A string cut as [`clamp`] cuts, but never inside a character (the
/// reader decodes UTF-8, and half a character would become U+FFFD there)
/// nor inside an escape (the strings are escaped text: `text.rs`).
pub fn clamp_str(s: &str) -> &[u8] {
    crate::text::cut(s, MAX_BYTES).as_bytes()
}

fn bytes(b: &mut Vec<u8>, s: &[u8]) {
    let len = u16::try_from(s.len()).unwrap_or(u16::MAX);
    b.extend_from_slice(&len.to_le_bytes());
    b.extend_from_slice(&s[..usize::from(len)]);
}

/// A batch read back: what `BatchWriter::finish` wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    pub final_batch: bool,
    pub notices: Notices,
    /// Each event with the time it was read (ns since the epoch).
    pub events: Vec<(Event, u64)>,
}

/// Why bytes are not a batch: where reading stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireError {
    pub at: usize,
    pub reason: &'static str,
}

/// Reads a batch back, as `src/wire.ts` does: the same format, read by
/// the side that writes it, for tests and fuzzing of the round trip.
pub fn read_batch(b: &[u8]) -> Result<Batch, WireError> {
    let mut r = Cursor { b, at: 0 };
    let version = r.u8()?;
    if version != WIRE_VERSION {
        return Err(r.error("unknown version"));
    }
    let flags = r.u8()?;
    r.take(2)?;
    let count = r.u32()?;
    let notices = Notices {
        enobufs: r.u32()?,
        decode_errors: r.u32()?,
        lost: r.u64()?,
        undelivered: r.u64()?,
    };
    let mut events = Vec::new();
    for _ in 0..count {
        events.push(r.event()?);
    }
    if r.at != b.len() {
        return Err(r.error("bytes after the last event"));
    }
    Ok(Batch {
        final_batch: flags & FLAG_FINAL != 0,
        notices,
        events,
    })
}

/// Reads events back to back, without a batch header: what an output
/// was handed of a batch (each event's bytes as the batch holds them).
pub fn read_events(b: &[u8]) -> Result<Vec<(Event, u64)>, WireError> {
    let mut r = Cursor { b, at: 0 };
    let mut events = Vec::new();
    while r.at < b.len() {
        events.push(r.event()?);
    }
    Ok(events)
}

struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn error(&self, reason: &'static str) -> WireError {
        WireError {
            at: self.at,
            reason,
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.b.len());
        let end = end.ok_or_else(|| self.error("ends inside a field"))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let s = self.take(N)?;
        s.try_into().map_err(|_| self.error("ends inside a field"))
    }

    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, WireError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, WireError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn bytes(&mut self) -> Result<Vec<u8>, WireError> {
        let len = self.u16()?;
        Ok(self.take(usize::from(len))?.to_vec())
    }

    fn string(&mut self) -> Result<String, WireError> {
        let v = self.bytes()?;
        String::from_utf8(v).map_err(|_| self.error("a string that is not UTF-8"))
    }

    fn event(&mut self) -> Result<(Event, u64), WireError> {
        let kind = match self.u8()? {
            0 => EventType::New,
            1 => EventType::Update,
            2 => EventType::Destroy,
            _ => return Err(self.error("unknown event type")),
        };
        let family = self.u8()?;
        self.take(2)?;
        let bits = self.u32()?;
        let portid = self.u32()?;
        let time = self.u64()?;
        let mut ev = Event::new(kind, family, portid);
        let has = |bit: u32| bits & bit != 0;
        if !has(F_ORIG) || !has(F_REPLY) {
            return Err(self.error("an event without its tuples"));
        }
        ev.orig = self.tuple()?;
        ev.reply = self.tuple()?;
        for (bit, v) in [
            (F_STATUS, &mut ev.status),
            (F_TIMEOUT, &mut ev.timeout),
            (F_MARK, &mut ev.mark),
            (F_SECMARK, &mut ev.secmark),
        ] {
            if has(bit) {
                *v = Some(self.u32()?);
            }
        }
        if has(F_ZONE) {
            ev.zone = Some(self.u16()?);
        }
        for (bit, v) in [(F_USE, &mut ev.use_count), (F_ID, &mut ev.id)] {
            if has(bit) {
                *v = Some(self.u32()?);
            }
        }
        if has(F_PROTOINFO) {
            let [kind, state] = self.array()?;
            ev.protoinfo = Some(match kind {
                PROTOINFO_TCP => ProtoInfo::Tcp { state },
                PROTOINFO_DCCP => ProtoInfo::Dccp { state },
                PROTOINFO_SCTP => ProtoInfo::Sctp { state },
                _ => return Err(self.error("unknown protoinfo")),
            });
        }
        for (bit, c) in [
            (F_COUNTERS_ORIG, &mut ev.counters_orig),
            (F_COUNTERS_REPLY, &mut ev.counters_reply),
        ] {
            if has(bit) {
                *c = Some(Counters {
                    packets: self.u64()?,
                    bytes: self.u64()?,
                });
            }
        }
        for (bit, v) in [
            (F_START, &mut ev.start),
            (F_STOP, &mut ev.stop),
            (F_EVENT_TIME, &mut ev.event_time),
        ] {
            if has(bit) {
                *v = Some(self.u64()?);
            }
        }
        if has(F_HELPER) {
            ev.helper = Some(self.string()?);
        }
        if has(F_SECCTX) {
            ev.secctx = Some(self.string()?);
        }
        if has(F_LABELS) {
            ev.labels = Some(self.bytes()?);
        }
        if has(F_PROGNAME) {
            ev.progname = Some(self.string()?);
        }
        Ok((ev, time))
    }

    fn tuple(&mut self) -> Result<Tuple, WireError> {
        let bits = self.u16()?;
        let has = |bit: u16| bits & bit != 0;
        let mut t = Tuple::default();
        if has(T_SRC) {
            t.src = Some(self.addr()?);
        }
        if has(T_DST) {
            t.dst = Some(self.addr()?);
        }
        if has(T_PROTO) {
            t.proto = Some(self.u8()?);
        }
        if has(T_SPORT) {
            t.sport = Some(self.u16()?);
        }
        if has(T_DPORT) {
            t.dport = Some(self.u16()?);
        }
        if has(T_ICMP_TYPE) {
            t.icmp_type = Some(self.u8()?);
        }
        if has(T_ICMP_CODE) {
            t.icmp_code = Some(self.u8()?);
        }
        if has(T_ICMP_ID) {
            t.icmp_id = Some(self.u16()?);
        }
        if has(T_ZONE) {
            t.zone = Some(self.u16()?);
        }
        Ok(t)
    }

    fn addr(&mut self) -> Result<std::net::IpAddr, WireError> {
        match self.u8()? {
            4 => Ok(std::net::Ipv4Addr::from(self.array::<4>()?).into()),
            16 => Ok(std::net::Ipv6Addr::from(self.array::<16>()?).into()),
            _ => Err(self.error("an address neither 4 nor 16 bytes long")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Counters, Event, EventType, ProtoInfo, Tuple};
    use std::net::IpAddr;

    /// An event with every field set: the shared test vector that
    /// `__test__/wire.test.ts` reads too, so both sides agree byte for byte.
    fn full_event() -> Event {
        let mut ev = Event::new(EventType::Destroy, 10, 4242);
        ev.orig = Tuple {
            src: Some("2001:db8::1".parse::<IpAddr>().unwrap()),
            dst: Some("::ffff:192.0.2.7".parse::<IpAddr>().unwrap()),
            proto: Some(6),
            sport: Some(40000),
            dport: Some(443),
            icmp_type: None,
            icmp_code: None,
            icmp_id: None,
            zone: Some(3),
        };
        ev.reply = Tuple {
            src: Some("192.0.2.7".parse::<IpAddr>().unwrap()),
            dst: Some("10.0.0.1".parse::<IpAddr>().unwrap()),
            proto: Some(58),
            icmp_type: Some(129),
            icmp_code: Some(0),
            icmp_id: Some(77),
            ..Tuple::default()
        };
        ev.status = Some(0x18e);
        ev.timeout = Some(431999);
        ev.mark = Some(0xffff_ffff);
        ev.secmark = Some(5);
        ev.zone = Some(7);
        ev.use_count = Some(1);
        ev.id = Some(3_588_929_973);
        ev.protoinfo = Some(ProtoInfo::Tcp { state: 3 });
        ev.counters_orig = Some(Counters {
            packets: (1 << 53) + 1,
            bytes: u64::MAX,
        });
        ev.counters_reply = Some(Counters {
            packets: 0,
            bytes: 29,
        });
        ev.start = Some(1_795_709_861_292_510_123);
        ev.stop = Some(1_795_709_891_292_510_999);
        ev.event_time = Some(1_795_709_891_300_000_000);
        ev.helper = Some("ftp".into());
        ev.secctx = Some("system_u:object_r:ssh_t:s0".into());
        ev.labels = Some(vec![0x01, 0x00, 0x80]);
        ev.progname = Some("conntrack".into());
        ev
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn full_event_matches_the_shared_vector() {
        let mut w = BatchWriter::new();
        w.push(&full_event(), 1_795_709_891_400_000_001);
        w.push(&Event::new(EventType::New, 2, 0), 0);
        let notices = Notices {
            enobufs: 2,
            decode_errors: 3,
            lost: 5,
            undelivered: 6,
        };
        let got = hex(&w.finish(notices, true, None));
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/wire-full-event.hex"
        );
        if std::env::var_os("CTLOG_BLESS").is_some() {
            std::fs::write(path, format!("{got}\n")).expect("write vector");
        }
        let want = std::fs::read_to_string(path)
            .expect("testdata/wire-full-event.hex (CTLOG_BLESS=1 writes it)");
        assert_eq!(got, want.trim());
        assert!(w.is_empty(), "finish empties the writer");
    }

    #[test]
    fn a_batch_reads_back_as_it_was_written() {
        let mut w = BatchWriter::new();
        w.push(&full_event(), 11);
        w.push(&Event::new(EventType::New, 2, 0), 12);
        let notices = Notices {
            enobufs: 1,
            decode_errors: 2,
            lost: 3,
            undelivered: 4,
        };
        let got = read_batch(&w.finish(notices, true, None)).unwrap();
        assert_eq!(
            got,
            Batch {
                final_batch: true,
                notices,
                events: vec![(full_event(), 11), (Event::new(EventType::New, 2, 0), 12)],
            }
        );
    }

    #[test]
    fn a_long_string_is_cut_at_a_character_boundary() {
        // 'é' is two bytes: the cap, 65,535, falls inside the 32,768th.
        let s = "é".repeat(40_000);
        let cut = clamp_str(&s);
        assert_eq!(cut.len(), MAX_BYTES - 1);
        assert!(std::str::from_utf8(cut).is_ok());
        assert_eq!(clamp_str("ftp"), b"ftp");
        // Label sets are bits, not text: cut at the cap itself.
        assert_eq!(clamp(&[0xff; 70_000]).len(), MAX_BYTES);
    }

    #[test]
    fn header_counts_and_flags() {
        let mut w = BatchWriter::new();
        w.push(&Event::new(EventType::Update, 2, 1), 9);
        let b = w.finish(Notices::default(), false, None);
        assert_eq!(b[0], WIRE_VERSION);
        assert_eq!(b[1], 0);
        assert_eq!(u32::from_le_bytes([b[4], b[5], b[6], b[7]]), 1);
        // type, family, reserved, presence (orig+reply only), portid, time, 2 empty tuples
        assert_eq!(b.len(), HEADER_LEN + 20 + 2 + 2);
        assert_eq!(&b[HEADER_LEN..HEADER_LEN + 2], &[1, 2]);
        assert_eq!(
            u32::from_le_bytes(b[HEADER_LEN + 4..HEADER_LEN + 8].try_into().unwrap()),
            F_ORIG | F_REPLY
        );
    }

    #[test]
    fn discard_empties_the_batch() {
        let mut w = BatchWriter::new();
        w.push(&full_event(), 0);
        w.push(&Event::new(EventType::New, 2, 0), 0);
        let mut kinds = [0; KINDS];
        kinds[kind_of(&full_event())] = 1;
        kinds[3] = 1; // new, no protocol: other
        assert_eq!(w.by_kind(), kinds);
        w.discard();
        assert!(w.is_empty());
        assert_eq!(w.by_kind(), [0; KINDS]);
        assert_eq!(w.finish(Notices::default(), false, None).len(), HEADER_LEN);
    }

    #[test]
    fn a_spare_vec_carries_the_next_batch() {
        let mut w = BatchWriter::new();
        w.push(&full_event(), 1);
        let first = w.finish(Notices::default(), false, None);
        let spare = vec![7u8; 100_000];
        let at = spare.as_ptr();
        let mut again = BatchWriter::new();
        let _ = again.finish(Notices::default(), false, Some(spare));
        again.push(&full_event(), 1);
        let second = again.finish(Notices::default(), false, None);
        assert_eq!(second.as_ptr(), at, "written into the spare's memory");
        assert_eq!(first, second, "the spare's old bytes are gone");
    }
}
