//! store-gen: writes a NAT log store directory as ctlogd's store output
//! would have written it over a stretch of simulated time, through the
//! core's own writer (StoreWriter, write_snapshot), for benchmarks and for
//! the tests that read the files with other engines.
//!
//! The traffic: connections arrive at `--rate` a second (a Poisson
//! process) from inside hosts in 100.64.0.0/10 (carrier-grade NAT space),
//! each source-translated to a free port (1024-65535) of a pool of
//! `--nat-addrs` addresses in 198.51.100.0/24; a translated address and
//! port is held by one connection at a time and taken again later by
//! others. Destinations are a popular few and a spread of the rest, mostly
//! TCP to 443; durations mostly seconds, with a tail to hours. Each
//! connection is a NEW when it begins and a DESTROY when it ends (the
//! writer makes them one row when they are sealed together); every
//! simulated hour a snapshot holds the connections open then.
//!
//! Prints one JSON line: connections, rows (every row of every file,
//! snapshots too), snapshot_rows, files, bytes, bytes_per_connection,
//! seconds, connections_per_second.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt::Write as _;
use std::fs;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::exit;
use std::time::Instant;

use ctlog_core::store::layout::Contents;
use ctlog_core::store::writer::write_snapshot;
use ctlog_core::store::{Ended, Record, SealAfter, StoreWriter};

const SECOND: i64 = 1_000_000_000;
const HOUR: i64 = 3600 * SECOND;
/// 2026-01-01T00:00:00Z.
const DEFAULT_START_NS: i64 = 1_767_225_600 * SECOND;
const TCP: u8 = 6;
const UDP: u8 = 17;

const USAGE: &str = "usage: store-gen --dir DIR --connections N [--seed S] [--start-ns NS] \
[--rate CONN_PER_S] [--no-counters] [--sample K FILE] [--seal-rows N] [--nat-addrs N] \
[--ports LO-HI] [--hosts N]";

struct Args {
    dir: PathBuf,
    connections: u64,
    seed: u64,
    start_ns: i64,
    rate: f64,
    counters: bool,
    sample: Option<(usize, PathBuf)>,
    seal_rows: usize,
    nat_addrs: u8,
    ports: (u16, u16),
    hosts: u32,
}

/// Exits with the usage and what was wrong.
fn usage(why: &str) -> ! {
    eprintln!("store-gen: {why}\n{USAGE}");
    exit(2)
}

fn parse<T: std::str::FromStr>(flag: &str, v: Option<String>) -> T {
    let Some(v) = v else {
        usage(&format!("{flag} needs a value"))
    };
    v.parse()
        .unwrap_or_else(|_| usage(&format!("{flag}: cannot read {v:?}")))
}

fn args() -> Args {
    let mut a = Args {
        dir: PathBuf::new(),
        connections: 0,
        seed: 1,
        start_ns: DEFAULT_START_NS,
        rate: 500.0,
        counters: true,
        sample: None,
        seal_rows: 1 << 20,
        nat_addrs: 4,
        ports: (1024, 65535),
        hosts: 16_384,
    };
    let (mut dir, mut connections) = (None, None);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--dir" => dir = Some(parse::<PathBuf>(&flag, it.next())),
            "--connections" => connections = Some(parse(&flag, it.next())),
            "--seed" => a.seed = parse(&flag, it.next()),
            "--start-ns" => a.start_ns = parse(&flag, it.next()),
            "--rate" => a.rate = parse(&flag, it.next()),
            "--no-counters" => a.counters = false,
            "--sample" => {
                let k = parse(&flag, it.next());
                a.sample = Some((k, parse(&flag, it.next())));
            }
            "--seal-rows" => a.seal_rows = parse(&flag, it.next()),
            "--nat-addrs" => a.nat_addrs = parse(&flag, it.next()),
            "--ports" => {
                let v: String = parse(&flag, it.next());
                a.ports = v
                    .split_once('-')
                    .and_then(|(lo, hi)| Some((lo.parse().ok()?, hi.parse().ok()?)))
                    .filter(|(lo, hi)| lo <= hi)
                    .unwrap_or_else(|| usage(&format!("--ports: {v:?} is not LO-HI")));
            }
            "--hosts" => a.hosts = parse(&flag, it.next()),
            "-h" | "--help" => {
                println!("{USAGE}");
                exit(0)
            }
            other => usage(&format!("unknown argument {other:?}")),
        }
    }
    a.dir = dir.unwrap_or_else(|| usage("--dir is needed"));
    a.connections = connections.unwrap_or_else(|| usage("--connections is needed"));
    if !(a.rate > 0.0 && a.rate.is_finite()) {
        usage("--rate must be above 0");
    }
    if a.seal_rows == 0 || a.nat_addrs == 0 || a.hosts == 0 {
        usage("--seal-rows, --nat-addrs and --hosts must be above 0");
    }
    if a.hosts >= 1 << 22 {
        usage("--hosts: 100.64.0.0/10 holds fewer");
    }
    a
}

