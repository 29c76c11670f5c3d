//! Datagrams out, for syslog: a connected, non-blocking socket to the local
//! syslog socket (unix datagram, which Node has not) or to a remote host
//! over UDP (Node's dgram makes a system call per message; this sends up
//! to 1024 per sendmmsg, straight from the caller's bytes).
//!
//! Nothing here waits: a full receiver queue comes back as EAGAIN, and
//! [`Datagram::writable`] is what waits for room, on a thread that may.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixDatagram;
use std::path::Path;

use crate::mmsg;

/// sendmmsg takes at most this many messages per call (UIO_MAXIOV).
const MAX_PER_CALL: usize = 1024;

pub struct Datagram {
    fd: OwnedFd,
}

/// What [`Datagram::send_lines`] did.
#[derive(Debug)]
pub struct Sent {
    /// Lines sent, from the first.
    pub sent: usize,
    /// The byte offset in `lines` where the first line not sent starts
    /// (`lines.len()` when all were sent): where to send from next time.
    pub at: usize,
    /// Why line `sent` was not sent; None when all were.
    pub error: Option<io::Error>,
}

impl Datagram {
    /// Connects to the unix datagram socket at `path`.
    pub fn unix(path: impl AsRef<Path>) -> io::Result<Self> {
        let sock = UnixDatagram::unbound()?;
        sock.connect(path)?;
        Self::from_unix(sock)
    }

    /// A unix datagram socket that is already connected (one end of
    /// `UnixDatagram::pair`, say), made non-blocking.
    pub fn from_unix(sock: UnixDatagram) -> io::Result<Self> {
        sock.set_nonblocking(true)?;
        Ok(Datagram { fd: sock.into() })
    }

