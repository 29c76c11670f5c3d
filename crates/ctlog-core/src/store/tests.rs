//! The store's files on their own: what a row holds of an event, that a
//! file reads back as written, and that a lookup finds the holder of a
//! translated port at a moment, reading only the row groups that may hold it.

use std::net::IpAddr;
use std::path::PathBuf;

use super::*;
use crate::event::{Counters, Event, EventType, Tuple};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A temporary file path, removed when dropped.
struct Temp(PathBuf);

impl Temp {
    fn new(name: &str) -> Temp {
        Temp(std::env::temp_dir().join(format!(
            "ctlogd-store-{}-{name}.parquet",
            std::process::id()
        )))
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A UDP flow 10.0.0.2:5000 -> 192.0.2.1:53 source-NATed to 198.51.100.7:61000.
fn snat(kind: EventType) -> Event {
    let mut ev = Event::new(kind, libc::AF_INET as u8, 0);
    ev.orig = Tuple {
        src: Some(ip("10.0.0.2")),
        dst: Some(ip("192.0.2.1")),
        proto: Some(17),
        sport: Some(5000),
        dport: Some(53),
        ..Tuple::default()
    };
    ev.reply = Tuple {
        src: Some(ip("192.0.2.1")),
        dst: Some(ip("198.51.100.7")),
        proto: Some(17),
        sport: Some(53),
        dport: Some(61000),
        ..Tuple::default()
    };
    ev.id = Some(0xdead_beef);
    ev.mark = Some(0xffff_fff0);
    ev.zone = Some(7);
    ev.start = Some(1_796_000_000_000_000_001);
    ev
}

#[test]
fn a_row_of_an_event_the_translated_source_is_the_reply_read_backwards() {
    let new = Record::of(&snat(EventType::New), 5).unwrap();
    assert_eq!(
        (new.orig_src, new.orig_sport, new.orig_dst, new.orig_dport),
        (ip("10.0.0.2"), 5000, ip("192.0.2.1"), 53)
    );
    assert_eq!(
        (new.nat_src, new.nat_sport, new.nat_dst, new.nat_dport),
        (ip("198.51.100.7"), 61000, ip("192.0.2.1"), 53)
    );
    assert_eq!(
        (new.start_ns, new.end_ns, new.ended),
        (1_796_000_000_000_000_001, None, Ended::Open)
    );
    assert_eq!(
        (new.proto, new.zone, new.mark, new.id),
        (17, 7, 0xffff_fff0, 0xdead_beef)
    );
    assert_eq!(new.orig_bytes, None, "no accounting, no counters");

    let mut ev = snat(EventType::Destroy);
    ev.stop = Some(1_796_000_030_000_000_000);
    ev.counters_orig = Some(Counters {
        packets: 3,
        bytes: 300,
    });
    ev.counters_reply = Some(Counters {
        packets: 2,
        bytes: 1 << 40,
    });
    let end = Record::of(&ev, 5).unwrap();
    assert_eq!(
        (end.end_ns, end.ended),
        (Some(1_796_000_030_000_000_000), Ended::Destroy)
    );
    assert_eq!(
        (
            end.orig_packets,
            end.orig_bytes,
            end.reply_packets,
            end.reply_bytes
        ),
        (Some(3), Some(300), Some(2), Some(1 << 40))
    );

    // Without the kernel's timestamps: when it was read.
    let mut bare = snat(EventType::Destroy);
    bare.start = None;
    assert_eq!(
        Record::of(&bare, 42).map(|r| (r.start_ns, r.end_ns)),
        Some((42, Some(42)))
    );
    assert_eq!(
        Record::of(&snat(EventType::Update), 5),
        None,
        "an UPDATE is no row"
    );
    let mut half = snat(EventType::New);
    half.reply.dst = None;
    assert_eq!(
        Record::of(&half, 5),
        None,
        "nor an event without both tuples"
    );
}

#[test]
fn addresses_are_16_bytes_ipv4_mapped() {
    for a in [
        "10.0.0.2",
        "255.255.255.255",
        "::1",
        "2001:db8::7",
        "::ffff:0:1",
    ] {
        let bytes = record::address_bytes(ip(a));
        assert_eq!(
            record::address_of(bytes).to_string(),
            ip(a).to_string().replace("::ffff:0.0.0.1", "0.0.0.1"),
            "{a}"
        );
    }
    assert_eq!(
        record::address_bytes(ip("10.0.0.2"))[..12],
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]
    );
}

/// `n` connections through a pool of 8 translated ports, 4 inside hosts,
/// each holding its port for 10 s, one after the other.
fn reused(n: usize) -> Vec<Record> {
    (0..n)
        .map(|i| {
            let start = 1_796_000_000_000_000_000 + i64::try_from(i / 8).unwrap() * 10_000_000_000;
            let mut r = Record::of(&snat(EventType::Destroy), 0).unwrap();
            r.start_ns = start;
            r.end_ns = if i % 97 == 0 {
                None
            } else {
                Some(start + 9_000_000_000)
            };
            r.ended = if r.end_ns.is_none() {
                Ended::Open
            } else {
                Ended::Destroy
            };
            r.orig_src = IpAddr::from([10, 0, 0, 2 + (i % 4) as u8]);
            r.orig_sport = 1024 + (i % 5000) as u16;
            r.nat_sport = 61000 + (i % 8) as u16;
            r.id = i as u32;
            r.orig_bytes = (i % 3 != 0).then_some(i as u64 * 100);
            r
        })
        .collect()
}

#[test]
fn a_file_reads_back_as_written_sorted_by_translated_source_and_start() {
    let t = Temp::new("round");
    let mut rows = reused(20_000);
    write_file(&t.0, &mut rows).unwrap();
    let back = read_file(&t.0).unwrap();
    assert_eq!(
        back, rows,
        "every column of every row, in the written (sorted) order"
    );
    assert!(back
        .windows(2)
        .all(|w| (w[0].nat_sport, w[0].start_ns) <= (w[1].nat_sport, w[1].start_ns)));
    let bytes = std::fs::metadata(&t.0).unwrap().len();
    eprintln!(
        "20,000 rows: {bytes} bytes, {:.1} a row",
        bytes as f64 / 20_000.0
    );
}

#[test]
fn a_lookup_answers_with_the_holder_at_that_moment_reading_only_its_row_groups() {
    let t = Temp::new("lookup");
    let mut rows = reused(80_000);
    write_file(&t.0, &mut rows).unwrap();
    let groups = 80_000usize.div_ceil(file::ROWS_PER_GROUP);
    let nat = ip("198.51.100.7");
    // Connection 8 * 100 + 3 held port 61003 from 1,000 s after the base, for 9 s.
    let start = 1_796_000_000_000_000_000 + 100 * 10_000_000_000;
    let (found, read) = lookup_nat(&t.0, nat, 61003, start + 4_000_000_000).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        (found[0].id, found[0].orig_src),
        (803, IpAddr::from([10, 0, 0, 2 + (803 % 4) as u8]))
    );
    assert!(read < groups, "{read} of {groups} row groups read");
    // Between two holders (9 s to 10 s): none.
    assert_eq!(
        lookup_nat(&t.0, nat, 61003, start + 9_500_000_000)
            .unwrap()
            .0,
        vec![]
    );
    // Another port, another address: none read.
    assert_eq!(lookup_nat(&t.0, nat, 60999, start).unwrap(), (vec![], 0));
    assert_eq!(
        lookup_nat(&t.0, ip("198.51.100.8"), 61003, start).unwrap(),
        (vec![], 0)
    );
    // A connection written while open (i % 97 == 0): once another on its
    // tuple began, it had ended; until then it holds its port.
    let open = rows.iter().find(|r| r.id == 97 * 8).unwrap().clone();
    let (found, _) =
        lookup_nat(&t.0, nat, open.nat_sport, open.start_ns + 3_600_000_000_000).unwrap();
    assert!(
        found.iter().all(|r| r.id != open.id),
        "superseded: {found:?}"
    );
    let (found, _) = lookup_nat(&t.0, nat, open.nat_sport, open.start_ns + 9_500_000_000).unwrap();
    assert_eq!(
        found.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![open.id],
        "still open between its start and the next"
    );
    let last = Temp::new("open");
    write_file(&last.0, &mut [open.clone()]).unwrap();
    let (found, _) = lookup_nat(
        &last.0,
        nat,
        open.nat_sport,
        open.start_ns + 3_600_000_000_000,
    )
    .unwrap();
    assert_eq!(
        found,
        vec![open],
        "the last on its tuple holds it from its start on"
    );
}

