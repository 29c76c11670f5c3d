//! The program compiler: the protocol sets and conntrack's filter as one
//! socket filter, checked as the module comment of bpf.rs says.

use std::net::IpAddr;

use super::asm::{
    Asm, Insn, To, ABS, ADD, ALU, AND, B, DROP, H, IMM, IND, JA, JEQ, JGE, JGT, JMP, KEEP, LD, LDX,
    LEN, LSH, MEM, MISC, RET, ST, SUB, TAX, TXA, W, X,
};
use crate::conntrack_filter::{Cond, Filter, Nat, Net};
use crate::consts::{self, IPS_DST_NAT_DONE, IPS_SRC_NAT_DONE, NLA_TYPE_MASK};
use crate::kind::{ProtoFilter, ICMP, OTHER, TCP, UDP};

/// Attributes start after the netlink header (16) and nfgenmsg (4).
const ATTRS_AT: u32 = (consts::NLMSG_HDRLEN + consts::NFGENMSG_LEN) as u32;

// Netlink headers and attribute headers are in host byte order; BPF loads
// single bytes, so which byte of a u16 is which depends on it.
#[cfg(target_endian = "little")]
const LO: u32 = 0;
#[cfg(target_endian = "big")]
const LO: u32 = 1;
const HI: u32 = 1 - LO;
/// nlmsg_len (u32 at 0): its four bytes, least significant first.
#[cfg(target_endian = "little")]
const LEN_BYTES: [u32; 4] = [0, 1, 2, 3];
#[cfg(target_endian = "big")]
const LEN_BYTES: [u32; 4] = [3, 2, 1, 0];
/// nlmsg_type (u16 at 4) = subsystem << 8 | message; nlmsg_flags (u16 at 6).
const TYPE_MSG: u32 = 4 + LO;
const TYPE_SUBSYS: u32 = 4 + HI;
const FLAGS_HI: u32 = 6 + HI;
/// NLM_F_CREATE | NLM_F_EXCL, in the flags' high byte.
const CREATE_OR_EXCL_HI: u32 = ((consts::NLM_F_CREATE | consts::NLM_F_EXCL) >> 8) as u32;
/// NLA_TYPE_MASK's bits in a type's high byte.
const TYPE_MASK_HI: u32 = (NLA_TYPE_MASK >> 8) as u32;

// The layouts the kernel writes (ctnetlink_dump_tuples and the l3/l4
// protocols' tuple_to_nlattr): an attribute's nla_len, padding not counted
// but for the nests, which end where their last attribute's padding ends.
const NLA_HDR: u32 = consts::NLA_HDRLEN as u32;
const IPV4_ADDR: u32 = NLA_HDR + 4;
const IPV6_ADDR: u32 = NLA_HDR + 16;
const IPV4_NEST: u32 = NLA_HDR + 2 * IPV4_ADDR;
const IPV6_NEST: u32 = NLA_HDR + 2 * IPV6_ADDR;
const U8_ATTR: u32 = NLA_HDR + 1;
const U16_ATTR: u32 = NLA_HDR + 2;
/// A u8 or u16 attribute with its padding: where the next one starts.
const SMALL_PADDED: u32 = 8;
/// CTA_PROTO_NUM and two ports.
const PORTS_NEST: u32 = NLA_HDR + 3 * SMALL_PADDED;
/// CTA_PROTO_NUM, the ICMP id, type and code.
const ICMP_NEST: u32 = NLA_HDR + 4 * SMALL_PADDED;

// Scratch words.
/// Where the attribute being checked starts.
const M_AT: u32 = 0;
/// Bytes of the tuple not checked yet.
const M_LEFT: u32 = 1;
/// The original tuple's protocol.
const M_PROTO: u32 = 2;
const M_TMP: u32 = 3;
/// Not 0 once a condition of the Filter failed (checked after the tuples).
const M_MISS: u32 = 4;
/// The last CTA_ZONE, CTA_STATUS and CTA_MARK the walk found (0 if none),
/// and which of the last two it found (SEEN_MARK, SEEN_STATUS).
const M_ZONE: u32 = 5;
const M_STATUS: u32 = 6;
const M_MARK: u32 = 7;
const M_SEEN: u32 = 8;
const SEEN_MARK: u32 = 1;
const SEEN_STATUS: u32 = 2;
/// Where each tuple's source address starts, and its CTA_TUPLE_PROTO.
const M_OADDR: u32 = 9;
const M_RADDR: u32 = 10;
const M_OL4: u32 = 11;
const M_RL4: u32 = 12;
/// The tuples' shapes: SHAPE_V6 and SHAPE_ICMP, shifted by 0 for the
/// original tuple and by 1 for the reply's.
const M_SHAPE: u32 = 13;
const SHAPE_V6: u32 = 1;
const SHAPE_ICMP: u32 = 4;

