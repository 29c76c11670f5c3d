//! The assembler: classic BPF instructions with symbolic jumps, laid out
//! and resolved into `struct sock_filter`s once the program is written.

// Classic BPF (linux/filter.h, linux/bpf_common.h), as libc has them; a
// sock_filter's code is 16 bits, and every one of these fits.
pub(super) const LD: u16 = libc::BPF_LD as u16;
pub(super) const LDX: u16 = libc::BPF_LDX as u16;
pub(super) const ST: u16 = libc::BPF_ST as u16;
pub(super) const ALU: u16 = libc::BPF_ALU as u16;
pub(super) const JMP: u16 = libc::BPF_JMP as u16;
pub(super) const RET: u16 = libc::BPF_RET as u16;
pub(super) const MISC: u16 = libc::BPF_MISC as u16;
pub(super) const W: u16 = libc::BPF_W as u16;
pub(super) const H: u16 = libc::BPF_H as u16;
pub(super) const B: u16 = libc::BPF_B as u16;
pub(super) const IMM: u16 = libc::BPF_IMM as u16;
pub(super) const ABS: u16 = libc::BPF_ABS as u16;
pub(super) const IND: u16 = libc::BPF_IND as u16;
pub(super) const MEM: u16 = libc::BPF_MEM as u16;
pub(super) const LEN: u16 = libc::BPF_LEN as u16;
pub(super) const ADD: u16 = libc::BPF_ADD as u16;
pub(super) const OR: u16 = libc::BPF_OR as u16;
pub(super) const SUB: u16 = libc::BPF_SUB as u16;
pub(super) const AND: u16 = libc::BPF_AND as u16;
pub(super) const LSH: u16 = libc::BPF_LSH as u16;
pub(super) const JA: u16 = libc::BPF_JA as u16;
pub(super) const JEQ: u16 = libc::BPF_JEQ as u16;
pub(super) const JGE: u16 = libc::BPF_JGE as u16;
pub(super) const JGT: u16 = libc::BPF_JGT as u16;
pub(super) const X: u16 = libc::BPF_X as u16;
pub(super) const TAX: u16 = libc::BPF_TAX as u16;
pub(super) const TXA: u16 = libc::BPF_TXA as u16;

pub(super) const KEEP: u32 = u32::MAX;
pub(super) const DROP: u32 = 0;

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
pub(super) enum To {
    Next,
    /// The first `ret KEEP` after the jump: one follows every part of the
    /// program, so that no jump to it is longer than a jump can be (255).
    Keep,
    Label(usize),
}

/// The program being written: instructions with symbolic jumps.
#[derive(Default)]
pub(super) struct Asm {
    pub(super) insns: Vec<(u16, u32, To, To)>,
    labels: Vec<Option<usize>>,
    pub(super) keeps: Vec<usize>,
}

impl Asm {
    pub(super) fn op(&mut self, code: u16, k: u32) {
        self.insns.push((code, k, To::Next, To::Next));
    }

    pub(super) fn jump(&mut self, code: u16, k: u32, jt: To, jf: To) {
        self.insns.push((code, k, jt, jf));
    }

    pub(super) fn label(&mut self) -> usize {
        self.labels.push(None);
        self.labels.len() - 1
    }

    pub(super) fn place(&mut self, label: usize) {
        self.labels[label] = Some(self.insns.len());
    }

    /// Goes on only if A == k; else keeps the message.
    pub(super) fn expect(&mut self, k: u32) {
        self.jump(JMP | JEQ, k, To::Next, To::Keep);
    }

    /// A = the byte at X + `at`.
    pub(super) fn byte(&mut self, at: u32) {
        self.op(LD | B | IND, at);
    }

    /// A `ret KEEP` for the jumps before it, jumped over by what precedes.
    pub(super) fn keep_here(&mut self) {
        self.op(JMP | JA, 1);
        self.keeps.push(self.insns.len());
        self.op(RET, KEEP);
    }

    pub(super) fn resolve(&self) -> Vec<Insn> {
        self.insns
            .iter()
            .enumerate()
            .map(|(at, &(code, k, jt, jf))| {
                let target = |to: To| match to {
                    To::Next => at + 1,
                    To::Keep => self.keeps.iter().copied().find(|&p| p > at).unwrap_or(at),
                    To::Label(l) => self.labels[l].unwrap_or(at),
                };
                // Forward only, and short: a jump that is neither shows as
                // one to itself (0xff), which the tests refuse.
                let off = |to: To| {
                    target(to)
                        .checked_sub(at + 1)
                        .and_then(|d| u8::try_from(d).ok())
                        .unwrap_or(u8::MAX)
                };
                if code == JMP | JA {
                    // An unconditional jump's offset is its k (32 bits).
                    let k = match jt {
                        To::Next => k,
                        _ => target(jt).saturating_sub(at + 1) as u32,
                    };
                    return Insn {
                        code,
                        jt: 0,
                        jf: 0,
                        k,
                    };
                }
                Insn {
                    code,
                    jt: off(jt),
                    jf: off(jf),
                    k,
                }
            })
            .collect()
    }

    /// ORs `bits` into the scratch word `m`.
    pub(super) fn set_bits(&mut self, m: u32, bits: u32) {
        self.op(LD | MEM, m);
        self.op(ALU | OR, bits);
        self.op(ST, m);
    }
}
