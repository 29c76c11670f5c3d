//! Lookups over a store directory. What they read is bounded by two
//! snapshots (layout.rs): S, the latest at or before the span, and N, the
//! first at or after it.
//! - Back: a connection open during the span began after S (its rows are
//!   in files that reach past S) or was in the table at S (the snapshot
//!   has it). A row of an open connection begun before S that S lacks had
//!   ended by S, and is left out.
//! - Forward: a connection open during the span either ended by N (its
//!   DESTROY was read by then, so it is in a file sealed after the one
//!   that reaches N, at the latest) or is in N. Its end is then read from
//!   the files after N, window by window between the later snapshots: a
//!   window's files are read only for connections that the snapshot which
//!   closes it no longer holds.
//!
//! The journals' whole frames are read too (a writer may be appending).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io;
use std::net::IpAddr;
use std::path::Path;

use super::file::{connections, holders, scan, By, RowFilter, READ_LAG_NS};
use super::journal;
use super::layout::{Contents, Holds, Sealed};
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

/// A connection, as a snapshot and the events name it.
type Conn = (u8, IpAddr, u16, IpAddr, u16, u32);

fn conn(r: &Record) -> Conn {
    (
        r.proto,
        r.orig_src,
        r.orig_sport,
        r.orig_dst,
        r.orig_dport,
        r.id,
    )
}

/// An event file, and the latest event of the file sealed before it: its
/// own events were all read after that one (a seal takes the journal as
/// read so far), so a file whose predecessor reaches past a moment holds
/// nothing read by then.
struct Events<'a> {
    file: &'a Sealed,
    lo: i64,
    hi: i64,
    after: Option<i64>,
}

impl Events<'_> {
    /// Whether it may hold an event read by `at` (clocks stepped back by
    /// less than READ_LAG allowed for).
    fn reaches_back_to(&self, at: i64) -> bool {
        self.after
            .is_none_or(|h| h <= at.saturating_add(READ_LAG_NS))
    }
}

struct Reading<'a> {
    q: &'a Lookup,
    found: Found,
    rows: Vec<Record>,
}

