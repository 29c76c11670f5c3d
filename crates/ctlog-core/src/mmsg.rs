//! The message headers recvmmsg and sendmmsg take, built in one place for
//! the netlink reader (socket.rs) and the datagram sender (send/datagram.rs).

/// An iovec the kernel reads from (send). It is `*mut` only because the
/// struct is shared with receiving; sendmmsg never writes through it.
pub(crate) fn iovec(buf: &[u8]) -> libc::iovec {
    libc::iovec {
        iov_base: buf.as_ptr() as *mut libc::c_void,
        iov_len: buf.len(),
    }
}

/// An iovec the kernel writes into (receive).
pub(crate) fn iovec_mut(buf: &mut [u8]) -> libc::iovec {
    libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    }
}

/// One header per entry of `iov`: message k is made of (or received into)
/// the N buffers of `iov[k]`, with no address and no control data. The
/// headers point into `iov`'s elements, so they are good for as long as
/// those stay where they are (a Vec's elements do while it is not resized,
/// even when the Vec itself moves).
pub(crate) fn headers<const N: usize>(iov: &mut [[libc::iovec; N]]) -> Vec<libc::mmsghdr> {
    iov.iter_mut()
        .map(|v| {
            // SAFETY: mmsghdr is plain C data (pointers and integers), for
            // which all zero bytes are valid: null name, null control, no
            // flags. The fields that matter are set below.
            let mut h: libc::mmsghdr = unsafe { std::mem::zeroed() };
            h.msg_hdr.msg_iov = v.as_mut_ptr();
            // size_t on glibc, c_int on musl.
            h.msg_hdr.msg_iovlen = N as _;
            h
        })
        .collect()
}
