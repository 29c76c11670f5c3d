//! The config's protocol filter as a classic BPF socket filter: the kernel
//! drops unwanted events before they are queued on the socket, so they cost
//! no receive buffer, no system call and no decoding.
//!
//! The program reads the layer-4 protocol where ctnetlink puts it: the
//! first attribute of an event is CTA_TUPLE_ORIG, whose first attribute is
//! CTA_TUPLE_IP (20 bytes for IPv4, 44 for IPv6) and whose second is
//! CTA_TUPLE_PROTO, which starts with CTA_PROTO_NUM. Each attribute type is
//! checked on the way. It tells NEW, UPDATE and DESTROY apart as the decoder
//! does (message type, NLM_F_CREATE|NLM_F_EXCL), and keeps the event if that
//! type's set holds the protocol. Anything else (another subsystem, another
//! layout, a short message) is kept: the filter in JavaScript still
//! applies, so failing open changes nothing but the cost.
//!
//! The kernel's attribute helpers (SKF_AD_NLATTR) are not used: they give
//! up on the event messages of current kernels (measured on 6.18: the
//! helper finds no attribute, so nothing was filtered).

use crate::decode;
use crate::event::EventType;

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

/// The protocol classes kept, per event type (EventType::index).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProtoFilter(pub [u8; 3]);

impl Default for ProtoFilter {
    fn default() -> Self {
        ProtoFilter([ALL; 3])
    }
}

// Classic BPF (linux/filter.h, linux/bpf_common.h), as libc has them; a
// sock_filter's code is 16 bits, and every one of these fits.
const LD: u16 = libc::BPF_LD as u16;
const LDX: u16 = libc::BPF_LDX as u16;
const ST: u16 = libc::BPF_ST as u16;
const ALU: u16 = libc::BPF_ALU as u16;
const JMP: u16 = libc::BPF_JMP as u16;
const RET: u16 = libc::BPF_RET as u16;
const MISC: u16 = libc::BPF_MISC as u16;
const W: u16 = libc::BPF_W as u16;
const B: u16 = libc::BPF_B as u16;
const ABS: u16 = libc::BPF_ABS as u16;
const IND: u16 = libc::BPF_IND as u16;
const MEM: u16 = libc::BPF_MEM as u16;
const LEN: u16 = libc::BPF_LEN as u16;
const ADD: u16 = libc::BPF_ADD as u16;
const AND: u16 = libc::BPF_AND as u16;
const LSH: u16 = libc::BPF_LSH as u16;
const JEQ: u16 = libc::BPF_JEQ as u16;
const JGE: u16 = libc::BPF_JGE as u16;
const X: u16 = libc::BPF_X as u16;
const TAX: u16 = libc::BPF_TAX as u16;
const TXA: u16 = libc::BPF_TXA as u16;

/// Attributes start after the netlink header (16) and nfgenmsg (4).
const ORIG_AT: u32 = 20;
/// CTA_TUPLE_ORIG's header, then CTA_TUPLE_IP's.
const IP_AT: u32 = ORIG_AT + 4;
// The kernel's names, as the decoder declares them; BPF compares 32 bits.
const CTA_TUPLE_ORIG: u32 = decode::CTA_TUPLE_ORIG as u32;
const CTA_TUPLE_IP: u32 = decode::CTA_TUPLE_IP as u32;
const CTA_TUPLE_PROTO: u32 = decode::CTA_TUPLE_PROTO as u32;
const CTA_PROTO_NUM: u32 = decode::CTA_PROTO_NUM as u32;
const NFNL_SUBSYS_CTNETLINK: u32 = decode::NFNL_SUBSYS_CTNETLINK as u32;
const IPCTNL_MSG_CT_DELETE: u32 = decode::IPCTNL_MSG_CT_DELETE as u32;
/// NLM_F_CREATE (0x400) | NLM_F_EXCL (0x200), in the flags' high byte.
const CREATE_OR_EXCL_HI: u32 = 0x06;

// Netlink headers and attribute headers are in host byte order; BPF loads
// single bytes, so which byte of a u16 is which depends on it.
#[cfg(target_endian = "little")]
const LO: u32 = 0;
#[cfg(target_endian = "big")]
const LO: u32 = 1;
const HI: u32 = 1 - LO;
/// nlmsg_type (u16 at 4) = subsystem << 8 | message; nlmsg_flags (u16 at 6).
const TYPE_MSG: u32 = 4 + LO;
const TYPE_SUBSYS: u32 = 4 + HI;
const FLAGS_HI: u32 = 6 + HI;

const KEEP: u32 = u32::MAX;
const DROP: u32 = 0;

/// One instruction, as `struct sock_filter`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// A jump target, resolved once the program is laid out.
#[derive(Clone, Copy)]
enum To {
    Next,
    Keep,
    Type(usize),
    Ret(usize, usize),
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