impl Reading<'_> {
    /// The rows of `s` that the lookup keeps.
    fn read(&mut self, s: &Sealed) -> io::Result<Vec<Record>> {
        let (kept, groups) = scan(&s.path, self.q)
            .map_err(|e| io::Error::other(format!("{}: {e}", s.path.display())))?;
        self.found.files_read += 1;
        self.found.row_groups_read += groups;
        Ok(kept)
    }

    fn add(&mut self, s: &Sealed) -> io::Result<()> {
        let kept = self.read(s)?;
        self.rows.extend(kept);
        Ok(())
    }
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
    let mut snapshots: Vec<(i64, &Sealed)> = store
        .sealed
        .iter()
        .filter_map(|s| match s.holds {
            Holds::Snapshot { at } => Some((at, s)),
            Holds::Events { .. } => None,
        })
        .collect();
    snapshots.sort_by_key(|&(at, _)| at);
    let mut gens: Vec<(u64, i64, i64, &Sealed)> = store
        .sealed
        .iter()
        .filter_map(|s| match s.holds {
            Holds::Events { lo, hi, gen } => Some((gen, lo, hi, s)),
            Holds::Snapshot { .. } => None,
        })
        .collect();
    gens.sort_by_key(|&(gen, ..)| gen);
    let hi_of: HashMap<u64, i64> = gens.iter().map(|&(gen, _, hi, _)| (gen, hi)).collect();
    let events: Vec<Events> = gens
        .iter()
        .map(|&(gen, lo, hi, file)| Events {
            file,
            lo,
            hi,
            after: gen.checked_sub(1).and_then(|g| hi_of.get(&g).copied()),
        })
        // Nothing of a file begun after the span is in it.
        .filter(|e| e.lo <= q.to_ns)
        .collect();
    let since = snapshots.iter().rev().find(|&&(at, _)| at <= q.from_ns);
    // The first snapshot at or after the span: what it holds was open from
    // its start on, through the span if it began by then (before the first
    // snapshot, or in a gap while the store was stopped, nothing else says so).
    let next_at = snapshots.iter().position(|&(at, _)| at >= q.to_ns);
    let mut r = Reading {
        q,
        found: Found::default(),
        rows: Vec::new(),
    };
    if let Some(&(_, s)) = since {
        r.add(s)?;
    }
    let mut in_next = HashSet::new();
    if let Some(&(at, s)) = next_at.map(|i| &snapshots[i]) {
        if since.is_none_or(|&(before, _)| before != at) {
            let kept = r.read(s)?;
            in_next = kept.iter().map(conn).collect();
            r.rows.extend(kept);
        } else {
            in_next = r.rows.iter().map(conn).collect();
        }
    }
    let mut read = vec![false; events.len()];
    let next = next_at.map(|i| snapshots[i].0);
    for (i, e) in events.iter().enumerate() {
        if since.is_none_or(|&(at, _)| e.hi >= at) && next.is_none_or(|at| e.reaches_back_to(at)) {
            r.add(e.file)?;
            read[i] = true;
        }
    }
    for (_, path) in &store.journals {
        r.rows.extend(
            journal::read_all(File::open(path)?)?
                .into_iter()
                .filter(|row| q.keeps(row)),
        );
    }
    if let Some(&(at, _)) = since {
        // The snapshot speaks for what was open at S.
        let in_snapshot: HashSet<_> = r
            .rows
            .iter()
            .filter(|row| row.ended.is_snapshot())
            .map(conn)
            .collect();
        r.rows.retain(|row| {
            row.ended != Ended::Open || row.start_ns >= at || in_snapshot.contains(&conn(row))
        });
    }
    let answer = |rows: &[Record]| -> Vec<Record> {
        let conns = connections(rows.to_vec());
        if q.by == By::Nat && q.port.is_some() && q.from_ns == q.to_ns {
            holders(conns, q.from_ns)
        } else {
            conns.into_iter().filter(|c| q.overlaps(c)).collect()
        }
    };
    let mut records = answer(&r.rows);
    let read_before = r.found.files_read;
    // Those still open at N: their ends, after it.
    let mut open: HashSet<Conn> = records
        .iter()
        .filter(|c| c.end_ns.is_none())
        .map(conn)
        .filter(|c| in_next.contains(c))
        .collect();
    let mut from = next;
    let mut later = next_at.map_or(snapshots.len(), |i| i + 1);
    while let Some(window_from) = from.filter(|_| !open.is_empty()) {
        // The window up to the next snapshot (or to the end): what that
        // snapshot still holds ended after it.
        let closing = snapshots.get(later);
        let mut ended_here = true;
        if let Some(&(_, s)) = closing {
            let kept = r.read(s)?;
            let still: HashSet<Conn> = kept.iter().map(conn).collect();
            ended_here = open.iter().any(|c| !still.contains(c));
            open.retain(|c| still.contains(c));
            r.rows.extend(kept);
        }
        if ended_here {
            let until = closing.map(|&(at, _)| at);
            for (i, e) in events.iter().enumerate() {
                if !read[i] && e.hi >= window_from && until.is_none_or(|at| e.reaches_back_to(at)) {
                    r.add(e.file)?;
                    read[i] = true;
                }
            }
        }
        from = closing.map(|&(at, _)| at);
        later += 1;
    }
    // Read on for ends: the answer again, with them.
    if r.found.files_read > read_before {
        records = answer(&r.rows);
    }
    r.found.records = records;
    Ok(r.found)
}

/// Who held `nat_src`:`nat_sport` at `at_ns` (ns since the epoch).
#[cfg(test)]
pub fn nat(dir: &Path, nat_src: IpAddr, nat_sport: u16, at_ns: i64) -> io::Result<Found> {
    lookup(dir, &Lookup::nat_at(nat_src, nat_sport, at_ns))
}