    /// A UDP socket from an ephemeral port of the same family, connected
    /// to `to`: the kernel then reports an ICMP error for it (ECONNREFUSED
    /// on a later send) and drops datagrams from anyone else.
    pub fn udp(to: SocketAddr) -> io::Result<Self> {
        let local = if to.is_ipv6() {
            SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0))
        } else {
            SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))
        };
        let sock = UdpSocket::bind(local)?;
        sock.connect(to)?;
        sock.set_nonblocking(true)?;
        Ok(Datagram { fd: sock.into() })
    }

    /// Sends `head` followed by each line of `lines` (newline-ended; the
    /// newline is not sent; a last line without one is sent too) as one
    /// datagram each, in order, many per system call, without copying:
    /// each datagram is gathered from two iovecs, `head` and the line.
    /// Stops at the first that fails: EAGAIN when the receiver's queue is
    /// full (see `writable`), EMSGSIZE when a datagram is too long,
    /// ECONNREFUSED when the unix receiver went away or, over UDP, when an
    /// ICMP error came back for an earlier datagram (this one was not sent).
    pub fn send_lines(&self, head: &[u8], lines: &[u8]) -> Sent {
        self.send_spans(head, lines, &line_spans(lines))
    }

    /// Sends `bytes` as datagrams back to back, the i-th ending at byte
    /// `ends[i]` (from where the one before ended), in order, many per
    /// system call, without copying: for binary messages (IPFIX), which may
    /// hold any byte. Stops at the first that fails, as `send_lines`; an
    /// end before the previous one or past `bytes` ends the messages there.
    pub fn send_messages(&self, bytes: &[u8], ends: &[u32]) -> Sent {
        let mut spans = Vec::with_capacity(ends.len());
        let mut at = 0;
        for &end in ends {
            let end = end as usize;
            if end < at || end > bytes.len() {
                break;
            }
            spans.push((at, end));
            at = end;
        }
        let sent = self.send_spans(&[], bytes, &spans);
        // All of `bytes` is sent only if the ends covered it.
        if sent.error.is_none() {
            return Sent { at, ..sent };
        }
        sent
    }

    /// Sends `head` and `bytes[a..b]` for each span, one datagram each.
    fn send_spans(&self, head: &[u8], bytes: &[u8], spans: &[(usize, usize)]) -> Sent {
        let mut iov: Vec<[libc::iovec; 2]> = spans
            .iter()
            .map(|&(a, b)| [mmsg::iovec(head), mmsg::iovec(&bytes[a..b])])
            .collect();
        let mut hdrs = mmsg::headers(&mut iov);
        let mut done = 0;
        while done < hdrs.len() {
            let end = hdrs.len().min(done + MAX_PER_CALL);
            match self.sendmmsg(&mut hdrs[done..end]) {
                Ok(n) => done += n,
                Err(error) => {
                    return Sent {
                        sent: done,
                        at: spans[done].0,
                        error: Some(error),
                    }
                }
            }
        }
        Sent {
            sent: done,
            at: bytes.len(),
            error: None,
        }
    }

    /// One sendmmsg call, without blocking: how many messages went, or why
    /// none did. A call that sends some and then fails returns the count;
    /// the next call returns the error.
    fn sendmmsg(&self, hdrs: &mut [libc::mmsghdr]) -> io::Result<usize> {
        // SAFETY: `hdrs` is a live, exclusively borrowed slice of headers
        // built by mmsg::headers over iovecs that point into `head` and
        // `lines`, both borrowed by the caller for as long as this call
        // runs; the kernel only reads them (and writes each msg_len).
        let n = unsafe {
            libc::sendmmsg(
                self.fd.as_raw_fd(),
                hdrs.as_mut_ptr(),
                hdrs.len() as libc::c_uint,
                // c_int on glibc, c_uint on musl. MSG_NOSIGNAL: a closed
                // peer is an error to report, not a SIGPIPE.
                (libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) as _,
            )
        };
        match n {
            n if n < 0 => Err(io::Error::last_os_error()),
            // Not expected for a non-empty call; an error rather than a
            // loop that makes no progress.
            0 => Err(io::Error::from_raw_os_error(libc::EAGAIN)),
            n => Ok(n as usize),
        }
    }

    /// True once the receiver's queue has room (POLLOUT), false after
    /// `timeout_ms`. Blocks the calling thread: call it from one that may.
    pub fn writable(&self, timeout_ms: u32) -> bool {
        let mut fd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLOUT,
            revents: 0,
        };
        let timeout = i32::try_from(timeout_ms).unwrap_or(i32::MAX);
        // SAFETY: one pollfd, a live local, and the count says one.
        let r = unsafe { libc::poll(&mut fd, 1, timeout) };
        r > 0 && fd.revents & libc::POLLOUT != 0
    }
}

