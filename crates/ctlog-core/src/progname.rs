//! Which program owns a netlink port id: the `progname=` of conntrack -E's
//! `[USERSPACE] portid=N progname=X`. Looked up when the event is read, as
//! conntrack-tools 1.4.7 does (`get_progname()` in src/conntrack.c), because
//! a `conntrack -I` process may exit moments later:
//!  1. the NETLINK_NETFILTER socket with that port id in the netlink table
//!     of the namespace read (/proc/thread-self/net/netlink, the reader
//!     thread being in it)
//!     gives an inode;
//!  2. the process holding `socket:[inode]` among its /proc/PID/fd: PID =
//!     port id first (a process's first netlink socket gets its PID), then
//!     every PID in ascending order, skipping 0, 1 and the one tried;
//!  3. its name is `comm` in /proc/PID/stat, up to the first `)`.
//!
//! Unlike conntrack, answers are cached per port id for a short time, so a
//! burst of 200,000 DESTROY events from one `conntrack -F` costs one scan.

use std::collections::HashMap;
use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::consts::NETLINK_NETFILTER;

/// How long a found name is trusted without looking again.
const HIT_TTL: Duration = Duration::from_secs(1);
/// "Not found" is trusted briefly: the process may be starting.
const MISS_TTL: Duration = Duration::from_millis(250);
/// Bound on cached port ids; the cache is emptied when full.
const MAX_ENTRIES: usize = 4096;

struct Entry {
    expires: Instant,
    inode: Option<u64>,
    name: Option<String>,
}

pub struct Prognames {
    proc_root: PathBuf,
    /// The netlink socket table: the looking thread's namespace's
    /// (/proc/thread-self/net/netlink; /proc/net is the process's).
    netlink: PathBuf,
    cache: HashMap<u32, Entry>,
}

impl Default for Prognames {
    fn default() -> Self {
        Prognames {
            netlink: PathBuf::from("/proc/thread-self/net/netlink"),
            ..Self::with_proc_root("/proc")
        }
    }
}

impl Prognames {
    /// A resolver reading another procfs tree (tests).
    pub fn with_proc_root(root: impl Into<PathBuf>) -> Self {
        let proc_root = root.into();
        Prognames {
            netlink: proc_root.join("net/netlink"),
            proc_root,
            cache: HashMap::new(),
        }
    }

    /// The program owning netfilter netlink socket `portid`, if it can be
    /// found (0 is the kernel: never).
    pub fn lookup(&mut self, portid: u32) -> Option<String> {
        if portid == 0 {
            return None;
        }
        let now = Instant::now();
        let cached = self.cache.get(&portid);
        if let Some(e) = cached {
            if e.expires > now {
                return e.name.clone();
            }
        }
        let inode = self.netlink_inode(portid);
        let name = match (inode, cached) {
            (None, _) => None,
            // The same socket as before: the same owner, no scan needed.
            (Some(i), Some(e)) if e.inode == Some(i) && e.name.is_some() => e.name.clone(),
            (Some(i), _) => self.name_by_inode(portid, i),
        };
        if cached.is_none() && self.cache.len() >= MAX_ENTRIES {
            self.cache.clear();
        }
        let ttl = if name.is_some() { HIT_TTL } else { MISS_TTL };
        self.cache.insert(
            portid,
            Entry {
                expires: now + ttl,
                inode,
                name: name.clone(),
            },
        );
        name
    }