/// A temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!("ctlogd-store-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        TempDir(d)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Every file under `dir`, relative to it, sorted.
fn files(dir: &std::path::Path) -> Vec<String> {
    fn walk(root: &std::path::Path, at: &std::path::Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(at).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    // The writer's lock (a_second_writer_is_refused_while_one_holds_the_store).
    out.retain(|f| f != ".lock");
    out.sort();
    out
}

#[test]
fn a_second_writer_is_refused_while_one_holds_the_store() {
    let d = TempDir::new("lock");
    let first = StoreWriter::open(&d.0, NEVER).unwrap();
    let second = StoreWriter::open(&d.0, NEVER).err().map(|e| e.kind());
    assert_eq!(second, Some(std::io::ErrorKind::WouldBlock));
    drop(first);
    assert!(
        StoreWriter::open(&d.0, NEVER).is_ok(),
        "free once the first is gone"
    );
}

const NEVER: SealAfter = SealAfter {
    rows: usize::MAX,
    ns: i64::MAX,
};

#[test]
fn a_journal_frame_holds_every_field_and_a_torn_one_is_none() {
    let mut rows = reused(200);
    rows[1].orig_src = ip("2001:db8::1");
    rows[1].nat_dst = ip("2001:db8::2");
    let mut buf = Vec::new();
    journal::write_all(&mut buf, &rows).unwrap();
    assert_eq!(buf.len(), 200 * journal::FRAME);
    assert_eq!(journal::read_all(&buf[..]).unwrap(), rows);
    // A crash mid-write: the frames before the torn one.
    assert_eq!(
        journal::read_all(&buf[..buf.len() - 7]).unwrap(),
        rows[..199]
    );
    buf[journal::FRAME * 3 + 20] ^= 1;
    assert_eq!(
        journal::read_all(&buf[..]).unwrap(),
        rows[..3],
        "a spoilt frame ends what is read"
    );
}

#[test]
fn day_directories_are_the_utc_date_of_the_earliest_start() {
    assert_eq!(layout::day_dir(0), "1970/01/01");
    assert_eq!(layout::day_dir(1_796_000_000 * 1_000_000_000), "2026/11/30");
    assert_eq!(layout::day_dir(951_782_400 * 1_000_000_000), "2000/02/29");
    assert_eq!(layout::day_dir(-1), "1969/12/31");
}

#[test]
fn a_seal_writes_one_parquet_file_by_day_and_starts_a_new_journal() {
    let d = TempDir::new("seal");
    let (mut w, recovered) = StoreWriter::open(
        &d.0,
        SealAfter {
            rows: 100,
            ns: 1_000,
        },
    )
    .unwrap();
    assert!(recovered.is_empty());
    assert_eq!(files(&d.0), ["journal-0.bin"]);
    let rows = reused(150);
    for (i, r) in rows.iter().take(99).enumerate() {
        w.push(r.clone(), i as i64);
    }
    assert!(!w.due(500), "99 rows, 500 ns");
    assert!(w.due(1_000), "the first is 1,000 ns old");
    w.push(rows[99].clone(), 0);
    assert!(w.due(0), "100 rows");
    let path = w.seal().unwrap().unwrap();
    let mut want = rows[..100].to_vec();
    want.sort_by_key(|r| (r.nat_sport, r.start_ns));
    assert_eq!(read_file(&path).unwrap(), want);
    let min = rows[..100].iter().map(|r| r.start_ns).min().unwrap();
    // The latest moment the rows speak of: an end, else a start.
    let max = rows[..100].iter().map(Record::last_ns).max().unwrap();
    assert_eq!(
        files(&d.0),
        [
            format!("2026/11/30/{min}-{max}-g0.parquet"),
            "journal-1.bin".into()
        ]
    );
    assert_eq!(w.seal().unwrap(), None, "nothing since");
}

#[test]
fn a_crash_loses_what_was_not_synced_and_the_next_open_seals_the_journal() {
    let d = TempDir::new("crash");
    let rows = reused(300);
    {
        let (mut w, _) = StoreWriter::open(&d.0, NEVER).unwrap();
        for r in &rows[..250] {
            w.push(r.clone(), 0);
        }
        w.sync().unwrap();
        for r in &rows[250..] {
            w.push(r.clone(), 0);
        }
        // Dropped without a sync or a seal: the process died.
    }
    // And the last frame was torn.
    let journal = d.0.join("journal-0.bin");
    let len = std::fs::metadata(&journal).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&journal)
        .unwrap()
        .set_len(len - 10)
        .unwrap();
    // A seal that died half-way left its temporary file.
    std::fs::create_dir_all(d.0.join("2026/11/30")).unwrap();
    std::fs::write(d.0.join("2026/11/30/.1-2-g9.parquet.tmp"), b"half").unwrap();

    let (mut w, recovered) = StoreWriter::open(&d.0, NEVER).unwrap();
    assert_eq!(recovered.len(), 1);
    let mut got = read_file(&recovered[0]).unwrap();
    got.sort_by_key(|r| r.id);
    assert_eq!(
        got,
        rows[..249],
        "the synced records less the torn one; none of the unsynced"
    );
    assert_eq!(
        files(&d.0)
            .iter()
            .filter(|f| f.ends_with(".tmp") || f.as_str() == "journal-0.bin")
            .count(),
        0,
        "{:?}",
        files(&d.0)
    );
    assert!(files(&d.0).contains(&"journal-1.bin".to_string()));
    // The next seal takes the next generation.
    w.push(rows[299].clone(), 0);
    assert!(w
        .seal()
        .unwrap()
        .unwrap()
        .to_string_lossy()
        .ends_with("-g1.parquet"));
}