/// The attributes after the tuples the walk reads at most; the kernel
/// sends about 12 (a DESTROY with counters, timestamps and a mark), and a
/// message with more than this is kept.
const WALK: usize = 32;

impl Asm {
    /// Goes on only if the attribute header at X + `at` has nla_len `len`
    /// (below 256, as every length checked here is) and the type `kind`.
    fn header(&mut self, at: u32, len: Option<u32>, kind: u16) {
        if let Some(len) = len {
            self.byte(at + HI);
            self.expect(0);
            self.byte(at + LO);
            self.expect(len);
        }
        self.byte(at + 2 + HI);
        self.op(ALU | AND, TYPE_MASK_HI);
        self.expect(0);
        self.byte(at + 2 + LO);
        self.expect(u32::from(kind));
    }

    /// Goes on only if A, where something ends, is inside the message;
    /// else keeps it. Leaves X at M_AT.
    fn ends_inside(&mut self) {
        self.op(ST, M_TMP);
        self.op(LD | W | LEN, 0);
        self.op(LDX | W | MEM, M_TMP);
        self.jump(JMP | JGE | X, 0, To::Next, To::Keep);
        self.op(LDX | W | MEM, M_AT);
    }
}

impl ProtoFilter {
    /// The program for the protocol sets alone.
    pub fn program(&self) -> Vec<Insn> {
        self.program_with(&Filter::default())
    }

    /// Whether a socket filter is needed with `filter` beside these sets.
    pub fn needs_program(&self, filter: &Filter) -> bool {
        !self.keeps_all() || in_kernel(filter)
    }

    /// The program. Layout: check the header, then each tuple (X is where
    /// it starts), the original tuple's protocol in M_PROTO, and the
    /// filter's conditions on the tuples (a failed one marks M_MISS); drop
    /// if one failed; find the event type, then per type (NEW, UPDATE,
    /// DESTROY) compare and return.
    pub fn program_with(&self, filter: &Filter) -> Vec<Insn> {
        let mut p = Asm::default();
        // The kernel refuses a program that may load a scratch word before
        // storing it, and its check follows jumps loosely (a `ret` passes
        // what reached it on to the next instruction): all are stored first.
        p.op(LD | IMM, 0);
        for m in [
            M_AT, M_LEFT, M_PROTO, M_TMP, M_MISS, M_ZONE, M_STATUS, M_MARK, M_SEEN, M_OADDR,
            M_RADDR, M_OL4, M_RL4, M_SHAPE,
        ] {
            p.op(ST, m);
        }
        // The header: nlmsg_len is the message's length (the decoder reads
        // no more than it says), and the message is a ctnetlink event.
        p.op(LD | W | LEN, 0);
        p.jump(JMP | JGE, ATTRS_AT + NLA_HDR, To::Next, To::Keep);
        for &at in &LEN_BYTES[2..] {
            p.op(LD | B | ABS, at);
            p.expect(0);
        }
        p.op(LD | B | ABS, LEN_BYTES[1]);
        p.op(ALU | LSH, 8);
        p.op(MISC | TAX, 0);
        p.op(LD | B | ABS, LEN_BYTES[0]);
        p.op(ALU | ADD | X, 0);
        p.op(MISC | TAX, 0);
        p.op(LD | W | LEN, 0);
        p.jump(JMP | JEQ | X, 0, To::Next, To::Keep);
        p.op(LD | B | ABS, TYPE_SUBSYS);
        p.expect(consts::NFNL_SUBSYS_CTNETLINK.into());
        let event = p.label();
        p.op(LD | B | ABS, TYPE_MSG);
        p.jump(
            JMP | JEQ,
            consts::IPCTNL_MSG_CT_NEW.into(),
            To::Label(event),
            To::Next,
        );
        p.expect(consts::IPCTNL_MSG_CT_DELETE.into());
        p.place(event);
        p.op(LDX | W | IMM, ATTRS_AT);
        p.keep_here();
        let orig = Tuple {
            src: filter.orig_src.as_ref(),
            dst: filter.orig_dst.as_ref(),
            ports: Some([filter.sport.as_ref(), filter.dport.as_ref()]),
        };
        tuple(&mut p, consts::CTA_TUPLE_ORIG, &orig);
        p.keep_here();
        let reply = Tuple {
            src: filter.reply_src.as_ref(),
            dst: filter.reply_dst.as_ref(),
            ports: None,
        };
        tuple(&mut p, consts::CTA_TUPLE_REPLY, &reply);
        if walks(filter) {
            p.keep_here();
            walk(&mut p);
        }
        // The message is as the decoder reads it: a failed condition
        // drops the event.
        let drop = p.label();
        p.op(LD | MEM, M_MISS);
        p.jump(JMP | JEQ, 0, To::Next, To::Label(drop));
        if let Some(c) = &filter.zone {
            p.op(LD | MEM, M_ZONE);
            let (yes, no) = c.verdicts(To::Next, To::Label(drop));
            p.jump(JMP | JEQ, c.value.into(), yes, no);
        }
        if let Some(b) = &filter.status {
            for (bits, want) in [(b.set, b.set), (b.clear, 0)] {
                if bits != 0 {
                    p.op(LD | MEM, M_STATUS);
                    p.op(ALU | AND, bits);
                    p.jump(JMP | JEQ, want, To::Next, To::Label(drop));
                }
            }
        }
        if let Some(c) = &filter.mark {
            // No mark matches no value (conntrack's mark_cmp).
            let after = p.label();
            let (hit, miss) = c.verdicts(To::Label(after), To::Label(drop));
            p.op(LD | MEM, M_SEEN);
            p.op(ALU | AND, SEEN_MARK);
            p.jump(JMP | JEQ, 0, miss, To::Next);
            p.op(LD | MEM, M_MARK);
            if c.value.mask != u32::MAX {
                p.op(ALU | AND, c.value.mask);
            }
            p.jump(JMP | JEQ, c.value.value, hit, miss);
            p.place(after);
        }
        if let Some(c) = &filter.proto {
            p.op(LD | MEM, M_PROTO);
            let (yes, no) = c.verdicts(To::Next, To::Label(drop));
            p.jump(JMP | JEQ, c.value.into(), yes, no);
        }
        let go = p.label();
        p.jump(JMP | JA, 0, To::Label(go), To::Next);
        p.place(drop);
        p.op(RET, DROP);
        p.place(go);
        nat_conditions(&mut p, filter);
        // The event type, as the decoder tells them apart.
        let types = [p.label(), p.label(), p.label()];
        p.op(LD | B | ABS, TYPE_MSG);
        p.jump(
            JMP | JEQ,
            consts::IPCTNL_MSG_CT_DELETE.into(),
            To::Label(types[2]),
            To::Next,
        );
        p.op(LD | B | ABS, FLAGS_HI);
        p.op(ALU | AND, CREATE_OR_EXCL_HI);
        p.jump(JMP | JEQ, 0, To::Label(types[1]), To::Label(types[0]));
        for (t, &start) in types.iter().enumerate() {
            p.place(start);
            let rets = [p.label(), p.label(), p.label(), p.label()];
            p.op(LD | MEM, M_PROTO);
            for (proto, &ret) in [libc::IPPROTO_TCP, libc::IPPROTO_UDP, libc::IPPROTO_ICMP]
                .iter()
                .zip(&rets)
            {
                p.jump(JMP | JEQ, *proto as u32, To::Label(ret), To::Next);
            }
            // Any other protocol falls through to `other`'s return.
            for (class, &ret) in [OTHER, TCP, UDP, ICMP]
                .iter()
                .zip(&[rets[3], rets[0], rets[1], rets[2]])
            {
                p.place(ret);
                let keep = self.0[t] & class != 0;
                p.op(RET, if keep { KEEP } else { DROP });
            }
        }
        p.keeps.push(p.insns.len());
        p.op(RET, KEEP);
        p.resolve()
    }
}

