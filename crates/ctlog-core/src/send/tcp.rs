//! What a TCP connection's peer has acknowledged, and what the kernel has
//! taken to send, for the syslog output's accounting: a line counts as
//! written once the peer's TCP has it, and what it never acknowledged is
//! sent again on the next connection or, at stop, counted as lost. Node's
//! sockets do not say this; the kernel does, through TCP_INFO and
//! SIOCOUTQ. Over TLS the bytes on the wire are not the bytes written
//! (records, the handshake): `bytes_sent` says where a write ended on the
//! wire, `bytes_acked` how far the peer has acknowledged.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

/// A second descriptor of a TCP socket: it keeps the connection readable
/// after its owner (Node) has closed its own descriptor, so that what was
/// acknowledged can still be read once the connection died.
#[derive(Debug)]
pub struct TcpWatch {
    fd: OwnedFd,
}

impl TcpWatch {
    /// Duplicates `fd` (close-on-exec).
    pub fn of(fd: BorrowedFd<'_>) -> io::Result<Self> {
        Ok(TcpWatch {
            fd: fd.try_clone_to_owned()?,
        })
    }

    /// Bytes of data the peer has acknowledged since the connection began:
    /// `tcpi_bytes_acked` (Linux 4.1 and later) less the one its SYN
    /// counts; once the FIN is acknowledged, one more than the data.
    pub fn bytes_acked(&self) -> io::Result<u64> {
        // SAFETY: tcp_info is plain integers; all zeroes is a valid value.
        let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::tcp_info>();
        let mut len = libc::socklen_t::try_from(size).unwrap_or(libc::socklen_t::MAX);
        // SAFETY: the fd is owned and open; `info` is writable for `len`
        // bytes and the kernel writes at most `len`, then stores how many.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_INFO,
                std::ptr::addr_of_mut!(info).cast(),
                &mut len,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        // A kernel older than the field fills less of the struct.
        let needed = std::mem::offset_of!(libc::tcp_info, tcpi_bytes_acked) + 8;
        if usize::try_from(len).unwrap_or(0) < needed {
            return Err(io::Error::from_raw_os_error(libc::EOPNOTSUPP));
        }
        Ok(info.tcpi_bytes_acked.saturating_sub(1))
    }

    /// Bytes the kernel still holds to send or to see acknowledged
    /// (SIOCOUTQ: the send queue, written and not yet acknowledged).
    fn unacked(&self) -> io::Result<u64> {
        let mut n: libc::c_int = 0;
        // SAFETY: the fd is owned and open; SIOCOUTQ (TIOCOUTQ) stores one
        // int through the pointer.
        let rc = unsafe { libc::ioctl(self.fd.as_raw_fd(), libc::TIOCOUTQ, &mut n) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Bytes of data the kernel has taken on this connection since it
    /// began, acknowledged or not: `bytes_acked` + SIOCOUTQ. The two are
    /// read apart, so an acknowledgement between them would make the sum
    /// short: they are read as acked, queued, acked again, until both
    /// acked agree. Should acknowledgements keep coming between the reads
    /// (never seen), the last sum is returned, which can only be more than
    /// the truth: a line then waits longer, it is never counted early.
    pub fn bytes_sent(&self) -> io::Result<u64> {
        let mut acked = self.bytes_acked()?;
        for _ in 0..SENT_TRIES {
            let queued = self.unacked()?;
            let again = self.bytes_acked()?;
            if again == acked {
                return Ok(acked.saturating_add(queued));
            }
            acked = again;
        }
        let queued = self.unacked()?;
        Ok(self.bytes_acked()?.saturating_add(queued))
    }
}

/// How often `bytes_sent` reads again when an acknowledgement came between
/// its reads.
const SENT_TRIES: u32 = 64;

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::time::{Duration, Instant};

    fn acked_reaches(w: &TcpWatch, n: u64) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let got = w.bytes_acked().unwrap_or(0);
            if got >= n || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn counts_what_the_peer_acknowledged_and_outlives_the_first_descriptor() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind on loopback");
        let mut client =
            TcpStream::connect(listener.local_addr().expect("address")).expect("connect");
        let (mut server, _) = listener.accept().expect("accept");
        let watch = TcpWatch::of(std::os::fd::AsFd::as_fd(&client)).expect("dup");
        assert_eq!(watch.bytes_acked().expect("TCP_INFO"), 0);
        client.write_all(&[7u8; 10_000]).expect("write");
        assert_eq!(acked_reaches(&watch, 10_000), 10_000);
        let mut got = vec![0u8; 10_000];
        server.read_exact(&mut got).expect("read");
        // The owner closes its descriptor: the count is still there.
        drop(client);
        assert!(watch.bytes_acked().expect("TCP_INFO after close") >= 10_000);
    }

    #[test]
    fn sent_is_what_the_kernel_took_acked_or_not() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind on loopback");
        let mut client =
            TcpStream::connect(listener.local_addr().expect("address")).expect("connect");
        let (mut server, _) = listener.accept().expect("accept");
        let watch = TcpWatch::of(std::os::fd::AsFd::as_fd(&client)).expect("dup");
        assert_eq!(watch.bytes_sent().expect("sent"), 0);
        // The server does not read: the kernel takes what fits in its
        // buffers and the peer's window, and the rest is refused.
        client.set_nonblocking(true).expect("non-blocking");
        let chunk = [1u8; 65536];
        let mut written: u64 = 0;
        loop {
            match client.write(&chunk) {
                Ok(n) => written += n as u64,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("write: {e}"),
            }
        }
        assert_eq!(watch.bytes_sent().expect("sent"), written);
        std::thread::sleep(Duration::from_millis(200));
        let acked = watch.bytes_acked().expect("acked");
        assert!(
            acked > 0 && acked < written,
            "acked {acked} of {written} while the peer reads nothing"
        );
        // The server reads it all: every byte sent is acknowledged.
        let mut got = vec![0u8; usize::try_from(written).expect("size")];
        server.read_exact(&mut got).expect("read");
        assert_eq!(acked_reaches(&watch, written), written);
        assert_eq!(watch.bytes_sent().expect("sent"), written);
    }

    #[test]
    fn a_closed_or_wrong_descriptor_is_an_error() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind on loopback");
        // A listening socket has acknowledged nothing; a non-TCP fd fails.
        let watch = TcpWatch::of(std::os::fd::AsFd::as_fd(&listener)).expect("dup");
        assert_eq!(watch.bytes_acked().unwrap_or(0), 0);
        let file = std::fs::File::open("/dev/null").expect("open /dev/null");
        let not_tcp = TcpWatch::of(std::os::fd::AsFd::as_fd(&file)).expect("dup");
        assert!(not_tcp.bytes_acked().is_err());
        assert!(not_tcp.bytes_sent().is_err());
    }
}