#[test]
fn a_crash_between_a_seal_and_its_journal_drop_seals_nothing_twice() {
    let d = TempDir::new("twice");
    let rows = reused(50);
    let (mut w, _) = StoreWriter::open(&d.0, NEVER).unwrap();
    for r in &rows {
        w.push(r.clone(), 0);
    }
    w.sync().unwrap();
    let journal = std::fs::read(d.0.join("journal-0.bin")).unwrap();
    w.seal().unwrap();
    drop(w);
    // The journal of generation 0 as it was before its file's seal was done.
    std::fs::write(d.0.join("journal-0.bin"), journal).unwrap();
    let (_, recovered) = StoreWriter::open(&d.0, NEVER).unwrap();
    assert_eq!(recovered, Vec::<PathBuf>::new());
    let sealed: Vec<String> = files(&d.0)
        .into_iter()
        .filter(|f| f.ends_with(".parquet"))
        .collect();
    assert_eq!(sealed.len(), 1, "{sealed:?}");
    assert!(!files(&d.0).contains(&"journal-0.bin".to_string()));
}

/// A connection of inside host 10.0.0.`host` on the test's translated tuple.
fn conn(id: u32, host: u8, ended: Ended, start: i64, end: Option<i64>) -> Record {
    let mut r = Record::of(&snat(EventType::Destroy), 0).unwrap();
    (r.id, r.orig_src, r.ended, r.start_ns, r.end_ns) =
        (id, IpAddr::from([10, 0, 0, host]), ended, start, end);
    r
}

