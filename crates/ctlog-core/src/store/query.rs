//! Lookups over a store directory. What they read is bounded by the
//! latest snapshot S at or before the span asked (layout.rs): a
//! connection open during the span began after S (its rows are in files
//! that reach past S) or was in the table at S (the snapshot has it). So a
//! lookup reads that snapshot, the sealed files that reach from S into the
//! span, the first snapshot after the span (for what began before the
//! store knew of it), and the journals' whole frames (a writer may be appending); a row
//! of an open connection begun before S that the snapshot lacks had ended
//! by S, and is left out.

use std::collections::HashSet;
use std::fs::File;
use std::io;
use std::net::IpAddr;
use std::path::Path;

use super::file::{connections, holders, scan, By, RowFilter};
use super::journal;
use super::layout::{Contents, Holds};
use super::record::{Ended, Record};

/// A lookup: by an address (and port), of a protocol, at a moment
/// (`from_ns == to_ns`) or over a span.
pub type Lookup = RowFilter;

/// What a lookup found, and what it read to find it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Found {
    /// One record a connection (file.rs connections), by start.
    pub records: Vec<Record>,
    pub files_read: usize,
    pub row_groups_read: usize,
}

/// The connections `q` asks for: by translated source at a moment, those
/// that held it then (file.rs holders); otherwise those open at some time
/// of the span. NotFound (ENOENT) if `dir` is not there, or no store was
/// ever opened in it.
pub fn lookup(dir: &Path, q: &Lookup) -> io::Result<Found> {
    let store = Contents::of(dir)?;
    // A directory no store was ever opened in (no lock, no file): not a store.
    if store.sealed.is_empty() && store.journals.is_empty() && !dir.join(".lock").exists() {
        return Err(io::Error::from_raw_os_error(libc::ENOENT));
    }
    let since = store
        .sealed
        .iter()
        .filter_map(|s| match s.holds {
            Holds::Snapshot { at } if at <= q.from_ns => Some(at),
            _ => None,
        })
        .max();
    // The first snapshot at or after the span: what it holds was open from
    // its start on, through the span if it began by then (before the first
    // snapshot, or in a gap while the store was stopped, nothing else says so).
    let next = store
        .sealed
        .iter()
        .filter_map(|s| match s.holds {
            Holds::Snapshot { at } if at >= q.to_ns => Some(at),
            _ => None,
        })
        .min();
    let mut found = Found::default();
    let mut rows = Vec::new();
    for s in &store.sealed {
        let wanted = match s.holds {
            Holds::Snapshot { at } => Some(at) == since || Some(at) == next,
            Holds::Events { lo, hi, .. } => lo <= q.to_ns && since.is_none_or(|at| hi >= at),
        };
        if !wanted {
            continue;
        }
        let (kept, groups) =
            scan(&s.path, q).map_err(|e| io::Error::other(format!("{}: {e}", s.path.display())))?;
        found.files_read += 1;
        found.row_groups_read += groups;
        rows.extend(kept);
    }
    for (_, path) in &store.journals {
        rows.extend(
            journal::read_all(File::open(path)?)?
                .into_iter()
                .filter(|r| q.keeps(r)),
        );
    }
    if let Some(at) = since {
        // The snapshot speaks for what was open at S.
        let conn = |r: &Record| {
            (
                r.proto,
                r.orig_src,
                r.orig_sport,
                r.orig_dst,
                r.orig_dport,
                r.id,
            )
        };
        let in_snapshot: HashSet<_> = rows
            .iter()
            .filter(|r| r.ended.is_snapshot())
            .map(conn)
            .collect();
        rows.retain(|r| {
            r.ended != Ended::Open || r.start_ns >= at || in_snapshot.contains(&conn(r))
        });
    }
    let conns = connections(rows);
    found.records = if q.by == By::Nat && q.port.is_some() && q.from_ns == q.to_ns {
        holders(conns, q.from_ns)
    } else {
        conns.into_iter().filter(|r| q.overlaps(r)).collect()
    };
    Ok(found)
}

/// Who held `nat_src`:`nat_sport` at `at_ns` (ns since the epoch).
pub fn nat(dir: &Path, nat_src: IpAddr, nat_sport: u16, at_ns: i64) -> io::Result<Found> {
    lookup(dir, &Lookup::nat_at(nat_src, nat_sport, at_ns))
}
