//! The NETLINK_NETFILTER socket: bound, joined to the conntrack groups asked
//! for, with a receive buffer sized for bursts.
//!
//! netlink-sys is used rather than neli because it wraps every socket option
//! this needs (NETLINK_ADD/DROP_MEMBERSHIP, NETLINK_BROADCAST_ERROR,
//! NETLINK_NO_ENOBUFS) and hands out the raw fd for recv into our own buffer;
//! only SO_RCVBUFFORCE and SO_MEMINFO go through libc.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Mutex;

use netlink_sys::{protocols::NETLINK_NETFILTER, Socket, SocketAddr};

use crate::conntrack_filter::Filter;
use crate::consts::{SK_MEMINFO_DROPS, SK_MEMINFO_RMEM_ALLOC, SK_MEMINFO_VARS};
use crate::event::EventType;
use crate::kind::ProtoFilter;
use crate::mmsg;

pub struct CtSocket {
    sock: Socket,
    /// Groups joined now, as a bit set of NFNLGRP_CONNTRACK_* numbers.
    joined: Mutex<u32>,
}

impl CtSocket {
    /// Opens and binds the socket and joins `groups`. `rcvbuf` is asked for
    /// with SO_RCVBUFFORCE (root may exceed net.core.rmem_max), falling back
    /// to SO_RCVBUF. `reliable` sets NETLINK_BROADCAST_ERROR and
    /// NETLINK_NO_ENOBUFS: the kernel then keeps DESTROY events it could not
    /// deliver and retries them, instead of reporting an overrun. The
    /// socket filter (`protocols` and what the kernel can check of
    /// `filter`) is attached before any group is joined: no unwanted event
    /// gets in.
    pub fn open(
        groups: &[EventType],
        rcvbuf: usize,
        reliable: bool,
        protocols: &ProtoFilter,
        filter: &Filter,
    ) -> io::Result<Self> {
        let mut sock = Socket::new(NETLINK_NETFILTER)?;
        sock.bind(&SocketAddr::new(0, 0))?;
        let s = CtSocket {
            sock,
            joined: Mutex::new(0),
        };
        s.set_rcvbuf(rcvbuf)?;
        s.set_reliable(reliable)?;
        s.set_filter(protocols, filter)?;
        s.set_groups(groups)?;
        Ok(s)
    }

    /// Attaches the socket filter (see bpf.rs) in place of any before;
    /// detaches it when it would keep everything.
    pub fn set_filter(&self, protocols: &ProtoFilter, filter: &Filter) -> io::Result<()> {
        if !protocols.needs_program(filter) {
            return match self.set_opt(libc::SO_DETACH_FILTER, &0) {
                // ENOENT: there was none to detach.
                Err(e) if e.raw_os_error() != Some(libc::ENOENT) => Err(e),
                _ => Ok(()),
            };
        }
        let mut prog: Vec<libc::sock_filter> = protocols
            .program_with(filter)
            .iter()
            .map(|i| libc::sock_filter {
                code: i.code,
                jt: i.jt,
                jf: i.jf,
                k: i.k,
            })
            .collect();
        let fprog = libc::sock_fprog {
            len: u16::try_from(prog.len()).unwrap_or(u16::MAX),
            filter: prog.as_mut_ptr(),
        };
        self.set_opt(libc::SO_ATTACH_FILTER, &fprog)
    }

    /// NETLINK_BROADCAST_ERROR + NETLINK_NO_ENOBUFS, on or off.
    pub fn set_reliable(&self, on: bool) -> io::Result<()> {
        self.sock.set_broadcast_error(on)?;
        self.sock.set_no_enobufs(on)
    }

    pub fn set_rcvbuf(&self, size: usize) -> io::Result<()> {
        let size = libc::c_int::try_from(size).unwrap_or(libc::c_int::MAX);
        self.set_opt(libc::SO_RCVBUFFORCE, &size)
            .or_else(|_| self.set_opt(libc::SO_RCVBUF, &size))
    }

