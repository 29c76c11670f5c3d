//! What a TCP connection's peer has acknowledged, for the syslog output's
//! accounting: a line counts as written once the peer's TCP has it, and
//! what it never acknowledged is sent again on the next connection or,
//! at stop, counted as lost. Node's sockets do not say this; the kernel
//! does, through TCP_INFO.

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
}

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
    fn a_closed_or_wrong_descriptor_is_an_error() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind on loopback");
        // A listening socket has acknowledged nothing; a non-TCP fd fails.
        let watch = TcpWatch::of(std::os::fd::AsFd::as_fd(&listener)).expect("dup");
        assert_eq!(watch.bytes_acked().unwrap_or(0), 0);
        let file = std::fs::File::open("/dev/null").expect("open /dev/null");
        let not_tcp = TcpWatch::of(std::os::fd::AsFd::as_fd(&file)).expect("dup");
        assert!(not_tcp.bytes_acked().is_err());
    }
}
