//! conntrack's event filters (`conntrack -E --orig-src ... --mark ...`),
//! with conntrack-tools' meanings, plus prefixes and negations: which
//! events a capture keeps after it read them. The config and its words are
//! JavaScript's (src/conntrack-filter.ts); this is the one place that says
//! what each condition means. The kernel socket filter (bpf.rs) drops what
//! it can prove this drops, before it is read; this decides what it could
//! not read, on the reader thread.
//!
//! Every condition set must hold; a negated one holds where it would not.

use std::net::IpAddr;

use crate::consts::{IPS_DST_NAT_DONE, IPS_SRC_NAT_DONE};
use crate::event::{Event, Tuple};

/// A condition, or its negation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cond<T> {
    pub value: T,
    pub negate: bool,
}

impl<T> Cond<T> {
    pub fn is(value: T) -> Self {
        Cond {
            value,
            negate: false,
        }
    }

    pub fn not(value: T) -> Self {
        Cond {
            value,
            negate: true,
        }
    }

    fn holds(&self, test: impl FnOnce(&T) -> bool) -> bool {
        test(&self.value) != self.negate
    }
}

/// An address and its prefix length: the addresses of its family whose
/// first `prefix` bits are the same (a whole address: 32 or 128).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Net {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Net {
    pub fn contains(&self, a: Option<IpAddr>) -> bool {
        match (self.addr, a) {
            (IpAddr::V4(n), Some(IpAddr::V4(a))) => same_prefix(
                u128::from(u32::from(n)) << 96,
                u128::from(u32::from(a)) << 96,
                self.prefix,
            ),
            (IpAddr::V6(n), Some(IpAddr::V6(a))) => {
                same_prefix(u128::from(n), u128::from(a), self.prefix)
            }
            _ => false,
        }
    }

    /// The first `prefix` bits as a mask over the address's 32 or 128 bits.
    pub fn mask_bits(&self) -> u128 {
        let width = if self.addr.is_ipv4() { 32 } else { 128 };
        let p = u32::from(self.prefix.min(width));
        let all = if width == 32 {
            u128::from(u32::MAX)
        } else {
            u128::MAX
        };
        all & !(all.checked_shr(p).unwrap_or(0))
    }
}

fn same_prefix(a: u128, b: u128, prefix: u8) -> bool {
    let mask = u128::MAX
        .checked_shl(128 - u32::from(prefix.min(128)))
        .unwrap_or(0);
    (a ^ b) & mask == 0
}

/// `--mark VALUE[/MASK]`: the event's mark, masked, is VALUE (not masked:
/// `0x3/0x1` matches nothing, as in conntrack).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    pub value: u32,
    pub mask: u32,
}

/// `--status ASSURED,!SEEN_REPLY`: every bit of `set` is set, and every
/// bit of `clear` is clear.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Status {
    pub set: u32,
    pub clear: u32,
}

/// `--src-nat`, `--dst-nat`, `--any-nat`, each with an optional address
/// and port the translation must be to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Nat {
    pub addr: Option<IpAddr>,
    pub port: Option<u16>,
}

/// The conditions; an absent one does not filter. `Filter::default()`
/// keeps everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// `--orig-src`: the original tuple's source address.
    pub orig_src: Option<Cond<Net>>,
    /// `--orig-dst`
    pub orig_dst: Option<Cond<Net>>,
    /// `--reply-src`
    pub reply_src: Option<Cond<Net>>,
    /// `--reply-dst`
    pub reply_dst: Option<Cond<Net>>,
    /// `--proto`: the layer-4 protocol number of the original tuple.
    pub proto: Option<Cond<u8>>,
    /// `--sport`: the original tuple's source port.
    pub sport: Option<Cond<u16>>,
    /// `--dport`: the original tuple's destination port.
    pub dport: Option<Cond<u16>>,
    /// `--mark`: an event without a mark has none to match (conntrack's
    /// mark_cmp); the kernel sends none for mark 0 unless it changed.
    pub mark: Option<Cond<Mark>>,
    /// `--zone`: CTA_ZONE, 0 when the kernel sent none (the default zone).
    pub zone: Option<Cond<u16>>,
    /// `--status` (which `conntrack -E` refuses): IPS_* bits set and clear.
    pub status: Option<Status>,
    pub src_nat: Option<Cond<Nat>>,
    pub dst_nat: Option<Cond<Nat>>,
    pub any_nat: Option<Cond<Nat>>,
}

impl Filter {
    /// No condition: every event is kept.
    pub fn is_empty(&self) -> bool {
        *self == Filter::default()
    }