/// Where each newline-ended line of `lines` starts and ends (the newline
/// left out); a last line without a newline counts too.
fn line_spans(lines: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut at = 0;
    for line in lines.split_inclusive(|&b| b == b'\n') {
        let end = at + line.len();
        spans.push((at, end - usize::from(line.ends_with(b"\n"))));
        at = end;
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn recv_all(sock: &UnixDatagram) -> Vec<Vec<u8>> {
        sock.set_nonblocking(true).unwrap();
        let mut got = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        while let Ok(n) = sock.recv(&mut buf) {
            got.push(buf[..n].to_vec());
        }
        got
    }

    fn errno(s: &Sent) -> Option<i32> {
        s.error.as_ref().and_then(io::Error::raw_os_error)
    }

    /// A receiver bound to a path in a fresh directory, and a Datagram
    /// connected to it: its queue is bounded (net.unix.max_dgram_qlen), as
    /// the local syslog socket's is, unlike a socketpair's.
    fn bound_pair(name: &str) -> (UnixDatagram, Datagram, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("ctlog-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        let path = dir.join("log");
        let rx = UnixDatagram::bind(&path).unwrap();
        let tx = Datagram::unix(&path).unwrap();
        (rx, tx, dir)
    }

    #[test]
    fn line_spans_leave_the_newlines_out() {
        assert_eq!(line_spans(b""), []);
        assert_eq!(line_spans(b"a\nbb\n"), [(0, 1), (2, 4)]);
        assert_eq!(line_spans(b"a\n\nb"), [(0, 1), (2, 2), (3, 4)]);
        assert_eq!(line_spans(b"\n"), [(0, 0)]);
    }

    #[test]
    fn each_line_is_one_datagram_with_the_head_first() {
        let (rx, tx) = UnixDatagram::pair().unwrap();
        let tx = Datagram::from_unix(tx).unwrap();
        let lines = b"one\ntwo two\n\nlast";
        let s = tx.send_lines(b"<13>h: ", lines);
        assert_eq!((s.sent, s.at, errno(&s)), (4, lines.len(), None));
        assert_eq!(
            recv_all(&rx),
            [
                &b"<13>h: one"[..],
                b"<13>h: two two",
                b"<13>h: ",
                b"<13>h: last"
            ]
        );
    }

    #[test]
    fn messages_are_sent_as_their_ends_cut_them_whatever_bytes_they_hold() {
        let (rx, tx) = UnixDatagram::pair().unwrap();
        let tx = Datagram::from_unix(tx).unwrap();
        let bytes = b"ab\ncd\x00e";
        let s = tx.send_messages(bytes, &[3, 3, 7]);
        assert_eq!((s.sent, s.at, errno(&s)), (3, 7, None));
        assert_eq!(recv_all(&rx), [&b"ab\n"[..], b"", b"cd\x00e"]);
        // Ends that go back or past the bytes end the messages there.
        let s = tx.send_messages(bytes, &[2, 1, 7]);
        assert_eq!((s.sent, s.at, errno(&s)), (1, 2, None));
        let s = tx.send_messages(bytes, &[9]);
        assert_eq!((s.sent, s.at), (0, 0));
        assert_eq!(recv_all(&rx), [b"ab"]);
    }

    #[test]
    fn no_lines_send_nothing() {
        let (rx, tx) = UnixDatagram::pair().unwrap();
        let tx = Datagram::from_unix(tx).unwrap();
        let s = tx.send_lines(b"head", b"");
        assert_eq!((s.sent, s.at, errno(&s)), (0, 0, None));
        assert!(recv_all(&rx).is_empty());
    }

    #[test]
    fn an_empty_head_sends_the_lines_alone() {
        let (rx, tx) = UnixDatagram::pair().unwrap();
        let tx = Datagram::from_unix(tx).unwrap();
        let s = tx.send_lines(b"", b"a\nb\n");
        assert_eq!((s.sent, errno(&s)), (2, None));
        assert_eq!(recv_all(&rx), [b"a", b"b"]);
    }

    #[test]
    fn more_lines_than_one_call_takes_all_go_in_order_resent_from_at() {
        // 3000 lines: three sendmmsg calls' worth, more than the socket
        // buffer holds, so EAGAIN comes too: sent again from `at` once
        // `writable`, as the syslog output does, while a thread reads.
        let (rx, tx) = UnixDatagram::pair().unwrap();
        let tx = Datagram::from_unix(tx).unwrap();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            (0..3000)
                .map(|_| {
                    let n = rx.recv(&mut buf).unwrap();
                    buf[..n].to_vec()
                })
                .collect::<Vec<_>>()
        });
        let lines: String = (0..3000).map(|i| format!("{i}\n")).collect();
        let mut at = 0;
        let mut sent = 0;
        while at < lines.len() {
            let s = tx.send_lines(b"", &lines.as_bytes()[at..]);
            assert!(matches!(errno(&s), None | Some(libc::EAGAIN)), "{s:?}");
            sent += s.sent;
            at += s.at;
            if s.error.is_some() {
                assert!(tx.writable(5000));
            }
        }
        assert_eq!(sent, 3000);
        let got = reader.join().unwrap();
        let want: Vec<Vec<u8>> = (0..3000).map(|i| i.to_string().into()).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_full_queue_stops_at_eagain_and_at_says_where_to_go_on() {
        let (rx, tx, dir) = bound_pair("eagain");
        let lines: String = (0..100).map(|i| format!("line {i}\n")).collect();
        let s = tx.send_lines(b"> ", lines.as_bytes());
        assert_eq!(errno(&s), Some(libc::EAGAIN), "{s:?}");
        assert!(s.sent > 0 && s.sent < 100, "{s:?}");
        assert_eq!(s.at, lines.find(&format!("line {}\n", s.sent)).unwrap());
        assert!(!tx.writable(0), "the queue is full");

        let first = recv_all(&rx);
        assert_eq!(first.len(), s.sent);
        assert!(tx.writable(1000), "the queue has room again");
        // Sending from `at` on, what is left goes (a queue's worth at a time).
        let mut at = s.at;
        let mut all = first;
        while at < lines.len() {
            let s = tx.send_lines(b"> ", &lines.as_bytes()[at..]);
            assert!(s.sent > 0, "{s:?}");
            at += s.at;
            all.extend(recv_all(&rx));
        }
        let want: Vec<Vec<u8>> = (0..100).map(|i| format!("> line {i}").into()).collect();
        assert_eq!(all, want);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_gone_unix_receiver_is_econnrefused() {
        let (rx, tx, dir) = bound_pair("gone");
        assert_eq!(errno(&tx.send_lines(b"", b"a\n")), None);
        drop(rx);
        let s = tx.send_lines(b"", b"b\nc\n");
        assert_eq!((s.sent, s.at, errno(&s)), (0, 0, Some(libc::ECONNREFUSED)));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn udp_sends_a_datagram_per_line() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = Datagram::udp(rx.local_addr().unwrap()).unwrap();
        let s = tx.send_lines(b"<14>", b"x\nyy\n");
        assert_eq!((s.sent, s.at, errno(&s)), (2, 5, None));
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 64];
        for want in [&b"<14>x"[..], b"<14>yy"] {
            let n = rx.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], want);
        }
    }

    #[test]
    fn udp_sends_more_lines_than_one_call_takes() {
        // A UDP sender does not wait for its receiver (loopback hands each
        // datagram over at once, or drops it at a full receiver), so all
        // 2500 go: three sendmmsg calls of at most 1024.
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = Datagram::udp(rx.local_addr().unwrap()).unwrap();
        let lines: String = (0..2500).map(|i| format!("{i}\n")).collect();
        let s = tx.send_lines(b"", lines.as_bytes());
        assert_eq!((s.sent, s.at, errno(&s)), (2500, lines.len(), None));
        // What the receiver kept (its buffer may not hold all) is in order.
        rx.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 16];
        let mut got = Vec::new();
        while let Ok(n) = rx.recv(&mut buf) {
            got.push(
                std::str::from_utf8(&buf[..n])
                    .unwrap()
                    .parse::<u32>()
                    .unwrap(),
            );
        }
        assert_eq!(got.first(), Some(&0));
        assert!(got.windows(2).all(|w| w[0] < w[1]), "{got:?}");
    }

    #[test]
    fn a_datagram_too_long_is_emsgsize_and_the_ones_before_it_go() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = Datagram::udp(rx.local_addr().unwrap()).unwrap();
        // The head and the line together pass the 65,507 bytes of UDP over
        // IPv4, though each alone would fit.
        let head = vec![b'h'; 40_000];
        let lines = [&b"\n"[..], &[b'l'; 30_000], b"\nafter\n"].concat();
        let s = tx.send_lines(&head, &lines);
        assert_eq!((s.sent, s.at, errno(&s)), (1, 1, Some(libc::EMSGSIZE)));
        let mut buf = vec![0u8; 1 << 17];
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert_eq!(rx.recv(&mut buf).unwrap(), head.len());
    }

    #[test]
    fn udp_to_a_closed_port_is_econnrefused_on_a_later_send() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = rx.local_addr().unwrap();
        drop(rx);
        let tx = Datagram::udp(to).unwrap();
        // The first goes out; the ICMP port unreachable it earns fails a
        // later send, whose datagram is then not sent.
        assert_eq!(errno(&tx.send_lines(b"", b"first\n")), None);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let s = tx.send_lines(b"", b"again\n");
            if s.error.is_some() {
                assert_eq!((s.sent, s.at, errno(&s)), (0, 0, Some(libc::ECONNREFUSED)));
                break;
            }
            assert!(Instant::now() < deadline, "no ICMP error came back");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