/// The filter's conditions on one tuple.
struct Tuple<'a> {
    src: Option<&'a Cond<Net>>,
    dst: Option<&'a Cond<Net>>,
    /// The original tuple's: its source and destination ports. None for
    /// the reply tuple (its protocol is not read either).
    ports: Option<[Option<&'a Cond<u16>>; 2]>,
}

/// Whether the filter has a condition the program checks.
fn in_kernel(f: &Filter) -> bool {
    f.orig_src.is_some()
        || f.orig_dst.is_some()
        || f.reply_src.is_some()
        || f.reply_dst.is_some()
        || f.proto.is_some()
        || f.sport.is_some()
        || f.dport.is_some()
        || walks(f)
}

/// Whether the filter needs what follows the tuples (the NAT conditions
/// need the status).
fn walks(f: &Filter) -> bool {
    f.zone.is_some()
        || f.status.is_some()
        || f.mark.is_some()
        || f.src_nat.is_some()
        || f.dst_nat.is_some()
        || f.any_nat.is_some()
}

/// Which translation a NAT condition asks about.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    Src,
    Dst,
}

/// The NAT conditions (conntrack_filter.rs `src_nat`, `dst_nat`), each followed by
/// its `ret DROP`. They compare the two tuples, which must then be of one
/// family and one layout (ports or ICMP), as the kernel's are; other
/// messages are kept.
fn nat_conditions(p: &mut Asm, f: &Filter) {
    let conds = [
        (&f.src_nat, Some(Dir::Src)),
        (&f.dst_nat, Some(Dir::Dst)),
        (&f.any_nat, None),
    ];
    if conds.iter().all(|(c, _)| c.is_none()) {
        return;
    }
    let same = p.label();
    p.op(LD | MEM, M_SHAPE);
    for shape in [0, SHAPE_V6 * 3, SHAPE_ICMP * 3] {
        p.jump(JMP | JEQ, shape, To::Label(same), To::Next);
    }
    p.expect((SHAPE_V6 | SHAPE_ICMP) * 3);
    p.keep_here();
    p.place(same);
    for (c, dir) in conds {
        let Some(c) = c else { continue };
        let (holds, fails) = (p.label(), p.label());
        let (yes, no) = c.verdicts(To::Label(holds), To::Label(fails));
        match dir {
            Some(d) => translated(p, d, &c.value, yes, no),
            None => {
                let dst = p.label();
                translated(p, Dir::Src, &c.value, yes, To::Label(dst));
                p.place(dst);
                translated(p, Dir::Dst, &c.value, yes, no);
            }
        }
        p.place(fails);
        p.op(RET, DROP);
        p.place(holds);
    }
}