    /// Columns: sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode.
    fn netlink_inode(&self, portid: u32) -> Option<u64> {
        let text = fs::read_to_string(&self.netlink).ok()?;
        text.lines().skip(1).find_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let eth = f.get(1)?.parse::<u32>().ok()?;
            let pid = f.get(2)?.parse::<u32>().ok()?;
            (eth == NETLINK_NETFILTER && pid == portid).then(|| f.get(9)?.parse().ok())?
        })
    }

    fn name_by_inode(&self, portid: u32, inode: u64) -> Option<String> {
        if let Some(name) = self.name_if_holds(portid, inode) {
            return Some(name);
        }
        let mut pids: Vec<u32> = fs::read_dir(&self.proc_root)
            .ok()?
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        pids.sort_unstable();
        pids.into_iter()
            .filter(|&pid| pid > 1 && pid != portid)
            .find_map(|pid| self.name_if_holds(pid, inode))
    }

    fn name_if_holds(&self, pid: u32, inode: u64) -> Option<String> {
        let want = format!("socket:[{inode}]");
        let fd_dir = self.proc_root.join(pid.to_string()).join("fd");
        let holds = fs::read_dir(fd_dir)
            .ok()?
            .filter_map(Result::ok)
            .any(|fd| fs::read_link(fd.path()).is_ok_and(|t| t.as_os_str() == want.as_str()));
        if !holds {
            return None;
        }
        // "%*u (%m[^)]": from the first '(' up to the first ')'. A name is
        // any bytes a process chose (not UTF-8, a newline): read as bytes,
        // printed escaped.
        let stat = fs::read(self.proc_root.join(pid.to_string()).join("stat")).ok()?;
        let start = stat.iter().position(|&b| b == b'(')? + 1;
        let len = stat[start..].iter().position(|&b| b == b')')?;
        (len > 0).then(|| crate::text::escape(&stat[start..start + len]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn fake_proc() -> PathBuf {
        let root = std::env::temp_dir().join(format!("ctlog-proc-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("net")).unwrap();
        fs::write(
            root.join("net/netlink"),
            "sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode\n\
             ffff8d5f42a2e000 0   1          00000000 0        0        0     2        0        100\n\
             ffff8d5f42a2e800 12  4000000001 00000000 0        0        0     2        0        5555\n\
             ffff8d5f42a2f000 12  321        00000000 0        0        0     2        0        6666\n\
             ffff8d5f42a2f800 12  88         00000000 0        0        0     2        0        7777\n",
        )
        .unwrap();
        // pid 321 holds socket 6666: port id = pid, found on the first try.
        fs::create_dir_all(root.join("321/fd")).unwrap();
        symlink("socket:[6666]", root.join("321/fd/3")).unwrap();
        fs::write(root.join("321/stat"), "321 (python3) S 1 321 321 0 -1\n").unwrap();
        // pid 77 holds socket 5555 under a kernel-chosen port id: found by the scan.
        fs::create_dir_all(root.join("77/fd")).unwrap();
        symlink("/dev/null", root.join("77/fd/0")).unwrap();
        symlink("socket:[5555]", root.join("77/fd/4")).unwrap();
        fs::write(root.join("77/stat"), "77 (my prog) (x) S 1 77 77 0 -1\n").unwrap();
        // pid 88's name is not UTF-8 and holds control characters.
        fs::create_dir_all(root.join("88/fd")).unwrap();
        symlink("socket:[7777]", root.join("88/fd/3")).unwrap();
        fs::write(
            root.join("88/stat"),
            b"88 (b\xff\xfe\r\x07z\n[NEW]) S 1 88 88 0 -1\n",
        )
        .unwrap();
        root
    }

    #[test]
    fn finds_the_owner_in_a_procfs_tree_and_caches() {
        let root = fake_proc();
        let mut p = Prognames::with_proc_root(&root);
        assert_eq!(p.lookup(321).as_deref(), Some("python3"));
        // Cut at the first ')', as conntrack's scanf does.
        assert_eq!(p.lookup(4_000_000_001).as_deref(), Some("my prog"));
        assert_eq!(p.lookup(999), None, "no such socket");
        // Found, not hidden, and escaped: one line stays one line.
        assert_eq!(
            p.lookup(88).as_deref(),
            Some("b\\xff\\xfe\\x0d\\x07z\\x0a[NEW]")
        );
        assert_eq!(p.lookup(0), None, "the kernel");
        // Within the TTL the answer stands even when the process is gone...
        fs::remove_dir_all(root.join("77")).unwrap();
        assert_eq!(p.lookup(4_000_000_001).as_deref(), Some("my prog"));
        // ...and a fresh resolver sees it gone.
        assert_eq!(Prognames::with_proc_root(&root).lookup(4_000_000_001), None);
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn finds_this_process_holding_a_netfilter_socket() {
        let mut sock = netlink_sys::Socket::new(netlink_sys::protocols::NETLINK_NETFILTER).unwrap();
        let addr = sock.bind_auto().unwrap();
        let stat = fs::read_to_string("/proc/self/stat").unwrap();
        let comm = &stat[stat.find('(').unwrap() + 1..stat.find(')').unwrap()];
        let name = Prognames::default().lookup(addr.port_number());
        assert_eq!(name.as_deref(), Some(comm));
    }
}