    pub fn keeps(&self, ev: &Event) -> bool {
        let eq = |c: &Option<Cond<u16>>, v: Option<u16>| holds(c, |&w| v == Some(w));
        let nat = |c: &Option<Cond<Nat>>, has: fn(&Event, &Nat) -> bool| holds(c, |n| has(ev, n));
        holds(&self.orig_src, |n| n.contains(ev.orig.src))
            && holds(&self.orig_dst, |n| n.contains(ev.orig.dst))
            && holds(&self.reply_src, |n| n.contains(ev.reply.src))
            && holds(&self.reply_dst, |n| n.contains(ev.reply.dst))
            && holds(&self.proto, |&p| ev.orig.proto == Some(p))
            && eq(&self.sport, ev.orig.sport)
            && eq(&self.dport, ev.orig.dport)
            && holds(&self.mark, |m| {
                ev.mark.is_some_and(|v| v & m.mask == m.value)
            })
            && eq(&self.zone, Some(ev.zone.unwrap_or(0)))
            && self.status.is_none_or(|b| {
                let s = ev.status.unwrap_or(0);
                s & b.set == b.set && s & b.clear == 0
            })
            && nat(&self.src_nat, src_nat)
            && nat(&self.dst_nat, dst_nat)
            && nat(&self.any_nat, |ev, n| src_nat(ev, n) || dst_nat(ev, n))
    }
}

/// An absent condition holds.
fn holds<T>(c: &Option<Cond<T>>, test: impl FnOnce(&T) -> bool) -> bool {
    c.as_ref().is_none_or(|c| c.holds(test))
}

/// Whether the kernel's status says the translation is done; an event
/// without a status is taken as translated where its tuples say so
/// (libnetfilter_conntrack's getobjopt_is_snat).
fn done(ev: &Event, bit: u32) -> bool {
    ev.status.is_none_or(|s| s & bit != 0)
}

/// The port, or for ICMP the id: what a translation may change beside the
/// address. conntrack-tools compares the ICMP id with the reply's type
/// and code here, and so takes almost every ICMP flow for translated;
/// comparing the ids says what was translated.
fn src_key(t: &Tuple) -> Option<u16> {
    t.sport.or(t.icmp_id)
}

fn dst_key(t: &Tuple) -> Option<u16> {
    t.dport.or(t.icmp_id)
}

/// conntrack's filter_nat for one direction: translated, and if an
/// address or port is given, to it. `is_nat`: the addresses differ;
/// `is_pat`: the ports (ids) do; the reply's destination (source) is what
/// the source (destination) was translated to.
fn nat(
    n: &Nat,
    done: bool,
    is_nat: bool,
    is_pat: bool,
    to_addr: Option<IpAddr>,
    to_port: Option<u16>,
) -> bool {
    let (is_nat, is_pat) = (done && is_nat, done && is_pat);
    match (n.addr, n.port) {
        (None, None) => is_nat || is_pat,
        (Some(a), None) => is_nat && to_addr == Some(a),
        (None, Some(p)) => is_pat && to_port == Some(p),
        (Some(a), Some(p)) => is_nat && to_addr == Some(a) && is_pat && to_port == Some(p),
    }
}

fn src_nat(ev: &Event, n: &Nat) -> bool {
    let (o, r) = (&ev.orig, &ev.reply);
    nat(
        n,
        done(ev, IPS_SRC_NAT_DONE),
        r.dst != o.src,
        dst_key(r) != src_key(o),
        r.dst,
        dst_key(r),
    )
}