/// Jumps to `yes` if the tuples say the translation `d` was done, to
/// `n`'s address and port if it names them, else to `no`; as conntrack_filter.rs's
/// `nat`: the status's NAT_DONE bit (or no status), then the addresses
/// (`is_nat`), the ports or ICMP ids (`is_pat`) and what they became.
fn translated(p: &mut Asm, d: Dir, n: &Nat, yes: To, no: To) {
    let bit = match d {
        Dir::Src => IPS_SRC_NAT_DONE,
        Dir::Dst => IPS_DST_NAT_DONE,
    };
    let (done, not_done) = (p.label(), p.label());
    p.op(LD | MEM, M_SEEN);
    p.op(ALU | AND, SEEN_STATUS);
    p.jump(JMP | JEQ, 0, To::Label(done), To::Next);
    p.op(LD | MEM, M_STATUS);
    p.op(ALU | AND, bit);
    p.jump(JMP | JEQ, 0, To::Label(not_done), To::Label(done));
    p.place(not_done);
    p.jump(JMP | JA, 0, no, To::Next);
    p.place(done);
    match (n.addr, n.port) {
        (None, None) => {
            let pat = p.label();
            nat_test(p, Test::Nat, d, yes, To::Label(pat));
            p.place(pat);
            nat_test(p, Test::Pat, d, yes, no);
        }
        (addr, port) => {
            // Each of those asked must hold.
            let mut tests = vec![];
            if let Some(a) = addr {
                tests.extend([Test::Nat, Test::To(a)]);
            }
            if let Some(port) = port {
                tests.extend([Test::Pat, Test::ToPort(port)]);
            }
            for t in tests {
                let next = p.label();
                nat_test(p, t, d, To::Label(next), no);
                p.place(next);
            }
            p.jump(JMP | JA, 0, yes, To::Next);
        }
    }
}

/// One part of a translation's test.
#[derive(Clone, Copy)]
enum Test {
    /// The address changed.
    Nat,
    /// The port (ICMP: the id) changed.
    Pat,
    /// The address became this.
    To(IpAddr),
    /// The port (ICMP: the id) became this.
    ToPort(u16),
}

// Where a tuple's fields are: the addresses after the source address's
// start; the ports, or the ICMP id, after CTA_TUPLE_PROTO's.
const V4_DST: u32 = IPV4_ADDR;
const V6_DST: u32 = IPV6_ADDR;
const SPORT: u32 = NLA_HDR + SMALL_PADDED + NLA_HDR;
const DPORT: u32 = NLA_HDR + 2 * SMALL_PADDED + NLA_HDR;
/// The ICMP id is where the source port would be.
const ICMP_ID: u32 = SPORT;

