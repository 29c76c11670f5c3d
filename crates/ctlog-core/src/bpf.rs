//! The config's protocol filter and conntrack's filters (conntrack_filter.rs) as a
//! classic BPF socket filter: the kernel drops unwanted events before they
//! are queued on the socket, so they cost no receive buffer, no system call
//! and no decoding.
//!
//! The program reads the layer-4 protocol where ctnetlink puts it, and
//! drops an event only when it has checked everything the decoder would
//! read to find that protocol: nlmsg_len is the message's length; the
//! message is a ctnetlink NEW or DELETE; its first attribute is
//! CTA_TUPLE_ORIG and its second CTA_TUPLE_REPLY, each laid out as the
//! kernel lays them out (CTA_TUPLE_IP with two IPv4 or two IPv6 addresses;
//! CTA_TUPLE_PROTO with CTA_PROTO_NUM first, then two ports or the three
//! ICMP or ICMPv6 fields; CTA_TUPLE_ZONE or nothing after), every length
//! exactly the kernel's and every attribute type compared whole, masked
//! with NLA_TYPE_MASK as the decoder masks it. It tells NEW, UPDATE and
//! DESTROY apart as the decoder does (message type, NLM_F_CREATE|NLM_F_EXCL),
//! and drops the event if that type's set lacks the protocol's class.
//!
//! The filter's conditions on the tuples (addresses and prefixes, the
//! protocol, the ports) are checked on the same bytes. For those on what
//! follows (mark, zone, status) the program walks the attributes after the
//! tuples to the message's end, unrolled (a program has no loops) for up
//! to WALK of them, and reads CTA_MARK, CTA_ZONE and CTA_STATUS as the
//! decoder does; the NAT conditions compare the two tuples' addresses and
//! ports (ICMP ids) with each other and read the status.
//!
//! Anything the program cannot read (another subsystem, another layout, a
//! short or broken tuple, an attribute that does not fit, more than WALK)
//! is kept, and the decoder reads it or counts it as an error: the reader
//! applies the filter again, so failing open changes nothing but the cost.
//! Inside the attributes after the tuples only those three are checked: a
//! message broken there is dropped by its protocol like any other. `vm`
//! runs the program as the kernel does, for the tests and the fuzz target
//! that hold the decoder to this.
//!
//! The kernel's attribute helpers (SKF_AD_NLATTR) are not used: they give
//! up on the event messages of current kernels (measured on 6.18: the
//! helper finds no attribute, so nothing was filtered).
//!
//! `asm` writes instructions with symbolic jumps and lays them out;
//! `compile` writes the program with it.

mod asm;
mod compile;
pub mod vm;

pub use asm::Insn;