#[test]
fn a_lookup_over_a_directory_joins_a_new_sealed_with_its_destroy_in_the_journal_and_skips_later_files(
) {
    let d = TempDir::new("query");
    let nat = ip("198.51.100.7");
    let base = 1_796_000_000_000_000_000i64;
    let s = |n: i64| base + n * 1_000_000_000;
    let (mut w, _) = StoreWriter::open(&d.0, NEVER).unwrap();
    // Host 2 holds the port from 0 s to 30 s, its NEW sealed, its DESTROY
    // (read without the kernel's timestamps: start = when read) in the journal.
    w.push(conn(1, 2, Ended::Open, s(0), None), 0);
    w.seal().unwrap();
    // Host 3 from 40 s on, still open; a file of later connections on other ports.
    w.push(conn(2, 3, Ended::Open, s(40), None), 0);
    w.seal().unwrap();
    let mut later = conn(3, 4, Ended::Open, s(1000), None);
    later.nat_sport = 1;
    w.push(later, 0);
    w.seal().unwrap();
    w.push(conn(1, 2, Ended::Destroy, s(30), Some(s(30))), 0);
    w.sync().unwrap();

    let at = |t: i64| query::nat(&d.0, nat, 61000, s(t)).unwrap();
    let one = at(10);
    assert_eq!(
        one.records
            .iter()
            .map(|r| (r.id, r.start_ns, r.end_ns))
            .collect::<Vec<_>>(),
        [(1, s(0), Some(s(30)))],
        "one record: the NEW's start, the DESTROY's end"
    );
    assert_eq!(
        one.files_read, 1,
        "the files that begin after 10 s are not read"
    );
    assert_eq!(at(35).records, vec![], "between the two holders");
    assert_eq!(
        at(50)
            .records
            .iter()
            .map(|r| r.orig_src)
            .collect::<Vec<_>>(),
        [IpAddr::from([10, 0, 0, 3])]
    );
    assert_eq!(
        at(5000).records.iter().map(|r| r.id).collect::<Vec<_>>(),
        [2],
        "still open: holds it on"
    );
    assert_eq!(at(-1).records, vec![], "before any");
}

