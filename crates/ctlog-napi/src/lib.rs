//! The Node.js face of ctlog-core: start a capture, stop it, read its
//! counters; send syslog datagrams. Batches (see ctlog-core's `wire`) are
//! copied into a Buffer that JavaScript owns and reuses, and their memory
//! goes back to the reader: a flood allocates nothing per batch on either
//! side. Nothing here decodes, sends or decides policy: it converts
//! arguments, results and errors (errors carry their errno name as `code`).
//! Entry points that touch data catch panics (`catch_unwind`) so none
//! unwinds into Node; the reader thread catches its own.
//!
//! By what it exports: `options` (CaptureOptions and what it holds),
//! `capture` (startCapture, Capture, its stats, decodeMessages), `send`
//! (Datagram, TcpWatch), `store` (Store, queryStore); `lockFile` is here. `error` makes the errors all
//! of them throw.

pub mod capture;
mod error;
pub mod options;
pub mod send;
pub mod store;

use napi::Result;
use napi_derive::napi;

use crate::error::io_error;

/// Takes an exclusive lock on the open file `fd` (flock, LOCK_EX |
/// LOCK_NB): returns true, or false when another open file holds it (a
/// second ctlogd on the same output file); never waits. Other failures
/// are thrown with `code` the errno name. The lock goes with the file
/// description: closing `fd` releases it, and so does the process's end,
/// however it ends.
#[napi(catch_unwind)]
pub fn lock_file(fd: i32) -> Result<bool, String> {
    // SAFETY: flock takes any integer; a bad one fails with EBADF.
    if unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        return Ok(false);
    }
    Err(io_error(e))
}
