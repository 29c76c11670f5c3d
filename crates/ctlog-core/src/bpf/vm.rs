//! Runs a classic BPF program over one message as the kernel runs a socket
//! filter (net/core/filter.c), for the instructions the socket filter is
//! made of: the tests and the fuzz target check the program with it, on
//! the same bytes the decoder reads. No socket and no root needed.

use super::Insn;

/// The kernel's scratch memory: BPF_MEMWORDS words.
const MEMWORDS: usize = 16;

/// Why a program could not be run to its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// An instruction the protocol filter does not use (its code).
    Unknown(u16),
    /// The program counter left the program: a jump too far, or no return.
    OffTheEnd(usize),
    /// A scratch word past MEMWORDS (the kernel's checker refuses these).
    Memory(u32),
}

/// The value the program returns for `pkt`: 0 drops the message, anything
/// else keeps it. As in the kernel, a load past the end of the message
/// ends the program with 0.
pub fn run(prog: &[Insn], pkt: &[u8]) -> Result<u32, Fault> {
    let (mut a, mut x, mut mem, mut pc) = (0u32, 0u32, [0u32; MEMWORDS], 0usize);
    let len = u32::try_from(pkt.len()).unwrap_or(u32::MAX);
    let word = |k: u32| usize::try_from(k).ok().filter(|&i| i < MEMWORDS);
    loop {
        let i = *prog.get(pc).ok_or(Fault::OffTheEnd(pc))?;
        pc += 1;
        let byte = |at: Option<u32>| {
            at.and_then(|at| pkt.get(usize::try_from(at).ok()?))
                .map(|&b| u32::from(b))
        };
        let jump = |taken: bool| usize::from(if taken { i.jt } else { i.jf });
        match i.code {
            // BPF_LD|BPF_W|BPF_LEN, BPF_LD|BPF_IMM, BPF_LDX|BPF_IMM
            0x80 => a = len,
            0x00 => a = i.k,
            0x01 => x = i.k,
            // BPF_LD|BPF_MEM, BPF_LDX|BPF_MEM, BPF_ST
            0x60 => a = mem[word(i.k).ok_or(Fault::Memory(i.k))?],
            0x61 => x = mem[word(i.k).ok_or(Fault::Memory(i.k))?],
            0x02 => mem[word(i.k).ok_or(Fault::Memory(i.k))?] = a,
            // BPF_MISC|BPF_TAX, BPF_MISC|BPF_TXA
            0x07 => x = a,
            0x87 => a = x,
            // BPF_ALU: ADD, SUB (K and X), AND, OR, LSH (K)
            0x04 => a = a.wrapping_add(i.k),
            0x0c => a = a.wrapping_add(x),
            0x14 => a = a.wrapping_sub(i.k),
            0x1c => a = a.wrapping_sub(x),
            0x54 => a &= i.k,
            0x44 => a |= i.k,
            0x64 => a = a.checked_shl(i.k).unwrap_or(0),
            // BPF_RET|BPF_K
            0x06 => return Ok(i.k),
            // BPF_JMP: JA, JEQ and JGE (K and X), JGT (X)
            0x05 => pc = pc.saturating_add(usize::try_from(i.k).unwrap_or(usize::MAX)),
            0x15 => pc += jump(a == i.k),
            0x1d => pc += jump(a == x),
            0x35 => pc += jump(a >= i.k),
            0x3d => pc += jump(a >= x),
            0x2d => pc += jump(a > x),
            // BPF_LD|BPF_B|BPF_ABS, BPF_LD|BPF_B|BPF_IND
            0x30 => match byte(Some(i.k)) {
                Some(b) => a = b,
                None => return Ok(0),
            },
            0x50 => match byte(x.checked_add(i.k)) {
                Some(b) => a = b,
                None => return Ok(0),
            },
            // BPF_LD|BPF_H|BPF_IND, BPF_LD|BPF_W|BPF_IND: network byte order
            0x48 | 0x40 => {
                let n = if i.code == 0x48 { 2 } else { 4 };
                let at = x.checked_add(i.k).and_then(|at| usize::try_from(at).ok());
                match at.and_then(|at| pkt.get(at..at.checked_add(n)?)) {
                    Some(b) => a = b.iter().fold(0, |a, &b| a << 8 | u32::from(b)),
                    None => return Ok(0),
                }
            }
            other => return Err(Fault::Unknown(other)),
        }
    }
}
