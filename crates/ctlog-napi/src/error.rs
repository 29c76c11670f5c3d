//! Errors as JavaScript sees them: `code` the errno name, as Node's own.

use napi::Error;

/// The errno name JavaScript code tests for (as Node names them).
pub(crate) fn errno_name(e: &std::io::Error) -> String {
    let name = match e.raw_os_error() {
        Some(libc::EPERM) => "EPERM",
        Some(libc::EACCES) => "EACCES",
        Some(libc::ENOENT) => "ENOENT",
        Some(libc::EAGAIN) => "EAGAIN",
        Some(libc::ECONNREFUSED) => "ECONNREFUSED",
        Some(libc::ENOTCONN) => "ENOTCONN",
        Some(libc::EMSGSIZE) => "EMSGSIZE",
        Some(libc::ENOBUFS) => "ENOBUFS",
        Some(libc::EPROTONOSUPPORT) => "EPROTONOSUPPORT",
        Some(libc::EAFNOSUPPORT) => "EAFNOSUPPORT",
        Some(libc::EBADF) => "EBADF",
        Some(libc::ENOSPC) => "ENOSPC",
        Some(libc::EDQUOT) => "EDQUOT",
        Some(libc::EROFS) => "EROFS",
        Some(libc::EIO) => "EIO",
        Some(libc::ENOTDIR) => "ENOTDIR",
        Some(libc::EEXIST) => "EEXIST",
        Some(n) => return format!("E{n}"),
        None => "EIO",
    };
    name.to_string()
}

// Errors cross as data: napi-rs makes an `Error<S>`'s status the thrown
// JavaScript error's `code` (any S: AsRef<str>), so the functions below
// return `Result<T, String>` and the status is the errno name, as Node's
// own system errors carry theirs. JavaScript reads `e.code`, never the
// message.

/// A system call's failure: `code` is the errno name; the message keeps
/// Node's form, the name first ("EPERM: Operation not permitted ...").
pub(crate) fn io_error(e: std::io::Error) -> Error<String> {
    let code = errno_name(&e);
    let reason = format!("{code}: {e}");
    Error::new(code, reason)
}

/// A bad argument: `code` is EINVAL, the message says what is wrong.
pub(crate) fn invalid(reason: String) -> Error<String> {
    Error::new("EINVAL".to_string(), reason)
}