fn dst_nat(ev: &Event, n: &Nat) -> bool {
    let (o, r) = (&ev.orig, &ev.reply);
    // The ICMP id belongs to the source side: a destination translation
    // changes the address alone.
    nat(
        n,
        done(ev, IPS_DST_NAT_DONE),
        r.src != o.dst,
        r.sport != o.dport,
        r.src,
        r.sport,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventType;

    fn v4(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// A TCP NEW 10.0.0.2:40000 -> 192.0.2.1:80, its reply from `rsrc:rsport`
    /// to `rdst:rdport`, with `status`.
    fn tcp(rsrc: &str, rsport: u16, rdst: &str, rdport: u16, status: Option<u32>) -> Event {
        let mut ev = Event::new(EventType::New, libc::AF_INET as u8, 0);
        ev.orig = Tuple {
            src: Some(v4("10.0.0.2")),
            dst: Some(v4("192.0.2.1")),
            proto: Some(6),
            sport: Some(40000),
            dport: Some(80),
            ..Tuple::default()
        };
        ev.reply = Tuple {
            src: Some(v4(rsrc)),
            dst: Some(v4(rdst)),
            proto: Some(6),
            sport: Some(rsport),
            dport: Some(rdport),
            ..Tuple::default()
        };
        ev.status = status;
        ev
    }

    const DONE: u32 = IPS_SRC_NAT_DONE | IPS_DST_NAT_DONE;

    fn plain() -> Event {
        tcp("192.0.2.1", 80, "10.0.0.2", 40000, Some(DONE))
    }

    fn snat() -> Event {
        tcp("192.0.2.1", 80, "198.51.100.7", 40000, Some(DONE))
    }

    fn spat() -> Event {
        tcp("192.0.2.1", 80, "10.0.0.2", 1024, Some(DONE))
    }

    fn dnat() -> Event {
        tcp("10.9.9.9", 8080, "10.0.0.2", 40000, Some(DONE))
    }

    fn keeps(f: Filter, ev: &Event) -> bool {
        f.keeps(ev)
    }

    #[test]
    fn an_empty_filter_keeps_everything() {
        assert!(Filter::default().is_empty());
        assert!(keeps(Filter::default(), &plain()));
        assert!(keeps(
            Filter::default(),
            &Event::new(EventType::Destroy, 10, 0)
        ));
    }

    #[test]
    fn addresses_and_prefixes_of_either_family() {
        let net = |a: &str, prefix| Net {
            addr: v4(a),
            prefix,
        };
        let with = |c| Filter {
            orig_src: Some(c),
            ..Filter::default()
        };
        assert!(keeps(with(Cond::is(net("10.0.0.2", 32))), &plain()));
        assert!(!keeps(with(Cond::is(net("10.0.0.3", 32))), &plain()));
        assert!(keeps(with(Cond::is(net("10.0.0.0", 8))), &plain()));
        assert!(
            keeps(with(Cond::is(net("11.0.0.0", 7))), &plain()),
            "10/7 holds 11/8"
        );
        assert!(!keeps(with(Cond::is(net("11.0.0.0", 8))), &plain()));
        assert!(keeps(with(Cond::is(net("0.0.0.0", 0))), &plain()));
        assert!(!keeps(with(Cond::not(net("10.0.0.0", 8))), &plain()));
        // Another family is never inside: its negation keeps it.
        assert!(!keeps(with(Cond::is(net("::", 0))), &plain()));
        assert!(keeps(with(Cond::not(net("::", 0))), &plain()));
        let mut v6 = plain();
        v6.orig.src = Some(v4("fd00::1:2"));
        assert!(keeps(with(Cond::is(net("fd00::", 64))), &v6));
        assert!(keeps(with(Cond::is(net("fd00::1:0", 112))), &v6));
        assert!(!keeps(with(Cond::is(net("fd00::1:0", 127))), &v6));
        assert!(keeps(with(Cond::is(net("fd00::1:2", 128))), &v6));
        let reply = Filter {
            reply_src: Some(Cond::is(net("192.0.2.1", 32))),
            reply_dst: Some(Cond::is(net("10.0.0.2", 32))),
            orig_dst: Some(Cond::is(net("192.0.2.0", 24))),
            ..Filter::default()
        };
        assert!(keeps(reply.clone(), &plain()));
        assert!(!keeps(reply, &snat()), "reply_dst is the translated one");
        assert_eq!(net("10.1.2.3", 8).mask_bits(), 0xff00_0000);
        assert_eq!(net("::", 0).mask_bits(), 0);
        assert_eq!(
            Net {
                addr: v4("::1"),
                prefix: 128
            }
            .mask_bits(),
            u128::MAX
        );
    }

    #[test]
    fn protocol_ports_zone_and_status() {
        let ev = plain();
        let f = |f: Filter| keeps(f, &ev);
        assert!(f(Filter {
            proto: Some(Cond::is(6)),
            ..Filter::default()
        }));
        assert!(!f(Filter {
            proto: Some(Cond::is(17)),
            ..Filter::default()
        }));
        assert!(f(Filter {
            proto: Some(Cond::not(17)),
            ..Filter::default()
        }));
        assert!(f(Filter {
            sport: Some(Cond::is(40000)),
            dport: Some(Cond::is(80)),
            ..Filter::default()
        }));
        assert!(
            !f(Filter {
                sport: Some(Cond::is(80)),
                ..Filter::default()
            }),
            "sport is the original source's"
        );
        assert!(f(Filter {
            dport: Some(Cond::not(53)),
            ..Filter::default()
        }));
        let mut icmp = ev.clone();
        icmp.orig.sport = None;
        icmp.orig.dport = None;
        assert!(!keeps(
            Filter {
                dport: Some(Cond::is(80)),
                ..Filter::default()
            },
            &icmp
        ));
        // No CTA_ZONE is the default zone, 0.
        assert!(f(Filter {
            zone: Some(Cond::is(0)),
            ..Filter::default()
        }));
        assert!(!f(Filter {
            zone: Some(Cond::is(1)),
            ..Filter::default()
        }));
        let mut zoned = ev.clone();
        zoned.zone = Some(1);
        assert!(keeps(
            Filter {
                zone: Some(Cond::is(1)),
                ..Filter::default()
            },
            &zoned
        ));
        assert!(keeps(
            Filter {
                zone: Some(Cond::not(0)),
                ..Filter::default()
            },
            &zoned
        ));
        // Every bit of `set` is set, every bit of `clear` clear.
        let status = |set, clear| Filter {
            status: Some(Status { set, clear }),
            ..Filter::default()
        };
        let mut st = ev.clone();
        st.status = Some(0b110);
        assert!(keeps(status(0b100, 0), &st));
        assert!(keeps(status(0b110, 0), &st));
        assert!(!keeps(status(0b101, 0), &st));
        assert!(keeps(status(0b100, 0b1), &st));
        assert!(!keeps(status(0, 0b10), &st));
        assert!(keeps(status(0, 0), &st));
        st.status = None;
        assert!(!keeps(status(0b100, 0), &st));
        assert!(keeps(status(0, 0b100), &st));
    }

    #[test]
    fn marks_are_masked_and_an_absent_mark_matches_none() {
        let m = |value, mask| Filter {
            mark: Some(Cond::is(Mark { value, mask })),
            ..Filter::default()
        };
        let mut ev = plain();
        assert!(
            !keeps(m(0, u32::MAX), &ev),
            "no CTA_MARK: conntrack's mark_cmp fails"
        );
        ev.mark = Some(0x1234);
        assert!(keeps(m(0x1234, u32::MAX), &ev));
        assert!(keeps(m(0x34, 0xff), &ev));
        assert!(!keeps(m(0x35, 0xff), &ev));
        assert!(!keeps(m(0x1234, 0xff), &ev), "the value is not masked");
        ev.mark = Some(0);
        assert!(keeps(m(0, u32::MAX), &ev));
        let not = Filter {
            mark: Some(Cond::not(Mark { value: 1, mask: 1 })),
            ..Filter::default()
        };
        assert!(keeps(not, &ev));
    }

    #[test]
    fn translations_as_conntrack_tells_them() {
        let any = Nat::default();
        let src = |n| Filter {
            src_nat: Some(Cond::is(n)),
            ..Filter::default()
        };
        let dst = |n| Filter {
            dst_nat: Some(Cond::is(n)),
            ..Filter::default()
        };
        let either = |n| Filter {
            any_nat: Some(Cond::is(n)),
            ..Filter::default()
        };
        for (ev, s, d) in [
            (plain(), false, false),
            (snat(), true, false),
            (spat(), true, false),
            (dnat(), false, true),
        ] {
            assert_eq!(keeps(src(any), &ev), s, "{ev:?}");
            assert_eq!(keeps(dst(any), &ev), d, "{ev:?}");
            assert_eq!(keeps(either(any), &ev), s || d, "{ev:?}");
            let not = Filter {
                any_nat: Some(Cond::not(any)),
                ..Filter::default()
            };
            assert_eq!(keeps(not, &ev), !(s || d));
        }
        let to = |a: &str| Nat {
            addr: Some(v4(a)),
            port: None,
        };
        assert!(keeps(src(to("198.51.100.7")), &snat()));
        assert!(!keeps(src(to("198.51.100.8")), &snat()));
        assert!(keeps(dst(to("10.9.9.9")), &dnat()));
        assert!(keeps(either(to("10.9.9.9")), &dnat()));
        assert!(keeps(
            dst(Nat {
                addr: Some(v4("10.9.9.9")),
                port: Some(8080)
            }),
            &dnat()
        ));
        assert!(!keeps(
            dst(Nat {
                addr: Some(v4("10.9.9.9")),
                port: Some(8081)
            }),
            &dnat()
        ));
        assert!(keeps(
            src(Nat {
                addr: None,
                port: Some(1024)
            }),
            &spat()
        ));
        // Without the kernel's NAT_DONE bit nothing is translated; without
        // a status at all, the tuples decide.
        let mut undone = snat();
        undone.status = Some(0);
        assert!(!keeps(src(any), &undone));
        undone.status = None;
        assert!(keeps(src(any), &undone));
        // ICMP: the ids, not the reply's type and code.
        let mut ping = plain();
        for t in [&mut ping.orig, &mut ping.reply] {
            t.proto = Some(1);
            (t.sport, t.dport, t.icmp_id, t.icmp_type) = (None, None, Some(77), Some(8));
        }
        ping.reply.icmp_type = Some(0);
        assert!(!keeps(either(any), &ping));
        ping.reply.icmp_id = Some(78);
        assert!(keeps(src(any), &ping));
        assert!(!keeps(dst(any), &ping));
        // Both: both translations.
        let both = Filter {
            src_nat: Some(Cond::is(any)),
            dst_nat: Some(Cond::is(any)),
            ..Filter::default()
        };
        assert!(!keeps(both.clone(), &snat()));
        let mut twice = snat();
        twice.reply.src = Some(v4("10.9.9.9"));
        assert!(keeps(both, &twice));
    }
}