    /// A SOL_SOCKET option that netlink-sys does not wrap.
    fn set_opt<T>(&self, name: libc::c_int, value: &T) -> io::Result<()> {
        // SAFETY: `value` is a live reference to a `T`, and the length
        // passed is exactly its size: the kernel reads no further. Callers
        // pass the C type the option expects (c_int, sock_fprog).
        let r = unsafe {
            libc::setsockopt(
                self.fd(),
                libc::SOL_SOCKET,
                name,
                (value as *const T).cast(),
                std::mem::size_of::<T>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// The receive buffer the kernel granted (it doubles what was asked for).
    pub fn rcvbuf(&self) -> usize {
        self.sock.get_rx_buf_sz().unwrap_or(0)
    }

    /// Joins the groups in `groups` and leaves the others, on the same
    /// socket, so nothing queued in it is lost.
    pub fn set_groups(&self, groups: &[EventType]) -> io::Result<()> {
        let mut joined = self.joined.lock().unwrap_or_else(|p| p.into_inner());
        let want = groups.iter().fold(0u32, |acc, g| acc | 1 << g.group());
        for g in [EventType::New, EventType::Update, EventType::Destroy] {
            let bit = 1 << g.group();
            if want & bit != 0 && *joined & bit == 0 {
                self.sock.add_membership(g.group())?;
                *joined |= bit;
            } else if want & bit == 0 && *joined & bit != 0 {
                self.sock.drop_membership(g.group())?;
                *joined &= !bit;
            }
        }
        Ok(())
    }

    /// Messages the kernel dropped because the receive buffer was full
    /// (sk_drops, read through SO_MEMINFO). Exact, unlike counting ENOBUFS,
    /// but a 32-bit counter that wraps: [`DropCount`] turns it into a total.
    pub fn drops(&self) -> io::Result<u32> {
        Ok(self.meminfo()?[SK_MEMINFO_DROPS])
    }

    /// Bytes waiting in the receive buffer, not yet read (sk_rmem_alloc:
    /// the messages and their overhead, as counted against the buffer's size).
    pub fn backlog(&self) -> io::Result<u32> {
        Ok(self.meminfo()?[SK_MEMINFO_RMEM_ALLOC])
    }

    fn meminfo(&self) -> io::Result<[u32; SK_MEMINFO_VARS]> {
        let mut info = [0u32; SK_MEMINFO_VARS];
        let mut len = std::mem::size_of_val(&info) as libc::socklen_t;
        // SAFETY: `info` and `len` are live locals and `len` is the size of
        // `info`: the kernel writes at most that much (a shorter answer from
        // an older kernel leaves the rest zero).
        let r = unsafe {
            libc::getsockopt(
                self.fd(),
                libc::SOL_SOCKET,
                libc::SO_MEMINFO,
                info.as_mut_ptr().cast(),
                &mut len,
            )
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(info)
    }

    pub fn fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }

    /// Non-blocking: as many messages as `slots` holds, `max` at most, in
    /// one recvmmsg (one message per slot: each netlink event is its own
    /// datagram). Returns how many arrived; 0 when the socket is empty.
    pub fn recv_many(&self, slots: &mut RecvSlots, max: usize) -> io::Result<usize> {
        let vlen = slots.hdrs.len().min(max);
        loop {
            // SAFETY: `slots.hdrs` holds at least `vlen` headers, each
            // pointing at one iovec of `slots._iov` over its own `size` bytes
            // of `slots.buf` (RecvSlots::new); `slots` is borrowed mutably for
            // the call, so all of that stays alive and unaliased while the
            // kernel writes into it. No address or control buffer is given.
            let n = unsafe {
                libc::recvmmsg(
                    self.fd(),
                    slots.hdrs.as_mut_ptr(),
                    vlen as libc::c_uint,
                    // c_int on glibc, c_uint on musl.
                    libc::MSG_DONTWAIT as _,
                    std::ptr::null_mut(),
                )
            };
            if n >= 0 {
                let n = n as usize;
                for (k, h) in slots.hdrs.iter().take(n).enumerate() {
                    slots.lens[k] = h.msg_len as usize;
                    slots.truncated[k] = h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
                }
                slots.count = n;
                return Ok(n);
            }
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EAGAIN) => {
                    slots.count = 0;
                    return Ok(0);
                }
                _ => return Err(err),
            }
        }
    }
}

/// The socket's drop counter followed from one look to the next. The
/// kernel's sk_drops is an atomic_t and SO_MEMINFO gives it as a u32: past
/// 4,294,967,295 it wraps to 0, and a reader that compared totals would
/// count nothing more until it caught up. The difference modulo 2^32 is
/// what was dropped in between (it cannot wrap twice between two looks a
/// second or so apart: that would be four billion events).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DropCount {
    seen: u32,
}

impl DropCount {
    /// Drops since the previous look, given the counter now.
    pub fn since(&mut self, now: u32) -> u64 {
        let d = now.wrapping_sub(self.seen);
        self.seen = now;
        d.into()
    }
}

/// Receive slots for [`CtSocket::recv_many`]: `count` buffers of `size`
/// bytes, one message each, with the iovecs and headers recvmmsg takes,
/// built once here and reused by every call.
pub struct RecvSlots {
    buf: Vec<u8>,
    size: usize,
    /// One per slot, over its bytes of `buf`: only read through `hdrs`,
    /// held here so that they live as long as the headers do.
    _iov: Vec<[libc::iovec; 1]>,
    /// One per slot, pointing at its iovec.
    hdrs: Vec<libc::mmsghdr>,
    lens: Vec<usize>,
    truncated: Vec<bool>,
    count: usize,
}