#[test]
fn a_lookup_reads_back_only_to_the_latest_snapshot_which_speaks_for_what_was_open_then() {
    let d = TempDir::new("snapshot");
    let nat = ip("198.51.100.7");
    let base = 1_796_000_000_000_000_000i64;
    let s = |n: i64| base + n * 1_000_000_000;
    let (mut w, _) = StoreWriter::open(&d.0, NEVER).unwrap();
    // Host 2 opens at 0 s (long-lived); host 5 opens at 10 s and its
    // DESTROY is lost (the store was down): neither ends in the files.
    w.push(conn(1, 2, Ended::Open, s(0), None), 0);
    let mut other = conn(2, 5, Ended::Open, s(10), None);
    other.nat_dport = 443;
    w.push(other, 0);
    w.seal().unwrap();
    // The snapshot at 100 s has host 2 only.
    writer::write_snapshot(&d.0, s(100), &mut [conn(1, 2, Ended::Snapshot, s(0), None)]).unwrap();
    let mut third = conn(3, 4, Ended::Destroy, s(150), Some(s(160)));
    third.nat_dport = 8080;
    w.push(third, 0);
    w.seal().unwrap();

    let at = |t: i64| query::nat(&d.0, nat, 61000, s(t)).unwrap();
    let found = at(200);
    assert_eq!(
        found
            .records
            .iter()
            .map(|r| (r.id, r.start_ns, r.ended))
            .collect::<Vec<_>>(),
        [(1, s(0), Ended::Snapshot)],
        "host 2, open since 0 s, seen open at the snapshot; host 5 had ended by it"
    );
    assert_eq!(
        found.files_read, 2,
        "the snapshot and the file after it, not the one before"
    );
    let before = at(50);
    assert_eq!(
        before.records.len(),
        2,
        "before the snapshot both held it (other tuples): {before:?}"
    );
    assert_eq!(
        before.files_read, 2,
        "the file before the snapshot, and the snapshot after"
    );
    assert_eq!(
        at(155).records.iter().map(|r| r.id).collect::<Vec<_>>(),
        [1, 3],
        "two holders on two tuples at once"
    );
}