/// Jumps to `t_true` or `t_false` as the test `t` of the translation `d`
/// says, for the shape of the tuples (one family, one layout: checked).
/// Conditional jumps stay inside; the two targets are reached by `ja`.
fn nat_test(p: &mut Asm, t: Test, d: Dir, t_true: To, t_false: To) {
    let (is, isnt) = (p.label(), p.label());
    // Both shapes of what the test reads: the family for addresses, the
    // layout for ports.
    let (other, bit) = match t {
        Test::Nat | Test::To(_) => (p.label(), SHAPE_V6),
        Test::Pat | Test::ToPort(_) => (p.label(), SHAPE_ICMP),
    };
    p.op(LD | MEM, M_SHAPE);
    p.op(ALU | AND, bit);
    p.jump(JMP | JEQ, 0, To::Next, To::Label(other));
    for alt in [false, true] {
        if alt {
            p.place(other);
        }
        let (words, dst) = if alt { (4, V6_DST) } else { (1, V4_DST) };
        let (dkey, icmp) = if alt { (ICMP_ID, true) } else { (DPORT, false) };
        match (t, d) {
            // The reply's destination is where the original source went.
            (Test::Nat, Dir::Src) => p.differ(W, M_OADDR, 0, M_RADDR, dst, words, is, isnt),
            (Test::Nat, Dir::Dst) => p.differ(W, M_RADDR, 0, M_OADDR, dst, words, is, isnt),
            (Test::Pat, Dir::Src) => p.differ(H, M_OL4, SPORT, M_RL4, dkey, 1, is, isnt),
            (Test::Pat, Dir::Dst) if !icmp => p.differ(H, M_RL4, SPORT, M_OL4, DPORT, 1, is, isnt),
            (Test::To(a), _) => {
                let at = if d == Dir::Src { dst } else { 0 };
                match a {
                    IpAddr::V4(a) if !alt => p.equal(W, M_RADDR, at, &[u32::from(a)], is, isnt),
                    IpAddr::V6(a) if alt => {
                        let w = u128::from(a);
                        let words = [96, 64, 32, 0].map(|s| (w >> s) as u32);
                        p.equal(W, M_RADDR, at, &words, is, isnt)
                    }
                    // Another family: never that address.
                    _ => p.jump(JMP | JA, 0, To::Label(isnt), To::Next),
                }
            }
            (Test::ToPort(port), Dir::Src) => p.equal(H, M_RL4, dkey, &[port.into()], is, isnt),
            (Test::ToPort(port), Dir::Dst) if !icmp => {
                p.equal(H, M_RL4, SPORT, &[port.into()], is, isnt)
            }
            // ICMP has no ports to translate on the destination's side.
            (Test::Pat | Test::ToPort(_), Dir::Dst) => {
                p.jump(JMP | JA, 0, To::Label(isnt), To::Next)
            }
        }
    }
    p.place(is);
    p.jump(JMP | JA, 0, t_true, To::Next);
    p.place(isnt);
    p.jump(JMP | JA, 0, t_false, To::Next);
}

impl Asm {
    /// Jumps to `yes` unless the `words` words (or one halfword, `size`
    /// H) at M[a] + ka and at M[b] + kb are equal; to `no` if they are.
    #[allow(clippy::too_many_arguments)] // two places, two offsets, what and where to go: one call reads as the comparison it is
    fn differ(
        &mut self,
        size: u16,
        a: u32,
        ka: u32,
        b: u32,
        kb: u32,
        words: u32,
        yes: usize,
        no: usize,
    ) {
        for i in 0..words {
            self.op(LDX | W | MEM, a);
            self.op(LD | size | IND, ka + 4 * i);
            self.op(ST, M_TMP);
            self.op(LDX | W | MEM, b);
            self.op(LD | size | IND, kb + 4 * i);
            self.op(LDX | W | MEM, M_TMP);
            self.jump(JMP | JEQ | X, 0, To::Next, To::Label(yes));
        }
        self.jump(JMP | JA, 0, To::Label(no), To::Next);
    }

    /// Jumps to `yes` if the words (or halfword, `size` H) at M[a] + ka
    /// are `value`, else to `no`.
    #[allow(clippy::too_many_arguments)] // as differ
    fn equal(&mut self, size: u16, a: u32, ka: u32, value: &[u32], yes: usize, no: usize) {
        for (i, &v) in (0u32..).zip(value) {
            self.op(LDX | W | MEM, a);
            self.op(LD | size | IND, ka + 4 * i);
            self.jump(JMP | JEQ, v, To::Next, To::Label(no));
        }
        self.jump(JMP | JA, 0, To::Label(yes), To::Next);
    }
}