/// SplitMix64: small, fast, and the same stream for the same seed everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Log-uniform in [lo, hi).
    fn log_uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo * (hi / lo).powf(self.unit())
    }
}

/// The translated addresses and ports, and when each is free again.
struct Pool {
    addrs: Vec<Ipv4Addr>,
    lo: u16,
    span: usize,
    /// By slot (address-major): the end of the connection that held it last.
    free_at: Vec<i64>,
}

impl Pool {
    fn new(nat_addrs: u8, (lo, hi): (u16, u16)) -> Pool {
        let addrs: Vec<Ipv4Addr> = (1..=nat_addrs)
            .map(|i| Ipv4Addr::new(198, 51, 100, i))
            .collect();
        let span = usize::from(hi - lo) + 1;
        Pool {
            free_at: vec![i64::MIN; addrs.len() * span],
            addrs,
            lo,
            span,
        }
    }

    /// Takes a slot free before `start` (its last holder ended earlier) for
    /// a connection held until `end`: a few random tries (as the kernel
    /// tries ports), then a walk over them all; none if every one is held.
    fn take(&mut self, rng: &mut Rng, start: i64, end: i64) -> Option<(Ipv4Addr, u16)> {
        let n = self.free_at.len();
        let from = rng.below(n as u64) as usize;
        let random = (0..32).map(|_| rng.below(n as u64) as usize);
        let walk = (0..n).map(|i| (from + i) % n);
        let slot = random.chain(walk).find(|&s| self.free_at[s] < start)?;
        self.free_at[slot] = end;
        let port = self.lo + (slot % self.span) as u16;
        Some((self.addrs[slot / self.span], port))
    }
}

/// Where connections go: a popular few, and a spread of the rest.
struct World {
    hosts: Vec<Ipv4Addr>,
    popular: Vec<Ipv4Addr>,
}

impl World {
    fn new(rng: &mut Rng, hosts: u32) -> World {
        let cgnat = u32::from(Ipv4Addr::new(100, 64, 0, 0));
        let hosts = (0..hosts)
            .map(|_| Ipv4Addr::from(cgnat + 1 + rng.below((1 << 22) - 2) as u32))
            .collect();
        let popular = (0..2000).map(|_| World::public(rng)).collect();
        World { hosts, popular }
    }

    /// An address in 1.0.0.0-223.255.255.255, off the private /8s.
    fn public(rng: &mut Rng) -> Ipv4Addr {
        loop {
            let a = Ipv4Addr::from(0x0100_0000 + rng.below(0xdf00_0000) as u32);
            if !(a.is_private() || a.is_loopback() || a.octets()[0] == 100) {
                return a;
            }
        }
    }

    /// Skewed toward the first of `n`: some hosts and sites are busier.
    fn skewed(rng: &mut Rng, n: usize, power: i32) -> usize {
        ((rng.unit().powi(power) * n as f64) as usize).min(n - 1)
    }

    fn host(&self, rng: &mut Rng) -> Ipv4Addr {
        self.hosts[World::skewed(rng, self.hosts.len(), 2)]
    }

    fn destination(&self, rng: &mut Rng) -> Ipv4Addr {
        if rng.chance(0.8) {
            self.popular[World::skewed(rng, self.popular.len(), 3)]
        } else {
            World::public(rng)
        }
    }
}