#[test]
fn a_lookup_reads_forward_to_the_next_snapshot_and_past_it_only_for_the_ends_of_what_it_held() {
    let d = TempDir::new("forward");
    let nat = ip("198.51.100.7");
    let base = 1_796_000_000_000_000_000i64;
    // Units of 10 s: farther apart than a read may lag (READ_LAG_NS).
    let s = |n: i64| base + n * 10_000_000_000;
    // Rows on another port: they only make the files reach back and forth.
    let elsewhere = |id: u32, start: i64, end: i64| {
        let mut r = conn(id, 9, Ended::Destroy, s(start), Some(s(end)));
        r.nat_sport = 1;
        r
    };
    let (mut w, _) = StoreWriter::open(&d.0, NEVER).unwrap();
    // Host 2 opens at 0 (long-lived); host 5 at 10 on another tuple, its
    // DESTROY lost (the store was down).
    w.push(conn(1, 2, Ended::Open, s(0), None), 0);
    let mut lost = conn(2, 5, Ended::Open, s(10), None);
    lost.nat_dport = 443;
    w.push(lost, 0);
    w.seal().unwrap();
    w.push(elsewhere(10, 5, 150), 0);
    w.seal().unwrap();
    let held = |at: i64| {
        writer::write_snapshot(&d.0, s(at), &mut [conn(1, 2, Ended::Snapshot, s(0), None)]).unwrap()
    };
    held(100);
    w.push(elsewhere(11, 6, 250), 0);
    w.seal().unwrap();
    held(200);
    // Host 2's DESTROY at 280, sealed after the snapshot at 300 (which no
    // longer has it), with a row that reaches past it.
    w.push(conn(1, 2, Ended::Destroy, s(0), Some(s(280))), 0);
    w.push(elsewhere(12, 7, 320), 0);
    writer::write_snapshot(&d.0, s(300), &mut []).unwrap();
    w.seal().unwrap();
    // Read after 320: nothing of it was read by 300.
    w.push(elsewhere(13, 8, 350), 0);
    w.seal().unwrap();

    let at = |t: i64| query::nat(&d.0, nat, 61000, s(t)).unwrap();
    let ends = |f: &query::Found| {
        f.records
            .iter()
            .map(|r| (r.id, r.start_ns, r.end_ns, r.ended))
            .collect::<Vec<_>>()
    };
    let early = at(50);
    assert_eq!(
        ends(&early),
        [
            (1, s(0), Some(s(280)), Ended::Destroy),
            (2, s(10), None, Ended::Open)
        ],
        "host 2 with its end, read past two snapshots; host 5 as last seen"
    );
    assert_eq!(
        early.files_read, 7,
        "the snapshot at 100 and the two files before it (the second reaches past 100); \
         the snapshots at 200 and 300 (host 2 open at 200, gone at 300); the two files \
         that may hold what was read from 200 to 300; not the last"
    );
    let later = at(150);
    assert_eq!(ends(&later), [(1, s(0), Some(s(280)), Ended::Destroy)]);
    assert_eq!(
        at(290).records,
        vec![],
        "after host 2 ended, before the next holder"
    );
}