/// Reads the attributes from X to the message's end as the decoder does
/// (each nla_len at least a header and within the message, the next one
/// NLA_ALIGNed after it, the type masked with NLA_TYPE_MASK), keeping the
/// last CTA_ZONE, CTA_STATUS and CTA_MARK in scratch, and whether there was
/// a mark. Keeps the message when an attribute does not fit, when one of
/// those three is not its exact size (the decoder refuses it), or when
/// there are more than WALK.
fn walk(p: &mut Asm) {
    let done = p.label();
    for _ in 0..WALK {
        let (next, zone, status, mark) = (p.label(), p.label(), p.label(), p.label());
        // The end, or past it after the last attribute's padding (`done`
        // is further than a conditional jump goes).
        let more = p.label();
        p.op(LD | W | LEN, 0);
        p.jump(JMP | JGT | X, 0, To::Label(more), To::Next);
        p.jump(JMP | JA, 0, To::Label(done), To::Next);
        p.place(more);
        // A header fits.
        p.op(MISC | TXA, 0);
        p.op(ST, M_AT);
        p.op(ALU | ADD, NLA_HDR);
        p.ends_inside();
        // nla_len (host order) in M_LEFT: at least a header, and it fits.
        p.byte(HI);
        p.op(ALU | LSH, 8);
        p.op(ST, M_TMP);
        p.byte(LO);
        p.op(LDX | W | MEM, M_TMP);
        p.op(ALU | ADD | X, 0);
        p.op(ST, M_LEFT);
        p.jump(JMP | JGE, NLA_HDR, To::Next, To::Keep);
        p.op(LDX | W | MEM, M_AT);
        p.op(ALU | ADD | X, 0);
        p.ends_inside();
        // The type: one of the three, or on to the next.
        p.byte(2 + HI);
        p.op(ALU | AND, TYPE_MASK_HI);
        p.jump(JMP | JEQ, 0, To::Next, To::Label(next));
        p.byte(2 + LO);
        p.jump(
            JMP | JEQ,
            consts::CTA_ZONE.into(),
            To::Label(zone),
            To::Next,
        );
        p.jump(
            JMP | JEQ,
            consts::CTA_STATUS.into(),
            To::Label(status),
            To::Next,
        );
        p.jump(
            JMP | JEQ,
            consts::CTA_MARK.into(),
            To::Label(mark),
            To::Label(next),
        );
        for (label, len, at) in [
            (zone, U16_ATTR, M_ZONE),
            (status, NLA_HDR + 4, M_STATUS),
            (mark, NLA_HDR + 4, M_MARK),
        ] {
            p.place(label);
            p.op(LD | MEM, M_LEFT);
            p.expect(len);
            // The value follows the header, in network byte order.
            p.op(LD | if len == U16_ATTR { H } else { W } | IND, NLA_HDR);
            p.op(ST, at);
            if at != M_ZONE {
                p.set_bits(M_SEEN, if at == M_MARK { SEEN_MARK } else { SEEN_STATUS });
            }
            p.jump(JMP | JA, 0, To::Label(next), To::Next);
        }
        // X past the attribute and its padding.
        p.place(next);
        p.op(LD | MEM, M_LEFT);
        p.op(ALU | ADD, NLA_HDR - 1);
        p.op(ALU | AND, !(NLA_HDR - 1));
        p.op(LDX | W | MEM, M_AT);
        p.op(ALU | ADD | X, 0);
        p.op(MISC | TAX, 0);
        p.keep_here();
    }
    // More attributes than WALK.
    p.op(RET, KEEP);
    p.place(done);
}

impl<T> Cond<T> {
    /// Where a test goes that found the value (`hit`) or not (`miss`),
    /// given to where a condition that holds goes and one that fails.
    fn verdicts(&self, holds: To, fails: To) -> (To, To) {
        if self.negate {
            (fails, holds)
        } else {
            (holds, fails)
        }
    }
}

impl Asm {
    /// Marks M_MISS.
    fn miss(&mut self) {
        self.op(LD | IMM, 1);
        self.op(ST, M_MISS);
    }

    /// Checks `c` on the address at X + `at`, of the family `v6` says:
    /// marks M_MISS if it fails.
    fn address(&mut self, at: u32, v6: bool, c: &Cond<Net>) {
        let (miss, done) = (self.label(), self.label());
        let (inside, outside) = c.verdicts(To::Label(done), To::Label(miss));
        if c.value.addr.is_ipv6() == v6 {
            let words: u32 = if v6 { 4 } else { 1 };
            let mask = c.value.mask_bits();
            let net = match c.value.addr {
                std::net::IpAddr::V4(a) => u128::from(u32::from(a)),
                std::net::IpAddr::V6(a) => u128::from(a),
            } & mask;
            for i in 0..words {
                let shift = 32 * (words - 1 - i);
                let (m, n) = ((mask >> shift) as u32, (net >> shift) as u32);
                if m == 0 {
                    continue;
                }
                // A word loads in network byte order, as addresses are.
                self.op(LD | W | IND, at + 4 * i);
                if m != u32::MAX {
                    self.op(ALU | AND, m);
                }
                self.jump(JMP | JEQ, n, To::Next, outside);
            }
            self.jump(JMP | JA, 0, inside, To::Next);
        } else {
            // Another family is never inside.
            self.jump(JMP | JA, 0, outside, To::Next);
        }
        self.place(miss);
        self.miss();
        self.place(done);
    }

    /// Checks `c` on the port at X + `at` (network byte order, as a
    /// halfword loads), or on no port (`at` None: the tuple has none).
    fn port(&mut self, at: Option<u32>, c: &Cond<u16>) {
        let (miss, done) = (self.label(), self.label());
        let (equal, other) = c.verdicts(To::Label(done), To::Label(miss));
        match at {
            Some(at) => {
                self.op(LD | H | IND, at);
                self.jump(JMP | JEQ, c.value.into(), equal, other);
            }
            None => self.jump(JMP | JA, 0, other, To::Next),
        }
        self.place(miss);
        self.miss();
        self.place(done);
    }
}