// SAFETY: the raw pointers in `_iov` and `hdrs` (what makes them !Send)
// point only into this struct's own heap buffers, `buf` and `_iov`, which
// are never resized after `new` and go with the struct to whichever thread
// owns it; nothing outside holds them.
unsafe impl Send for RecvSlots {}

impl RecvSlots {
    pub fn new(count: usize, size: usize) -> Self {
        let mut buf = vec![0; count * size];
        let mut iov: Vec<[libc::iovec; 1]> = if size == 0 {
            Vec::new()
        } else {
            buf.chunks_exact_mut(size)
                .map(|c| [mmsg::iovec_mut(c)])
                .collect()
        };
        let hdrs = mmsg::headers(&mut iov);
        RecvSlots {
            buf,
            size,
            _iov: iov,
            hdrs,
            lens: vec![0; count],
            truncated: vec![false; count],
            count: 0,
        }
    }

    /// What a receive of `msgs` would leave, for a fake socket in tests: as
    /// many as there are slots, each cut to its slot as the kernel cuts it
    /// (MSG_TRUNC). Returns how many were taken.
    #[cfg(test)]
    pub(crate) fn fill(&mut self, msgs: &[&[u8]]) -> usize {
        let n = msgs.len().min(self.hdrs.len());
        for (k, m) in msgs.iter().take(n).enumerate() {
            let len = m.len().min(self.size);
            self.buf[k * self.size..k * self.size + len].copy_from_slice(&m[..len]);
            self.lens[k] = len;
            self.truncated[k] = len < m.len();
        }
        self.count = n;
        n
    }

    /// Message `i` of the last receive; `Err(len)` if it did not fit its slot.
    pub fn get(&self, i: usize) -> Result<&[u8], usize> {
        if self.truncated[i] {
            return Err(self.lens[i]);
        }
        let start = i * self.size;
        Ok(&self.buf[start..start + self.lens[i]])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel checks a program when it is attached (bpf_check_classic:
    /// jumps, scratch words stored before loaded, ...); the tests that run
    /// it in bpf::vm cannot tell whether it would. No group is joined, so
    /// no root is needed.
    #[test]
    fn the_kernel_accepts_the_protocol_filter() {
        use crate::conntrack_filter::{Cond, Net};
        use crate::kind::{ICMP, OTHER, TCP, UDP};
        for f in [[TCP, UDP, 0], [0, 0, 0], [OTHER, ICMP | TCP, UDP]] {
            let s = CtSocket::open(&[], 1 << 16, false, &ProtoFilter(f), &Filter::default());
            assert!(s.is_ok(), "{f:?}: {:?}", s.err());
        }
        // Every condition the program checks, of both families.
        let net = |a: &str, prefix| Net {
            addr: a.parse().unwrap(),
            prefix,
        };
        let every = Filter {
            orig_src: Some(Cond::is(net("10.0.0.0", 8))),
            orig_dst: Some(Cond::not(net("fd00::", 64))),
            reply_src: Some(Cond::is(net("fd00::1:2", 127))),
            reply_dst: Some(Cond::not(net("192.0.2.1", 32))),
            proto: Some(Cond::not(17)),
            sport: Some(Cond::is(40000)),
            dport: Some(Cond::not(53)),
            mark: Some(Cond::is(crate::conntrack_filter::Mark {
                value: 1,
                mask: 1,
            })),
            zone: Some(Cond::not(0)),
            status: Some(crate::conntrack_filter::Status { set: 4, clear: 2 }),
            src_nat: Some(Cond::not(crate::conntrack_filter::Nat::default())),
            any_nat: Some(Cond::is(crate::conntrack_filter::Nat {
                addr: "fd00::9".parse().ok(),
                port: Some(9),
            })),
            ..Filter::default()
        };
        for f in [ProtoFilter::default(), ProtoFilter([TCP, UDP, 0])] {
            let s = CtSocket::open(&[], 1 << 16, false, &f, &every);
            assert!(s.is_ok(), "{f:?}: {:?}", s.err());
        }
    }

    #[test]
    fn drops_are_counted_across_the_counter_wrapping() {
        let mut c = DropCount::default();
        assert_eq!(c.since(0), 0);
        assert_eq!(c.since(7), 7);
        assert_eq!(c.since(u32::MAX - 1), u64::from(u32::MAX - 1 - 7));
        // 1 to reach u32::MAX, 1 to wrap to 0, 3 more.
        assert_eq!(c.since(3), 5);
        assert_eq!(c.since(3), 0);
    }
}