#[test]
fn retention_deletes_the_oldest_files_whole_until_both_limits_hold() {
    let d = TempDir::new("retain");
    let (mut w, _) = StoreWriter::open(&d.0, NEVER).unwrap();
    let day = 86_400_000_000_000i64;
    let base = 1_796_000_000_000_000_000i64;
    let rows = reused(300);
    let mut sizes = Vec::new();
    for i in 0..3 {
        for r in &rows[i * 100..(i + 1) * 100] {
            let mut r = r.clone();
            r.start_ns = base + i as i64 * day;
            r.end_ns = r.end_ns.map(|_| r.start_ns);
            w.push(r, 0);
        }
        let p = w.seal().unwrap().unwrap();
        sizes.push(std::fs::metadata(p).unwrap().len());
    }
    let sealed = |d: &std::path::Path| {
        files(d)
            .into_iter()
            .filter(|f| f.ends_with(".parquet"))
            .count()
    };
    // By age: at base + 2.5 days, with 1 day kept, the first two go.
    let now = base + 2 * day + day / 2;
    assert_eq!(
        service::retain(&d.0, 0, 0, now).unwrap(),
        (0, 0),
        "no limits"
    );
    assert_eq!(
        service::retain(&d.0, day, 0, now).unwrap(),
        (2, sizes[0] + sizes[1])
    );
    assert_eq!(sealed(&d.0), 1);
    assert!(
        !d.0.join("2026/11/30").exists(),
        "its empty day directory goes too"
    );
    // By size: one byte less than the last file: it goes too.
    assert_eq!(
        service::retain(&d.0, 0, sizes[2] - 1, now).unwrap(),
        (1, sizes[2])
    );
    assert_eq!(sealed(&d.0), 0);
    assert!(
        files(&d.0).contains(&"journal-3.bin".to_string()),
        "journals stay"
    );
}

#[test]
fn a_connection_first_seen_in_a_later_snapshot_is_found_before_it() {
    let d = TempDir::new("later-snapshot");
    let base = 1_796_000_000_000_000_000i64;
    let s = |n: i64| base + n * 1_000_000_000;
    let (w, _) = StoreWriter::open(&d.0, NEVER).unwrap();
    // Open since 0 s, first seen by the snapshot at 100 s (the store started then).
    writer::write_snapshot(&d.0, s(100), &mut [conn(1, 2, Ended::Snapshot, s(0), None)]).unwrap();
    drop(w);
    let nat = ip("198.51.100.7");
    let at = |t: i64| query::nat(&d.0, nat, 61000, s(t)).unwrap().records;
    assert_eq!(
        at(50).iter().map(|r| r.id).collect::<Vec<_>>(),
        [1],
        "before the store knew of it"
    );
    assert_eq!(at(150).iter().map(|r| r.id).collect::<Vec<_>>(), [1]);
    assert_eq!(at(-5), vec![], "before it began");
}

#[test]
fn a_new_and_its_destroy_sealed_together_are_one_row() {
    let d = TempDir::new("fold");
    let base = 1_796_000_000_000_000_000i64;
    let s = |n: i64| base + n * 1_000_000_000;
    let (mut w, _) = StoreWriter::open(&d.0, NEVER).unwrap();
    w.push(conn(1, 2, Ended::Open, s(0), None), 0);
    // Its DESTROY read without the kernel's timestamps: start = when read.
    w.push(conn(1, 2, Ended::Destroy, s(30), Some(s(30))), 0);
    // Still open when sealed: its NEW stays a row of its own.
    w.push(conn(2, 3, Ended::Open, s(40), None), 0);
    let path = w.seal().unwrap().unwrap();
    let rows = read_file(&path).unwrap();
    assert_eq!(
        rows.iter()
            .map(|r| (r.id, r.start_ns, r.end_ns, r.ended))
            .collect::<Vec<_>>(),
        [
            (1, s(0), Some(s(30)), Ended::Destroy),
            (2, s(40), None, Ended::Open)
        ]
    );
}

#[test]
fn a_new_read_after_its_short_connection_ended_is_that_connection() {
    let base = 1_796_000_000_000_000_000i64;
    let ms = |n: i64| base + n * 1_000_000;
    // The kernel's start and stop (DESTROY: 0 ms to 5 ms); the NEW, which
    // has no timestamps, read at 40 ms.
    let rows = vec![
        conn(7, 2, Ended::Destroy, ms(0), Some(ms(5))),
        conn(7, 2, Ended::Open, ms(40), None),
    ];
    let joined = file::connections(rows);
    assert_eq!(
        joined
            .iter()
            .map(|r| (r.start_ns, r.end_ns, r.ended))
            .collect::<Vec<_>>(),
        [(ms(0), Some(ms(5)), Ended::Destroy)],
        "one record, no open one after it ended"
    );
    assert_eq!(
        file::holders(joined, ms(100)),
        vec![],
        "none holds it after its end"
    );
}
