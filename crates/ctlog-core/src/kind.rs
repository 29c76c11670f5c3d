//! Event kinds: the protocol classes the config names, an event's kind
//! (its type and class) for the counters kept per kind, and the classes
//! kept per event type (ProtoFilter; bpf compiles it into the socket
//! filter).

use crate::event::{Event, EventType};

/// Protocol classes, as the config names them (VyOS's logger): `icmp` is
/// IPv4 ICMP (1) only; `other` is every protocol but TCP, UDP and ICMP.
pub const TCP: u8 = 1;
pub const UDP: u8 = 2;
pub const ICMP: u8 = 4;
pub const OTHER: u8 = 8;
pub const ALL: u8 = TCP | UDP | ICMP | OTHER;

/// The classes by name, with their bits.
pub const CLASSES: [(&str, u8); 4] = [("tcp", TCP), ("udp", UDP), ("icmp", ICMP), ("other", OTHER)];

/// The bit of the class a name stands for.
pub fn class_bit(name: &str) -> Option<u8> {
    CLASSES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, bit)| bit)
}

/// The class of a protocol number; a message with none is `other`, as the
/// config's filter in JavaScript sees it.
pub fn class_of(proto: Option<u8>) -> u8 {
    match proto.map(i32::from) {
        Some(libc::IPPROTO_TCP) => TCP,
        Some(libc::IPPROTO_UDP) => UDP,
        Some(libc::IPPROTO_ICMP) => ICMP,
        _ => OTHER,
    }
}

/// Event types × protocol classes: the length of the per-kind counters.
pub const KINDS: usize = EventType::ALL.len() * CLASSES.len();

/// An event's kind, for the counters kept per type and protocol class: its
/// type's index × 4 + its class's place in CLASSES. JavaScript reads the
/// counters in that order (src/output/ledger.ts, KINDS).
pub fn kind_of(ev: &Event) -> usize {
    ev.kind.index() * CLASSES.len() + class_of(ev.orig.proto).trailing_zeros() as usize
}

/// The protocol classes kept, per event type (EventType::index).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProtoFilter(pub [u8; 3]);

impl Default for ProtoFilter {
    fn default() -> Self {
        ProtoFilter([ALL; 3])
    }
}

impl ProtoFilter {
    /// True when no event type loses a protocol: no filter is needed.
    pub fn keeps_all(&self) -> bool {
        self.0.iter().all(|&m| m & ALL == ALL)
    }

    /// The mask kept for one event type.
    pub fn mask(&self, t: EventType) -> u8 {
        self.0[t.index()]
    }

    /// Whether this filter keeps an event of type `t` and protocol `proto`.
    pub fn keeps(&self, t: EventType, proto: Option<u8>) -> bool {
        self.mask(t) & class_of(proto) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_give_their_bits_and_nothing_else() {
        assert_eq!(class_bit("tcp"), Some(TCP));
        assert_eq!(class_bit("udp"), Some(UDP));
        assert_eq!(class_bit("icmp"), Some(ICMP));
        assert_eq!(class_bit("other"), Some(OTHER));
        assert_eq!(class_bit("TCP"), None);
        assert_eq!(class_bit("sctp"), None);
        let all = CLASSES.iter().fold(0, |m, &(_, bit)| m | bit);
        assert_eq!(all, ALL);
    }

    #[test]
    fn classes_of_protocols() {
        assert_eq!(class_of(Some(6)), TCP);
        assert_eq!(class_of(Some(17)), UDP);
        assert_eq!(class_of(Some(1)), ICMP);
        assert_eq!(class_of(Some(58)), OTHER);
        assert_eq!(class_of(None), OTHER);
        assert!(ProtoFilter([TCP, 0, 0]).keeps(EventType::New, Some(6)));
        assert!(!ProtoFilter([TCP, 0, 0]).keeps(EventType::Update, Some(6)));
    }

    #[test]
    fn kinds_are_type_major_in_the_order_of_classes() {
        let kind = |t, proto| {
            let mut ev = Event::new(t, libc::AF_INET as u8, 0);
            ev.orig.proto = proto;
            kind_of(&ev)
        };
        assert_eq!(kind(EventType::New, Some(6)), 0);
        assert_eq!(kind(EventType::New, Some(17)), 1);
        assert_eq!(kind(EventType::Update, Some(1)), 6);
        assert_eq!(kind(EventType::Destroy, Some(58)), 11);
        assert_eq!(kind(EventType::Destroy, None), 11);
        assert_eq!(KINDS, 12);
    }

    #[test]
    fn keeps_all_only_when_every_type_keeps_every_class() {
        assert!(ProtoFilter::default().keeps_all());
        assert!(!ProtoFilter([ALL, ALL, TCP]).keeps_all());
    }
}
