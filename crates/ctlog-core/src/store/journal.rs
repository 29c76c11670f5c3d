//! The journal: records not yet in a sealed Parquet file, appended in
//! fixed frames and synced every second, so that a crash or a power loss
//! loses at most the last second. A frame is a record's fields in a fixed
//! layout and a checksum of them; a frame cut short or spoilt (the write
//! the crash interrupted) ends what is read back.

use std::io::{self, Read, Write};
use std::net::IpAddr;

use super::record::{address_bytes, address_of, Ended, Record};

/// A record's fields, little-endian: start, end (i64::MIN: none), ended,
/// proto, six addresses and their ports, zone, mark, id, which counters
/// are there (a bit each), the four counters.
const BODY: usize = 8 + 8 + 1 + 1 + 4 * 16 + 4 * 2 + 2 + 4 + 4 + 1 + 4 * 8;
/// The body and its checksum.
pub const FRAME: usize = BODY + 4;

/// FNV-1a, 32 bits: enough to tell a torn or stale frame from a whole one.
fn checksum(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

/// Appends the frame of `r` to `out`.
pub fn encode(r: &Record, out: &mut Vec<u8>) {
    let at = out.len();
    out.extend_from_slice(&r.start_ns.to_le_bytes());
    out.extend_from_slice(&r.end_ns.unwrap_or(i64::MIN).to_le_bytes());
    out.push(r.ended.code());
    out.push(r.proto);
    for (a, p) in [
        (r.orig_src, r.orig_sport),
        (r.orig_dst, r.orig_dport),
        (r.nat_src, r.nat_sport),
        (r.nat_dst, r.nat_dport),
    ] {
        out.extend_from_slice(&address_bytes(a));
        out.extend_from_slice(&p.to_le_bytes());
    }
    out.extend_from_slice(&r.zone.to_le_bytes());
    out.extend_from_slice(&r.mark.to_le_bytes());
    out.extend_from_slice(&r.id.to_le_bytes());
    let counters = [r.orig_packets, r.orig_bytes, r.reply_packets, r.reply_bytes];
    out.push(
        counters
            .iter()
            .enumerate()
            .fold(0u8, |m, (i, c)| m | (u8::from(c.is_some()) << i)),
    );
    for c in counters {
        out.extend_from_slice(&c.unwrap_or(0).to_le_bytes());
    }
    let sum = checksum(&out[at..]);
    out.extend_from_slice(&sum.to_le_bytes());
}

/// Reads fixed-size fields off the front of a frame's body.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let (head, rest) = self.0.split_at(N);
        self.0 = rest;
        let mut out = [0; N];
        out.copy_from_slice(head);
        out
    }
    fn addr(&mut self) -> (IpAddr, u16) {
        let a = address_of(self.take::<16>());
        (a, u16::from_le_bytes(self.take()))
    }
}

/// The record of one frame, or none if it is not whole.
pub fn decode(frame: &[u8; FRAME]) -> Option<Record> {
    let (body, sum) = frame.split_at(BODY);
    if checksum(body).to_le_bytes() != sum {
        return None;
    }
    let mut f = Fields(body);
    let start_ns = i64::from_le_bytes(f.take());
    let end = i64::from_le_bytes(f.take());
    let ended = Ended::from_code(f.take::<1>()[0])?;
    let proto = f.take::<1>()[0];
    let (orig_src, orig_sport) = f.addr();
    let (orig_dst, orig_dport) = f.addr();
    let (nat_src, nat_sport) = f.addr();
    let (nat_dst, nat_dport) = f.addr();
    let zone = u16::from_le_bytes(f.take());
    let mark = u32::from_le_bytes(f.take());
    let id = u32::from_le_bytes(f.take());
    let present = f.take::<1>()[0];
    let mut counter = |i: u8| {
        let v = u64::from_le_bytes(f.take());
        (present & (1 << i) != 0).then_some(v)
    };
    Some(Record {
        start_ns,
        end_ns: (end != i64::MIN).then_some(end),
        ended,
        proto,
        orig_src,
        orig_sport,
        orig_dst,
        orig_dport,
        nat_src,
        nat_sport,
        nat_dst,
        nat_dport,
        zone,
        mark,
        id,
        orig_packets: counter(0),
        orig_bytes: counter(1),
        reply_packets: counter(2),
        reply_bytes: counter(3),
    })
}

/// Every whole frame of `input`, up to the first that is not: what a
/// crash left is read as far as it was written.
pub fn read_all(mut input: impl Read) -> io::Result<Vec<Record>> {
    let mut bytes = Vec::new();
    input.read_to_end(&mut bytes)?;
    Ok(bytes
        .chunks_exact(FRAME)
        .map_while(|c| <&[u8; FRAME]>::try_from(c).ok().and_then(decode))
        .collect())
}

/// Appends frames to `out`.
pub fn write_all(out: &mut impl Write, records: &[Record]) -> io::Result<()> {
    let mut buf = Vec::with_capacity(records.len() * FRAME);
    for r in records {
        encode(r, &mut buf);
    }
    out.write_all(&buf)
}
