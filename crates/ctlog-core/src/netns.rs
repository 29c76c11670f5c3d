//! Another network namespace, by its file (`/run/netns/NAME`, as `ip netns`
//! makes them, or `/proc/PID/ns/net`). A socket belongs to the namespace of
//! the thread that creates it, for good: so the conntrack socket is made on
//! a short-lived thread that entered the namespace, and the process itself
//! never leaves its own.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

pub struct Netns(File);

impl Netns {
    pub fn open(path: &Path) -> io::Result<Self> {
        File::open(path).map(Netns)
    }

    /// Moves the calling thread into the namespace (setns: needs
    /// CAP_SYS_ADMIN); EINVAL if the file is not a network namespace.
    pub fn enter(&self) -> io::Result<()> {
        // SAFETY: setns only reads the descriptor, which `self` keeps open.
        if unsafe { libc::setns(self.0.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Runs `f` on a thread of its own inside the namespace, and returns
    /// what it made there; the calling thread stays where it is.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> io::Result<T> + Send) -> io::Result<T> {
        std::thread::scope(|s| {
            s.spawn(|| {
                self.enter()?;
                f()
            })
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("panicked in the network namespace")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The namespace of a thread, as the kernel names it (`net:[4026531840]`).
    fn current() -> String {
        std::fs::read_link("/proc/thread-self/ns/net")
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }

    #[test]
    fn runs_in_the_namespace_and_leaves_the_caller_where_it_was() {
        // Our own namespace by its file. As root the thread enters it;
        // without CAP_SYS_ADMIN setns refuses, with EPERM.
        let here = current();
        let ns = Netns::open(Path::new("/proc/self/ns/net")).unwrap();
        match ns.run(|| Ok(current())) {
            Ok(there) => assert_eq!(there, here),
            Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{e}"),
        }
        assert_eq!(current(), here);
    }

    #[test]
    fn a_file_that_is_no_network_namespace() {
        let uts = Netns::open(Path::new("/proc/self/ns/uts")).unwrap();
        let e = uts.run(|| Ok(())).unwrap_err();
        assert!(
            matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::EPERM)),
            "{e}"
        );
        let e = Netns::open(Path::new("/run/netns/ctlogd-no-such-namespace")).err();
        assert_eq!(e.and_then(|e| e.raw_os_error()), Some(libc::ENOENT));
    }
}
