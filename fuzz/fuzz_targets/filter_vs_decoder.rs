//! The kernel's socket filter beside the decoder. The input is the
//! protocol sets kept for NEW, UPDATE and DESTROY (a byte each), then one
//! message; the filter runs as the kernel runs it (bpf::vm) for those sets,
//! for sets that keep nothing, for those sets with conditions on the
//! tuples (conntrack_filter::Filter), and with conditions on what follows them (mark,
//! zone, status) and on both tuples with the status (NAT). Whenever it drops the message, the decoder must agree:
//! for the tuple conditions, from the part the filter checks (the header
//! and the two tuples) it reads an event that the sets or the conditions
//! drop, and from the whole message the same tuples; for the others, the
//! whole message decodes to an event they drop, or to none (what follows
//! the tuples is read for those three attributes only).
#![no_main]

use ctlog_core::bpf::vm;
use ctlog_core::conntrack_filter::{Cond, Filter, Mark, Nat, Net, Status};
use ctlog_core::decode_message;
use ctlog_core::kind::{ProtoFilter, ALL};
use libfuzzer_sys::fuzz_target;

/// The message cut after its second attribute, nlmsg_len saying so: what
/// the filter read. None if the message has no such two attributes.
fn tuples_only(msg: &[u8]) -> Option<Vec<u8>> {
    let len_at = |at: usize| -> Option<usize> {
        let b = msg.get(at..at + 2)?;
        Some(usize::from(u16::from_ne_bytes([b[0], b[1]])))
    };
    // NLA_ALIGN: the next attribute starts on a 4-byte boundary.
    let reply = 20 + ((len_at(20)? + 3) & !3);
    let end = reply + len_at(reply)?;
    let mut m = msg.get(..end)?.to_vec();
    let n = u32::try_from(end).ok()?;
    m[..4].copy_from_slice(&n.to_ne_bytes());
    Some(m)
}

/// Conditions on every part of the tuples the program reads, of both
/// families, some negated.
fn conditions() -> Filter {
    let net = |a: &str, prefix| Net {
        addr: a.parse().expect("an address"),
        prefix,
    };
    Filter {
        orig_src: Some(Cond::not(net("10.0.0.0", 8))),
        orig_dst: Some(Cond::not(net("fd00::", 9))),
        reply_src: Some(Cond::not(net("127.0.0.1", 32))),
        reply_dst: Some(Cond::not(net("::1", 128))),
        proto: Some(Cond::not(58)),
        sport: Some(Cond::not(53)),
        dport: Some(Cond::not(80)),
        ..Filter::default()
    }
}

/// Conditions on the attributes after the tuples, each failing only on
/// rare values.
fn after_tuples() -> Filter {
    Filter {
        mark: Some(Cond::not(Mark {
            value: 0x10,
            mask: 0xff,
        })),
        zone: Some(Cond::not(7)),
        status: Some(Status {
            set: 0,
            clear: 1 << 9,
        }),
        src_nat: Some(Cond::not(Nat {
            addr: "127.0.0.9".parse().ok(),
            port: None,
        })),
        any_nat: Some(Cond::not(Nat {
            addr: None,
            port: Some(9),
        })),
        ..Filter::default()
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((sets, msg)) = data.split_first_chunk::<3>() else {
        return;
    };
    let sets = ProtoFilter(sets.map(|s| s & ALL));
    let conds = conditions();
    let none = Filter::default();
    for (protocols, filter) in [(sets, &none), (ProtoFilter([0; 3]), &none), (sets, &conds)] {
        let verdict =
            vm::run(&protocols.program_with(filter), msg).expect("the program runs to a return");
        if verdict != 0 {
            continue;
        }
        let part = tuples_only(msg).expect("dropped: the message has two tuples");
        let ev = match decode_message(&part) {
            Ok(Some(ev)) => ev,
            other => panic!("dropped, but its tuples decode to {other:?}"),
        };
        assert!(
            !(protocols.keeps(ev.kind, ev.orig.proto) && filter.keeps(&ev)),
            "dropped {ev:?}"
        );
        if let Ok(Some(whole)) = decode_message(msg) {
            assert_eq!(
                (whole.kind, &whole.orig, &whole.reply),
                (ev.kind, &ev.orig, &ev.reply)
            );
        }
    }
    let after = after_tuples();
    let verdict = vm::run(&sets.program_with(&after), msg).expect("the program runs to a return");
    if verdict == 0 {
        if let Ok(Some(ev)) = decode_message(msg) {
            assert!(
                !(sets.keeps(ev.kind, ev.orig.proto) && after.keeps(&ev)),
                "dropped {ev:?}"
            );
        }
    }
});