    /// The program. Layout: check the subsystem and the attributes on the
    /// way to the protocol, put it in X, find the event type, then per type
    /// (NEW, UPDATE, DESTROY) compare X and return.
    pub fn program(&self) -> Vec<Insn> {
        let mut p: Vec<(u16, u32, To, To)> = vec![
            // Every fixed offset below is inside the message.
            (LD | W | LEN, 0, To::Next, To::Next),
            (JMP | JGE, IP_AT + 4, To::Next, To::Keep),
            (LD | B | ABS, TYPE_SUBSYS, To::Next, To::Next),
            (JMP | JEQ, NFNL_SUBSYS_CTNETLINK, To::Next, To::Keep),
            (LD | B | ABS, ORIG_AT + 2 + LO, To::Next, To::Next),
            (JMP | JEQ, CTA_TUPLE_ORIG, To::Next, To::Keep),
            (LD | B | ABS, IP_AT + 2 + LO, To::Next, To::Next),
            (JMP | JEQ, CTA_TUPLE_IP, To::Next, To::Keep),
            // X = where CTA_TUPLE_PROTO starts: after CTA_TUPLE_IP, aligned.
            (LD | B | ABS, IP_AT + HI, To::Next, To::Next),
            (ALU | LSH, 8, To::Next, To::Next),
            (MISC | TAX, 0, To::Next, To::Next),
            (LD | B | ABS, IP_AT + LO, To::Next, To::Next),
            (ALU | ADD | X, 0, To::Next, To::Next),
            (ALU | ADD, 3, To::Next, To::Next),
            (ALU | AND, 0xfffc, To::Next, To::Next),
            (ALU | ADD, IP_AT, To::Next, To::Next),
            (ST, 0, To::Next, To::Next),
            // The protocol byte (X + 8) must be inside the message.
            (ALU | ADD, 9, To::Next, To::Next),
            (MISC | TAX, 0, To::Next, To::Next),
            (LD | W | LEN, 0, To::Next, To::Next),
            (JMP | JGE | X, 0, To::Next, To::Keep),
            (LDX | W | MEM, 0, To::Next, To::Next),
            (LD | B | IND, 2 + LO, To::Next, To::Next),
            (JMP | JEQ, CTA_TUPLE_PROTO, To::Next, To::Keep),
            (LD | B | IND, 6 + LO, To::Next, To::Next),
            (JMP | JEQ, CTA_PROTO_NUM, To::Next, To::Keep),
            (LD | B | IND, 8, To::Next, To::Next),
            (MISC | TAX, 0, To::Next, To::Next),
            (LD | B | ABS, TYPE_MSG, To::Next, To::Next),
            (JMP | JEQ, IPCTNL_MSG_CT_DELETE, To::Type(2), To::Next),
            (LD | B | ABS, FLAGS_HI, To::Next, To::Next),
            (ALU | AND, CREATE_OR_EXCL_HI, To::Next, To::Next),
            (JMP | JEQ, 0, To::Type(1), To::Type(0)),
        ];
        let mut types = [0usize; 3];
        let mut rets = [[0usize; 4]; 3];
        for (t, start) in types.iter_mut().enumerate() {
            *start = p.len();
            p.push((MISC | TXA, 0, To::Next, To::Next));
            p.push((JMP | JEQ, libc::IPPROTO_TCP as u32, To::Ret(t, 0), To::Next));
            p.push((JMP | JEQ, libc::IPPROTO_UDP as u32, To::Ret(t, 1), To::Next));
            p.push((
                JMP | JEQ,
                libc::IPPROTO_ICMP as u32,
                To::Ret(t, 2),
                To::Next,
            ));
            for (class, at) in [OTHER, TCP, UDP, ICMP].into_iter().zip([3, 0, 1, 2]) {
                rets[t][at] = p.len();
                let keep = self.0[t] & class != 0;
                p.push((RET, if keep { KEEP } else { DROP }, To::Next, To::Next));
            }
        }
        let keep = p.len();
        p.push((RET, KEEP, To::Next, To::Next));
        let resolve = |at: usize, to: To| -> u8 {
            let target = match to {
                To::Next => at + 1,
                To::Keep => keep,
                To::Type(t) => types[t],
                To::Ret(t, c) => rets[t][c],
            };
            // Forward only, and short: the layout keeps every jump under 256.
            u8::try_from(target - (at + 1)).unwrap_or(u8::MAX)
        };
        p.iter()
            .enumerate()
            .map(|(at, &(code, k, jt, jf))| Insn {
                code,
                jt: resolve(at, jt),
                jf: resolve(at, jf),
                k,
            })
            .collect()
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
    fn every_jump_lands_inside_the_program_and_forward() {
        let prog = ProtoFilter([TCP, UDP | OTHER, 0]).program();
        for (at, i) in prog.iter().enumerate() {
            if i.code & 0x07 == JMP {
                assert!(at + 1 + (i.jt as usize) < prog.len());
                assert!(at + 1 + (i.jf as usize) < prog.len());
            }
        }
        assert_eq!(prog.last().map(|i| (i.code, i.k)), Some((RET, KEEP)));
    }

    #[test]
    fn keeps_all_only_when_every_type_keeps_every_class() {
        assert!(ProtoFilter::default().keeps_all());
        assert!(!ProtoFilter([ALL, ALL, TCP]).keeps_all());
    }
}