/// Mostly seconds, a tail to hours.
fn duration_ns(rng: &mut Rng) -> i64 {
    let u = rng.unit();
    let s = if u < 0.6 {
        rng.log_uniform(0.05, 10.0)
    } else if u < 0.9 {
        rng.log_uniform(10.0, 120.0)
    } else if u < 0.99 {
        rng.log_uniform(120.0, 1800.0)
    } else {
        rng.log_uniform(1800.0, 4.0 * 3600.0)
    };
    (s * SECOND as f64) as i64
}

fn dport(rng: &mut Rng, proto: u8) -> u16 {
    let u = rng.unit();
    let common: &[(f64, u16)] = if proto == TCP {
        &[(0.7, 443), (0.9, 80), (0.92, 22), (0.94, 993)]
    } else {
        &[(0.4, 53), (0.8, 443), (0.85, 123)]
    };
    common
        .iter()
        .find(|(p, _)| u < *p)
        .map_or_else(|| 1024 + rng.below(64512) as u16, |&(_, port)| port)
}

/// Both directions' packets and bytes over `ns`: a few packets a second,
/// the reply the larger.
fn counters(rng: &mut Rng, ns: i64) -> [u64; 4] {
    let secs = ns as f64 / SECOND as f64;
    let orig_packets = 1 + (secs * rng.log_uniform(0.2, 20.0)) as u64;
    let reply_packets = orig_packets + (orig_packets as f64 * rng.unit()) as u64;
    let orig_bytes = orig_packets * (40 + rng.below(200));
    let reply_bytes = reply_packets * (40 + rng.below(1400));
    [orig_packets, orig_bytes, reply_packets, reply_bytes]
}

/// The counters a connection had run up `part` of the way through.
fn part_of(c: [u64; 4], part: f64) -> [u64; 4] {
    c.map(|v| (v as f64 * part) as u64)
}

fn with_counters(mut r: Record, c: Option<[u64; 4]>) -> Record {
    r.orig_packets = c.map(|c| c[0]);
    r.orig_bytes = c.map(|c| c[1]);
    r.reply_packets = c.map(|c| c[2]);
    r.reply_bytes = c.map(|c| c[3]);
    r
}

/// A connection begun and not yet ended: its DESTROY row, ready.
struct Open {
    destroy: Record,
    end: i64,
    seq: u64,
}

/// The heap's order: the earliest end first (BinaryHeap is a max-heap).
impl Ord for Open {
    fn cmp(&self, o: &Open) -> Ordering {
        (o.end, o.seq).cmp(&(self.end, self.seq))
    }
}

