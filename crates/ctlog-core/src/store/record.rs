//! One row of the NAT log store: a connection as one event of it shows it.
//! A DESTROY is the whole connection (its start and end, both tuples, its
//! counters); a NEW is a connection still open, whose DESTROY may come in a
//! later file. The translated ("nat_") address and port are what the world
//! outside saw: the reply tuple read backwards.

use std::net::{IpAddr, Ipv6Addr};

use crate::event::{Event, EventType, Tuple};

/// How the row's connection ended, as far as the row knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ended {
    /// A NEW: open when it was written.
    Open,
    /// A DESTROY: the kernel ended it.
    Destroy,
    /// In a snapshot of the conntrack table: open when the table was read.
    Snapshot,
    /// In the snapshot taken as the store stopped: open then, and what
    /// became of it after is unknown to the store (unless a DESTROY or a
    /// later snapshot says).
    Stopped,
}

impl Ended {
    const ALL: [Ended; 4] = [Ended::Open, Ended::Destroy, Ended::Snapshot, Ended::Stopped];

    /// The store's word for it (the `ended` column).
    pub fn name(self) -> &'static str {
        match self {
            Ended::Open => "open",
            Ended::Destroy => "destroy",
            Ended::Snapshot => "snapshot",
            Ended::Stopped => "stopped",
        }
    }

    pub fn from_name(name: &str) -> Option<Ended> {
        Ended::ALL.into_iter().find(|e| e.name() == name)
    }

    /// Its byte in a journal frame.
    pub fn code(self) -> u8 {
        match self {
            Ended::Open => 0,
            Ended::Destroy => 1,
            Ended::Snapshot => 2,
            Ended::Stopped => 3,
        }
    }

    pub fn from_code(code: u8) -> Option<Ended> {
        Ended::ALL.into_iter().find(|e| e.code() == code)
    }

    /// A row of a table dump (a snapshot), not of an event.
    pub fn is_snapshot(self) -> bool {
        matches!(self, Ended::Snapshot | Ended::Stopped)
    }
}

/// An address as the store keeps it: 16 bytes, IPv4 mapped into IPv6
/// (`::ffff:a.b.c.d`), as ClickHouse's IPv6 type and `inet6_pton` take it.
pub fn address_bytes(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// The address of 16 stored bytes: IPv4 again if it was mapped.
pub fn address_of(bytes: [u8; 16]) -> IpAddr {
    let v6 = Ipv6Addr::from(bytes);
    match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// When the connection began, ns since the epoch: the kernel's start
    /// timestamp (nf_conntrack_timestamp), else when the event was read.
    pub start_ns: i64,
    /// When it ended (a DESTROY's stop timestamp, else when it was read); none while open.
    pub end_ns: Option<i64>,
    pub ended: Ended,
    /// IPPROTO_*.
    pub proto: u8,
    /// The inside host: the original tuple's source.
    pub orig_src: IpAddr,
    pub orig_sport: u16,
    pub orig_dst: IpAddr,
    pub orig_dport: u16,
    /// What the outside saw as the source: the reply tuple's destination.
    pub nat_src: IpAddr,
    pub nat_sport: u16,
    /// What the inside host reached: the reply tuple's source.
    pub nat_dst: IpAddr,
    pub nat_dport: u16,
    pub zone: u16,
    pub mark: u32,
    pub id: u32,
    /// Both directions' packets and bytes, when accounting is on.
    pub orig_packets: Option<u64>,
    pub orig_bytes: Option<u64>,
    pub reply_packets: Option<u64>,
    pub reply_bytes: Option<u64>,
}

/// A tuple's ports, or for ICMP and ICMPv6 its id as both (as conntrack
/// itself keys an echo); 0 where the protocol has none.
fn ports(t: &Tuple) -> (u16, u16) {
    match (t.sport, t.dport, t.icmp_id) {
        (Some(s), Some(d), _) => (s, d),
        (_, _, Some(id)) => (id, id),
        _ => (0, 0),
    }
}

impl Record {
    /// The row of a NEW or DESTROY event (`read_ns`: when it was read);
    /// none for an UPDATE or an event without both tuples' addresses.
    pub fn of(ev: &Event, read_ns: i64) -> Option<Record> {
        let ended = match ev.kind {
            EventType::New => Ended::Open,
            EventType::Destroy => Ended::Destroy,
            EventType::Update => return None,
        };
        Record::as_(ev, read_ns, ended)
    }

    /// The row of a connection in a dump of the conntrack table read at
    /// `at_ns` (`ended`: Snapshot or Stopped); without the kernel's start
    /// timestamp, its start is the dump's time (it held the tuple then, at
    /// least).
    pub fn seen(ev: &Event, at_ns: i64, ended: Ended) -> Option<Record> {
        Record::as_(ev, at_ns, ended)
    }

    fn as_(ev: &Event, read_ns: i64, ended: Ended) -> Option<Record> {
        let (orig_src, orig_dst) = (ev.orig.src?, ev.orig.dst?);
        let (reply_src, reply_dst) = (ev.reply.src?, ev.reply.dst?);
        let (orig_sport, orig_dport) = ports(&ev.orig);
        let (reply_sport, reply_dport) = ports(&ev.reply);
        let ns = |t: Option<u64>| t.and_then(|t| i64::try_from(t).ok());
        let start_ns = ns(ev.start).unwrap_or(read_ns);
        let end_ns = match ended {
            Ended::Destroy => Some(ns(ev.stop).unwrap_or(read_ns)),
            Ended::Open | Ended::Snapshot | Ended::Stopped => None,
        };
        Some(Record {
            start_ns,
            end_ns,
            ended,
            proto: ev.orig.proto.unwrap_or(0),
            orig_src,
            orig_sport,
            orig_dst,
            orig_dport,
            nat_src: reply_dst,
            nat_sport: reply_dport,
            nat_dst: reply_src,
            nat_dport: reply_sport,
            zone: ev.zone.or(ev.orig.zone).unwrap_or(0),
            mark: ev.mark.unwrap_or(0),
            id: ev.id.unwrap_or(0),
            orig_packets: ev.counters_orig.map(|c| c.packets),
            orig_bytes: ev.counters_orig.map(|c| c.bytes),
            reply_packets: ev.counters_reply.map(|c| c.packets),
            reply_bytes: ev.counters_reply.map(|c| c.bytes),
        })
    }

    /// Whether an address or a port was translated, either way: what
    /// `store_connections: nat` keeps.
    pub fn translated(&self) -> bool {
        (
            self.orig_src,
            self.orig_sport,
            self.orig_dst,
            self.orig_dport,
        ) != (self.nat_src, self.nat_sport, self.nat_dst, self.nat_dport)
    }

    /// The latest moment the row speaks of: its end, else its start.
    pub fn last_ns(&self) -> i64 {
        self.end_ns.unwrap_or(self.start_ns)
    }

    /// Whether the connection held its translated source at `at_ns`.
    pub fn held_at(&self, at_ns: i64) -> bool {
        self.start_ns <= at_ns && self.end_ns.is_none_or(|end| at_ns <= end)
    }
}