/// Checks the tuple `kind` at X, as the kernel lays it out (see the module
/// comment of bpf.rs), and leaves X where the next attribute starts; the
/// original tuple's protocol goes to M_PROTO, and the conditions `on` it
/// are checked (a failed one marks M_MISS). Whatever differs keeps the
/// message.
fn tuple(p: &mut Asm, kind: u16, on: &Tuple) {
    let orig = on.ports.is_some();
    // The header fits, and then the whole tuple: every load below is
    // inside it, hence inside the message.
    p.op(MISC | TXA, 0);
    p.op(ST, M_AT);
    p.op(ALU | ADD, NLA_HDR);
    p.ends_inside();
    p.header(0, None, kind);
    p.byte(HI);
    p.expect(0);
    p.byte(LO);
    p.op(ST, M_LEFT);
    p.op(ALU | ADD | X, 0);
    p.ends_inside();
    // CTA_TUPLE_IP: two IPv4 or two IPv6 addresses.
    let (v6, proto) = (p.label(), p.label());
    p.header(NLA_HDR, None, consts::CTA_TUPLE_IP);
    p.byte(NLA_HDR + HI);
    p.expect(0);
    p.byte(NLA_HDR + LO);
    p.jump(JMP | JEQ, IPV6_NEST, To::Label(v6), To::Next);
    p.expect(IPV4_NEST);
    for (nest, addr, kinds) in [
        (
            IPV4_NEST,
            IPV4_ADDR,
            [consts::CTA_IP_V4_SRC, consts::CTA_IP_V4_DST],
        ),
        (
            IPV6_NEST,
            IPV6_ADDR,
            [consts::CTA_IP_V6_SRC, consts::CTA_IP_V6_DST],
        ),
    ] {
        if nest == IPV6_NEST {
            p.place(v6);
        }
        p.op(LD | MEM, M_LEFT);
        p.jump(JMP | JGE, NLA_HDR + nest + PORTS_NEST, To::Next, To::Keep);
        p.header(2 * NLA_HDR, Some(addr), kinds[0]);
        p.header(2 * NLA_HDR + addr, Some(addr), kinds[1]);
        // The addresses follow their headers.
        let v6 = nest == IPV6_NEST;
        p.op(MISC | TXA, 0);
        p.op(ALU | ADD, 3 * NLA_HDR);
        p.op(ST, if orig { M_OADDR } else { M_RADDR });
        if v6 {
            p.set_bits(M_SHAPE, SHAPE_V6 << u32::from(!orig));
        }
        for (c, at) in [(on.src, 3 * NLA_HDR), (on.dst, 3 * NLA_HDR + addr)] {
            if let Some(c) = c {
                p.address(at, v6, c);
            }
        }
        p.op(LD | MEM, M_LEFT);
        p.op(ALU | SUB, NLA_HDR + nest);
        p.op(ST, M_LEFT);
        p.op(MISC | TXA, 0);
        p.op(ALU | ADD, NLA_HDR + nest);
        p.op(MISC | TAX, 0);
        p.jump(JMP | JA, 0, To::Label(proto), To::Next);
    }
    p.keep_here();
    p.place(proto);
    // CTA_TUPLE_PROTO: CTA_PROTO_NUM, then the ports or the ICMP fields.
    let (icmp, num) = (p.label(), p.label());
    p.op(MISC | TXA, 0);
    p.op(ST, M_AT);
    p.op(ST, if orig { M_OL4 } else { M_RL4 });
    p.header(0, None, consts::CTA_TUPLE_PROTO);
    p.byte(HI);
    p.expect(0);
    p.byte(LO);
    p.op(ST, M_TMP);
    p.jump(JMP | JEQ, ICMP_NEST, To::Label(icmp), To::Next);
    p.expect(PORTS_NEST);
    p.header(NLA_HDR, Some(U8_ATTR), consts::CTA_PROTO_NUM);
    p.header(
        NLA_HDR + SMALL_PADDED,
        Some(U16_ATTR),
        consts::CTA_PROTO_SRC_PORT,
    );
    p.header(
        NLA_HDR + 2 * SMALL_PADDED,
        Some(U16_ATTR),
        consts::CTA_PROTO_DST_PORT,
    );
    // The ports follow their headers.
    let ports = on.ports.unwrap_or_default();
    for (c, at) in ports
        .iter()
        .zip([NLA_HDR + SMALL_PADDED, NLA_HDR + 2 * SMALL_PADDED])
    {
        if let Some(c) = c {
            p.port(Some(at + NLA_HDR), c);
        }
    }
    p.jump(JMP | JA, 0, To::Label(num), To::Next);
    p.place(icmp);
    p.set_bits(M_SHAPE, SHAPE_ICMP << u32::from(!orig));
    p.op(LD | MEM, M_LEFT);
    p.jump(JMP | JGE, ICMP_NEST, To::Next, To::Keep);
    p.header(NLA_HDR, Some(U8_ATTR), consts::CTA_PROTO_NUM);
    let icmp6 = p.label();
    p.byte(NLA_HDR + SMALL_PADDED + 2 + HI);
    p.op(ALU | AND, TYPE_MASK_HI);
    p.expect(0);
    p.byte(NLA_HDR + SMALL_PADDED + 2 + LO);
    p.jump(
        JMP | JEQ,
        consts::CTA_PROTO_ICMPV6_ID.into(),
        To::Label(icmp6),
        To::Next,
    );
    for fields in [
        [
            consts::CTA_PROTO_ICMP_ID,
            consts::CTA_PROTO_ICMP_TYPE,
            consts::CTA_PROTO_ICMP_CODE,
        ],
        [
            consts::CTA_PROTO_ICMPV6_ID,
            consts::CTA_PROTO_ICMPV6_TYPE,
            consts::CTA_PROTO_ICMPV6_CODE,
        ],
    ] {
        if fields[0] == consts::CTA_PROTO_ICMPV6_ID {
            p.place(icmp6);
        }
        p.header(NLA_HDR + SMALL_PADDED, Some(U16_ATTR), fields[0]);
        p.header(NLA_HDR + 2 * SMALL_PADDED, Some(U8_ATTR), fields[1]);
        p.header(NLA_HDR + 3 * SMALL_PADDED, Some(U8_ATTR), fields[2]);
        // ICMP has no ports.
        for c in ports.iter().flatten() {
            p.port(None, c);
        }
        p.jump(JMP | JA, 0, To::Label(num), To::Next);
    }
    p.place(num);
    if orig {
        p.byte(2 * NLA_HDR);
        p.op(ST, M_PROTO);
    }
    // Past the nest: nothing left in the tuple, or CTA_TUPLE_ZONE (a u16).
    let (zone, done) = (p.label(), p.label());
    p.op(LD | MEM, M_LEFT);
    p.op(LDX | W | MEM, M_TMP);
    p.op(ALU | SUB | X, 0);
    p.op(ST, M_LEFT);
    p.op(LD | MEM, M_AT);
    p.op(ALU | ADD | X, 0);
    p.op(MISC | TAX, 0);
    p.op(LD | MEM, M_LEFT);
    p.jump(JMP | JEQ, 0, To::Label(done), To::Next);
    p.jump(JMP | JEQ, SMALL_PADDED, To::Label(zone), To::Keep);
    p.place(zone);
    p.header(0, Some(U16_ATTR), consts::CTA_TUPLE_ZONE);
    p.op(MISC | TXA, 0);
    p.op(ALU | ADD, SMALL_PADDED);
    p.op(MISC | TAX, 0);
    p.place(done);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_jump_lands_inside_the_program_and_forward() {
        let net = |a: &str, prefix| Net {
            addr: a.parse().unwrap(),
            prefix,
        };
        // The longest program: every tuple condition, IPv6 prefixes that
        // take all four words.
        let every = Filter {
            orig_src: Some(Cond::is(net("fd00::1", 127))),
            orig_dst: Some(Cond::not(net("fd00::2", 128))),
            reply_src: Some(Cond::is(net("fd00::3", 100))),
            reply_dst: Some(Cond::not(net("fd00::4", 97))),
            proto: Some(Cond::not(17)),
            sport: Some(Cond::is(1)),
            dport: Some(Cond::not(2)),
            mark: Some(Cond::not(crate::conntrack_filter::Mark {
                value: 1,
                mask: 3,
            })),
            zone: Some(Cond::is(4)),
            status: Some(crate::conntrack_filter::Status { set: 4, clear: 2 }),
            src_nat: Some(Cond::not(Nat {
                addr: "fd00::9".parse().ok(),
                port: Some(9),
            })),
            dst_nat: Some(Cond::is(Nat {
                addr: "10.0.0.9".parse().ok(),
                port: Some(9),
            })),
            any_nat: Some(Cond::is(Nat {
                addr: "fd00::9".parse().ok(),
                port: Some(9),
            })),
        };
        for f in [Filter::default(), every] {
            jumps_are_forward_and_short(&ProtoFilter([TCP, UDP | OTHER, 0]).program_with(&f));
        }
    }

    fn jumps_are_forward_and_short(prog: &[Insn]) {
        assert!(prog.len() <= 4096, "BPF_MAXINSNS");
        for (at, i) in prog.iter().enumerate() {
            if i.code == JMP | JA {
                assert!(at + 1 + (i.k as usize) < prog.len(), "{at}: {i:?}");
            } else if i.code & 0x07 == JMP {
                // 0xff is what a jump too long for a byte became.
                assert!(i.jt < u8::MAX && i.jf < u8::MAX, "{at}: {i:?}");
                assert!(at + 1 + (i.jt as usize) < prog.len());
                assert!(at + 1 + (i.jf as usize) < prog.len());
            }
        }
        assert_eq!(prog.last().map(|i| (i.code, i.k)), Some((RET, KEEP)));
    }
}
