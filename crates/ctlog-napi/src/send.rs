//! The senders for the outputs: `Datagram` (syslog's datagrams, many per
//! system call) and `TcpWatch` (what a TCP connection's peer has
//! acknowledged).

use std::sync::Arc;

use ctlog_core::Sent;
use napi::bindgen_prelude::AsyncTask;
use napi::{Env, Result, Task};
use napi_derive::napi;

use crate::error::{errno_name, invalid, io_error};

/// What `sendLines` did.
#[napi(object)]
pub struct SentLines {
    /// Lines sent, from the first.
    pub sent: u32,
    /// The byte offset in `lines` where the first line not sent starts.
    pub at: u32,
    /// The errno name that stopped it at line `sent`, or null when all
    /// were sent.
    pub error: Option<String>,
}

impl From<Sent> for SentLines {
    fn from(s: Sent) -> Self {
        SentLines {
            sent: u32::try_from(s.sent).unwrap_or(u32::MAX),
            at: u32::try_from(s.at).unwrap_or(u32::MAX),
            error: s.error.as_ref().map(errno_name),
        }
    }
}

/// A connected datagram socket for syslog: the local socket (unix, which
/// Node has not) or a remote host over UDP (Node's dgram makes a system call
/// per message; this sends many per call). Non-blocking: a full receiver
/// queue is reported, never waited on in the JavaScript thread
/// (`writable()` waits on the thread pool).
#[napi]
pub struct Datagram {
    sock: Option<Arc<ctlog_core::Datagram>>,
}

#[napi]
impl Datagram {
    /// Connects to the unix datagram socket at `path`; throws an error
    /// whose `code` is the errno name (ENOENT, ECONNREFUSED, ...).
    #[napi(factory, catch_unwind)]
    pub fn unix(path: String) -> Result<Self, String> {
        let sock = ctlog_core::Datagram::unix(path).map_err(io_error)?;
        Ok(Datagram {
            sock: Some(Arc::new(sock)),
        })
    }

    /// Connects a UDP socket to `address` (an IP address, already
    /// resolved) and `port`; throws an error whose `code` is the errno
    /// name (EINVAL for an address or port that is none).
    #[napi(factory, catch_unwind)]
    pub fn udp(address: String, port: u32) -> Result<Self, String> {
        let ip: std::net::IpAddr = address
            .parse()
            .map_err(|_| invalid(format!("not an IP address: {address:?}")))?;
        let port = u16::try_from(port).map_err(|_| invalid(format!("port {port}")))?;
        let sock = ctlog_core::Datagram::udp((ip, port).into()).map_err(io_error)?;
        Ok(Datagram {
            sock: Some(Arc::new(sock)),
        })
    }

    /// Sends `head` followed by each line of `lines` (newline-ended; the
    /// newline is not sent) as one datagram each, in order, many per system
    /// call, from the bytes as they are. Stops at the first that fails:
    /// "EAGAIN" when the receiver's queue is full (see `writable`),
    /// "EMSGSIZE" when a message is too long, "ECONNREFUSED" when the unix
    /// receiver went away or, over UDP, when an ICMP error came back for an
    /// earlier datagram (this one was not sent).
    #[napi(catch_unwind)]
    pub fn send_lines(&self, head: &[u8], lines: &[u8]) -> SentLines {
        match &self.sock {
            Some(s) => s.send_lines(head, lines).into(),
            None => SentLines {
                sent: 0,
                at: 0,
                error: Some("ENOTCONN".into()),
            },
        }
    }

    /// Sends `bytes` as datagrams back to back, the i-th ending at byte
    /// `ends[i]`: binary messages (IPFIX), which may hold newlines. Stops at
    /// the first that fails, as `sendLines` does; `at` is where the first
    /// not sent starts.
    #[napi(catch_unwind)]
    pub fn send_messages(&self, bytes: &[u8], ends: &[u32]) -> SentLines {
        match &self.sock {
            Some(s) => s.send_messages(bytes, ends).into(),
            None => SentLines {
                sent: 0,
                at: 0,
                error: Some("ENOTCONN".into()),
            },
        }
    }

    /// Resolves true once the receiver's queue has room (POLLOUT), false
    /// after `timeoutMs` or when closed. Waits on the libuv thread pool.
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn writable(&self, timeout_ms: u32) -> AsyncTask<WaitWritable> {
        AsyncTask::new(WaitWritable {
            sock: self.sock.clone(),
            timeout_ms,
        })
    }

    #[napi]
    pub fn close(&mut self) {
        self.sock = None;
    }
}

/// What the peer of a TCP connection has acknowledged, and what the kernel
/// took to send: the syslog output's count of lines written. Made from a
/// Node socket's descriptor, which it duplicates: it can still be read
/// after the socket closed.
#[napi]
pub struct TcpWatch {
    watch: Option<ctlog_core::TcpWatch>,
}

#[napi]
impl TcpWatch {
    /// Duplicates `fd`, a connected TCP socket's descriptor; throws an
    /// error whose `code` is the errno name (EBADF).
    #[napi(factory, catch_unwind)]
    pub fn of(fd: i32) -> Result<Self, String> {
        if fd < 0 {
            return Err(invalid(format!("not a descriptor: {fd}")));
        }
        // SAFETY: only duplicated, here and now: a descriptor that is not
        // open fails with EBADF, and the duplicate is ours alone.
        let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        let watch = ctlog_core::TcpWatch::of(borrowed).map_err(io_error)?;
        Ok(TcpWatch { watch: Some(watch) })
    }

    /// Bytes of data the peer has acknowledged since the connection began
    /// (once the FIN is acknowledged, one more); throws with `code` the errno name (EBADF once
    /// closed, EOPNOTSUPP on a kernel older than 4.1).
    #[napi(catch_unwind)]
    pub fn acked(&self) -> Result<f64, String> {
        let w = self
            .watch
            .as_ref()
            .ok_or_else(|| io_error(std::io::Error::from_raw_os_error(libc::EBADF)))?;
        // Bytes of one connection: far below 2^53.
        w.bytes_acked().map(|n| n as f64).map_err(io_error)
    }

    /// Bytes of data the kernel has taken on this connection since it began,
    /// acknowledged or not (acked() and the send queue, read together): at
    /// a write's callback, where that write ends on the wire, whatever
    /// Node's TLS made of it. Throws as acked() does.
    #[napi(catch_unwind)]
    pub fn sent(&self) -> Result<f64, String> {
        let w = self
            .watch
            .as_ref()
            .ok_or_else(|| io_error(std::io::Error::from_raw_os_error(libc::EBADF)))?;
        // Bytes of one connection: far below 2^53.
        w.bytes_sent().map(|n| n as f64).map_err(io_error)
    }

    /// Lets the connection go: once Node has closed its descriptor too, the
    /// kernel closes the socket.
    #[napi]
    pub fn close(&mut self) {
        self.watch = None;
    }
}

pub struct WaitWritable {
    sock: Option<Arc<ctlog_core::Datagram>>,
    timeout_ms: u32,
}

impl Task for WaitWritable {
    type Output = bool;
    type JsValue = bool;

    fn compute(&mut self) -> Result<bool> {
        Ok(self
            .sock
            .as_ref()
            .is_some_and(|s| s.writable(self.timeout_ms)))
    }

    fn resolve(&mut self, _env: Env, output: bool) -> Result<bool> {
        Ok(output)
    }
}
