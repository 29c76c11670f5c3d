//! Reading the whole conntrack table (what `conntrack -L` reads): a
//! netlink dump, IPCTNL_MSG_CT_GET with NLM_F_DUMP, on a socket of its own
//! in the capture's network namespace. The store's snapshots are made of it.

use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

use netlink_sys::{protocols::NETLINK_NETFILTER, Socket, SocketAddr};

use crate::decode::{decode_message, Messages};
use crate::event::Event;
use crate::netns::Netns;

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_DUMP: u16 = 0x300;
/// The dump was interrupted by a change of the table: it may miss entries.
const NLM_F_DUMP_INTR: u16 = 0x10;
/// NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_GET.
const CT_GET: u16 = (1 << 8) | 1;

/// What a dump read.
#[derive(Debug, Default)]
pub struct Table {
    pub entries: Vec<Event>,
    /// Messages that could not be decoded (counted, never fatal).
    pub decode_errors: u64,
    /// The kernel said the table changed during the dump (NLM_F_DUMP_INTR).
    pub interrupted: bool,
}

/// Reads the conntrack table of `netns` (a namespace's file), or of the
/// process's own namespace.
pub fn dump_table(netns: Option<&Path>) -> io::Result<Table> {
    match netns {
        Some(path) => Netns::open(path)?.run(read_table),
        None => read_table(),
    }
}

fn read_table() -> io::Result<Table> {
    let mut sock = Socket::new(NETLINK_NETFILTER)?;
    sock.bind(&SocketAddr::new(0, 0))?;
    // nlmsghdr and nfgenmsg (AF_UNSPEC: every family, version 0, res_id 0).
    let mut req = Vec::with_capacity(20);
    req.extend_from_slice(&20u32.to_ne_bytes());
    req.extend_from_slice(&CT_GET.to_ne_bytes());
    req.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    req.extend_from_slice(&1u32.to_ne_bytes());
    req.extend_from_slice(&0u32.to_ne_bytes());
    req.extend_from_slice(&[0, 0, 0, 0]);
    sock.send(&req, 0)?;
    let mut table = Table::default();
    let mut buf = vec![0u8; 1 << 18];
    loop {
        // SAFETY: the buffer is ours and as long as said.
        let n = unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        let got = usize::try_from(n).unwrap_or(0);
        if got == 0 {
            return Ok(table);
        }
        for msg in Messages::new(&buf[..got]) {
            let Ok(msg) = msg else {
                table.decode_errors += 1;
                break;
            };
            // Messages yields whole headers (16 bytes) only.
            let field = |at: usize| {
                msg.get(at..at + 2)
                    .map_or(0, |b| u16::from_ne_bytes([b[0], b[1]]))
            };
            let (kind, flags) = (field(4), field(6));
            table.interrupted |= flags & NLM_F_DUMP_INTR != 0;
            match kind {
                NLMSG_DONE => return Ok(table),
                NLMSG_ERROR => {
                    let errno = msg
                        .get(16..20)
                        .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                        .unwrap_or(0);
                    if errno != 0 {
                        return Err(io::Error::from_raw_os_error(-errno));
                    }
                }
                _ => match decode_message(msg) {
                    Ok(Some(ev)) => table.entries.push(ev),
                    Ok(None) => {}
                    Err(_) => table.decode_errors += 1,
                },
            }
        }
    }
}