impl PartialOrd for Open {
    fn partial_cmp(&self, o: &Open) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl PartialEq for Open {
    fn eq(&self, o: &Open) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}

impl Eq for Open {}

/// One of the connections a lookup is checked with: who held
/// `nat_src:nat_sport` at `at_ns`.
struct Sample {
    at_ns: i64,
    r: Record,
}

impl Sample {
    fn json(&self) -> String {
        let r = &self.r;
        let mut s = String::new();
        let _ = write!(
            s,
            r#"{{"nat_src":"{}","nat_sport":{},"proto":{},"at_ns":"{}","orig_src":"{}","orig_sport":{},"orig_dst":"{}","orig_dport":{},"start_ns":"{}","end_ns":"{}"}}"#,
            r.nat_src,
            r.nat_sport,
            r.proto,
            self.at_ns,
            r.orig_src,
            r.orig_sport,
            r.orig_dst,
            r.orig_dport,
            r.start_ns,
            r.end_ns.unwrap_or(r.start_ns),
        );
        s
    }
}

/// Makes connections, one at a time, in the order they begin.
struct Traffic {
    rng: Rng,
    world: World,
    pool: Pool,
    counters: bool,
    /// Mean gap between arrivals, ns.
    gap_ns: f64,
    next_start: i64,
    made: u64,
}

impl Traffic {
    /// The next connection: its NEW row and its DESTROY row; an error if
    /// every translated port is held.
    fn next(&mut self) -> io::Result<(Record, Record)> {
        let rng = &mut self.rng;
        let start = self.next_start;
        // Exponential gaps, at least 1 ns: starts are distinct.
        self.next_start += 1 + (-(1.0 - rng.unit()).ln() * self.gap_ns) as i64;
        let end = start + duration_ns(rng).max(1);
        let Some((nat_src, nat_sport)) = self.pool.take(rng, start, end) else {
            return Err(io::Error::other(
                "every translated port is held: lower --rate or widen --nat-addrs/--ports",
            ));
        };
        let proto = if rng.chance(0.75) { TCP } else { UDP };
        let dst = IpAddr::V4(self.world.destination(rng));
        let dport = dport(rng, proto);
        let whole = self.counters.then(|| counters(rng, end - start));
        let new = Record {
            start_ns: start,
            end_ns: None,
            ended: Ended::Open,
            proto,
            orig_src: IpAddr::V4(self.world.host(rng)),
            orig_sport: 32768 + rng.below(28232) as u16,
            orig_dst: dst,
            orig_dport: dport,
            nat_src: IpAddr::V4(nat_src),
            nat_sport,
            nat_dst: dst,
            nat_dport: dport,
            zone: 0,
            mark: 0,
            // conntrack's id: distinct while the connection lives.
            id: self.made as u32,
            orig_packets: None,
            orig_bytes: None,
            reply_packets: None,
            reply_bytes: None,
        };
        // The NEW has seen the first packet.
        let first = whole.map(|c| [1, c[1] / c[0], 0, 0]);
        let destroy = Record {
            end_ns: Some(end),
            ended: Ended::Destroy,
            ..new.clone()
        };
        self.made += 1;
        Ok((with_counters(new, first), with_counters(destroy, whole)))
    }
}

/// What was written.
#[derive(Default)]
struct Made {
    snapshot_rows: u64,
}

/// The connections open at `at`, as a table dump would show them.
fn snapshot(dir: &Path, at: i64, open: &BinaryHeap<Open>) -> io::Result<usize> {
    let mut rows: Vec<Record> = open
        .iter()
        .map(|o| {
            let d = &o.destroy;
            let part = (at - d.start_ns) as f64 / (o.end - d.start_ns) as f64;
            let whole = d.orig_packets.map(|_| {
                [d.orig_packets, d.orig_bytes, d.reply_packets, d.reply_bytes]
                    .map(|v| v.unwrap_or(0))
            });
            let seen = Record {
                end_ns: None,
                ended: Ended::Snapshot,
                ..d.clone()
            };
            with_counters(seen, whole.map(|c| part_of(c, part)))
        })
        .collect();
    write_snapshot(dir, at, &mut rows)?;
    Ok(rows.len())
}

fn generate(a: &Args) -> io::Result<Made> {
    let mut rng = Rng(a.seed);
    let world = World::new(&mut rng, a.hosts);
    let mut traffic = Traffic {
        rng,
        world,
        pool: Pool::new(a.nat_addrs, a.ports),
        counters: a.counters,
        gap_ns: SECOND as f64 / a.rate,
        next_start: a.start_ns,
        made: 0,
    };
    let after = SealAfter {
        rows: a.seal_rows,
        ns: i64::MAX,
    };
    let (mut w, _) = StoreWriter::open(&a.dir, after)?;
    let mut open: BinaryHeap<Open> = BinaryHeap::new();
    let mut samples: Vec<Sample> = Vec::new();
    let k = a.sample.as_ref().map_or(0, |(k, _)| *k);
    let mut next_snapshot = (a.start_ns.div_euclid(HOUR) + 1) * HOUR;
    let mut made = Made::default();
    loop {
        let begins = (traffic.made < a.connections).then_some(traffic.next_start);
        let ends = open.peek().map(|o| o.end);
        let Some(next) = begins.into_iter().chain(ends).min() else {
            break;
        };
        if next_snapshot <= next {
            made.snapshot_rows += snapshot(&a.dir, next_snapshot, &open)? as u64;
            next_snapshot += HOUR;
            continue;
        }
        if ends == Some(next) {
            if let Some(o) = open.pop() {
                w.push(o.destroy, o.end);
            }
        } else {
            let seq = traffic.made;
            let (new, destroy) = traffic.next()?;
            // Reservoir sampling: every connection equally likely.
            let slot = if (seq as usize) < k {
                samples.len()
            } else {
                traffic.rng.below(seq + 1) as usize
            };
            if slot < k {
                let span = destroy.last_ns() - destroy.start_ns;
                let at_ns = destroy.start_ns + traffic.rng.below(span as u64 + 1) as i64;
                let s = Sample {
                    at_ns,
                    r: destroy.clone(),
                };
                if slot == samples.len() {
                    samples.push(s);
                } else {
                    samples[slot] = s;
                }
            }
            let end = destroy.last_ns();
            w.push(new, next);
            open.push(Open { destroy, end, seq });
        }
        if w.len() >= a.seal_rows {
            w.seal()?;
        }
    }
    w.seal()?;
    if let Some((_, path)) = &a.sample {
        let mut out = io::BufWriter::new(fs::File::create(path)?);
        for s in &samples {
            writeln!(out, "{}", s.json())?;
        }
        out.flush()?;
    }
    Ok(made)
}

fn main() {
    let a = args();
    if fs::read_dir(&a.dir).is_ok_and(|mut d| d.next().is_some()) {
        eprintln!(
            "store-gen: {} is not empty: give a new directory",
            a.dir.display()
        );
        exit(1);
    }
    let began = Instant::now();
    let made = match generate(&a) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("store-gen: {}: {e}", a.dir.display());
            exit(1)
        }
    };
    let seconds = began.elapsed().as_secs_f64();
    let files = match Contents::of(&a.dir) {
        Ok(c) => c.sealed,
        Err(e) => {
            eprintln!("store-gen: reading {}: {e}", a.dir.display());
            exit(1)
        }
    };
    let bytes: u64 = files.iter().map(|f| f.bytes).sum();
    // The rows the files hold: a NEW and its DESTROY sealed together are one.
    let mut rows = 0;
    for f in &files {
        match ctlog_core::store::file::row_count(&f.path) {
            Ok(n) => rows += n,
            Err(e) => {
                eprintln!("store-gen: reading {}: {e}", f.path.display());
                exit(1)
            }
        }
    }
    let n = a.connections.max(1) as f64;
    println!(
        r#"{{"connections":{},"rows":{},"snapshot_rows":{},"files":{},"bytes":{},"bytes_per_connection":{:.2},"seconds":{:.3},"connections_per_second":{:.0}}}"#,
        a.connections,
        rows,
        made.snapshot_rows,
        files.len(),
        bytes,
        bytes as f64 / n,
        seconds,
        a.connections as f64 / seconds.max(1e-9),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_translated_port_is_held_by_one_connection_at_a_time() {
        let mut rng = Rng(7);
        let mut pool = Pool::new(1, (1024, 1031));
        let mut held: Vec<(u16, i64, i64)> = Vec::new();
        for i in 0..200 {
            let start = i * 10;
            let end = start + 5 + (rng.below(60) as i64);
            if let Some((addr, port)) = pool.take(&mut rng, start, end) {
                assert_eq!(addr, Ipv4Addr::new(198, 51, 100, 1));
                assert!((1024..=1031).contains(&port));
                held.push((port, start, end));
            }
        }
        for (i, a) in held.iter().enumerate() {
            for b in &held[i + 1..] {
                assert!(
                    a.0 != b.0 || a.2 < b.1 || b.2 < a.1,
                    "{a:?} and {b:?} overlap"
                );
            }
        }
        // Eight ports, 200 connections: each was taken again and again.
        assert!(held.len() > 100);
    }

    #[test]
    fn a_full_pool_says_so() {
        let mut rng = Rng(1);
        let mut pool = Pool::new(1, (1024, 1025));
        assert!(pool.take(&mut rng, 0, 100).is_some());
        assert!(pool.take(&mut rng, 1, 100).is_some());
        assert!(pool.take(&mut rng, 2, 100).is_none());
        assert!(pool.take(&mut rng, 101, 200).is_some());
    }
}
