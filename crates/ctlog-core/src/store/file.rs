//! The store's files: Apache Parquet, one row a record (record.rs), zstd,
//! rows sorted by translated address, port and start so that each row
//! group's statistics bound what it holds, and bloom filters on the
//! translated address and port and the inside address, so that a lookup
//! reads only the row groups that may hold its answer. DuckDB, ClickHouse,
//! pandas and polars read them unchanged; docs/store.md names the columns.

use std::collections::HashMap;
use std::fs::File;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use parquet::basic::{Compression, ZstdLevel};
use parquet::data_type::{
    ByteArray, ByteArrayType, FixedLenByteArray, FixedLenByteArrayType, Int32Type, Int64Type,
};
use parquet::errors::{ParquetError, Result};
use parquet::file::properties::{ReaderProperties, WriterProperties};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::serialized_reader::ReadOptionsBuilder;
use parquet::file::statistics::Statistics;
use parquet::file::writer::{SerializedFileWriter, SerializedRowGroupWriter};
use parquet::record::Field;
use parquet::schema::parser::parse_message_type;
use parquet::schema::types::ColumnPath;

use super::record::{address_bytes, address_of, Ended, Record};

/// The columns, in order: the store's interface to other readers (a
/// change here is a change of docs/store.md and schema/clickhouse.sql).
/// Unsigned numbers are annotated as such; an address is 16 bytes
/// (record.rs address_bytes).
pub const SCHEMA: &str = "message ctlogd_connection {
  required int64 start_ns (TIMESTAMP(NANOS,true));
  optional int64 end_ns (TIMESTAMP(NANOS,true));
  required binary ended (STRING);
  required int32 proto (INTEGER(8,false));
  required fixed_len_byte_array(16) orig_src;
  required int32 orig_sport (INTEGER(16,false));
  required fixed_len_byte_array(16) orig_dst;
  required int32 orig_dport (INTEGER(16,false));
  required fixed_len_byte_array(16) nat_src;
  required int32 nat_sport (INTEGER(16,false));
  required fixed_len_byte_array(16) nat_dst;
  required int32 nat_dport (INTEGER(16,false));
  required int32 zone (INTEGER(16,false));
  required int32 mark (INTEGER(32,false));
  required int32 id (INTEGER(32,false));
  optional int64 orig_packets (INTEGER(64,false));
  optional int64 orig_bytes (INTEGER(64,false));
  optional int64 reply_packets (INTEGER(64,false));
  optional int64 reply_bytes (INTEGER(64,false));
}";

/// Rows a row group: its statistics bound a lookup's reading to about
/// this many rows.
pub const ROWS_PER_GROUP: usize = 8192;

/// The columns a lookup looks up, with bloom filters.
const BLOOM_COLUMNS: [&str; 3] = ["nat_src", "nat_sport", "orig_src"];
const START: usize = 0;

fn properties() -> WriterProperties {
    let mut b = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_created_by(format!("ctlogd {}", env!("CARGO_PKG_VERSION")));
    for c in BLOOM_COLUMNS {
        b = b.set_column_bloom_filter_enabled(ColumnPath::from(c), true);
    }
    b.build()
}

/// Writes `rows`, sorted for lookups, as a Parquet file at `path` (made
/// anew). The caller makes it crash safe: written elsewhere, synced, renamed.
pub fn write_file(path: &Path, rows: &mut [Record]) -> Result<()> {
    rows.sort_by(|a, b| {
        (address_bytes(a.nat_src), a.nat_sport, a.start_ns).cmp(&(
            address_bytes(b.nat_src),
            b.nat_sport,
            b.start_ns,
        ))
    });
    let schema = Arc::new(parse_message_type(SCHEMA)?);
    let file = File::create(path)?;
    let mut w = SerializedFileWriter::new(file, schema, Arc::new(properties()))?;
    for group in rows.chunks(ROWS_PER_GROUP) {
        let mut rg = w.next_row_group()?;
        write_group(&mut rg, group)?;
        rg.close()?;
    }
    w.close()?;
    Ok(())
}

/// Values and definition levels of an optional column.
fn optional<T: Copy>(rows: &[Record], f: impl Fn(&Record) -> Option<T>) -> (Vec<T>, Vec<i16>) {
    let values = rows.iter().filter_map(&f).collect();
    let levels = rows.iter().map(|r| i16::from(f(r).is_some())).collect();
    (values, levels)
}

fn write_group(rg: &mut SerializedRowGroupWriter<'_, File>, rows: &[Record]) -> Result<()> {
    let i64s = |f: &dyn Fn(&Record) -> i64| rows.iter().map(f).collect::<Vec<_>>();
    let i32s = |f: &dyn Fn(&Record) -> i32| rows.iter().map(f).collect::<Vec<_>>();
    let addrs = |f: &dyn Fn(&Record) -> IpAddr| {
        rows.iter()
            .map(|r| FixedLenByteArray::from(ByteArray::from(address_bytes(f(r)).to_vec())))
            .collect::<Vec<_>>()
    };
    let u64s = |f: &dyn Fn(&Record) -> Option<u64>| optional(rows, |r| f(r).map(|v| v as i64));
    let mut column = 0;
    while let Some(mut col) = rg.next_column()? {
        match column {
            0 => col
                .typed::<Int64Type>()
                .write_batch(&i64s(&|r| r.start_ns), None, None)?,
            1 => {
                let (v, d) = optional(rows, |r| r.end_ns);
                col.typed::<Int64Type>().write_batch(&v, Some(&d), None)?
            }
            2 => {
                let v: Vec<ByteArray> = rows
                    .iter()
                    .map(|r| ByteArray::from(r.ended.name()))
                    .collect();
                col.typed::<ByteArrayType>().write_batch(&v, None, None)?
            }
            3 => {
                col.typed::<Int32Type>()
                    .write_batch(&i32s(&|r| i32::from(r.proto)), None, None)?
            }
            4 => col.typed::<FixedLenByteArrayType>().write_batch(
                &addrs(&|r| r.orig_src),
                None,
                None,
            )?,
            5 => col.typed::<Int32Type>().write_batch(
                &i32s(&|r| i32::from(r.orig_sport)),
                None,
                None,
            )?,
            6 => col.typed::<FixedLenByteArrayType>().write_batch(
                &addrs(&|r| r.orig_dst),
                None,
                None,
            )?,
            7 => col.typed::<Int32Type>().write_batch(
                &i32s(&|r| i32::from(r.orig_dport)),
                None,
                None,
            )?,
            8 => col.typed::<FixedLenByteArrayType>().write_batch(
                &addrs(&|r| r.nat_src),
                None,
                None,
            )?,
            9 => col.typed::<Int32Type>().write_batch(
                &i32s(&|r| i32::from(r.nat_sport)),
                None,
                None,
            )?,
            10 => col.typed::<FixedLenByteArrayType>().write_batch(
                &addrs(&|r| r.nat_dst),
                None,
                None,
            )?,
            11 => col.typed::<Int32Type>().write_batch(
                &i32s(&|r| i32::from(r.nat_dport)),
                None,
                None,
            )?,
            12 => {
                col.typed::<Int32Type>()
                    .write_batch(&i32s(&|r| i32::from(r.zone)), None, None)?
            }
            // Unsigned 32-bit values, their bits in an int32 (the column says unsigned).
            13 => col
                .typed::<Int32Type>()
                .write_batch(&i32s(&|r| r.mark as i32), None, None)?,
            14 => col
                .typed::<Int32Type>()
                .write_batch(&i32s(&|r| r.id as i32), None, None)?,
            15..=18 => {
                let (v, d) = match column {
                    15 => u64s(&|r| r.orig_packets),
                    16 => u64s(&|r| r.orig_bytes),
                    17 => u64s(&|r| r.reply_packets),
                    _ => u64s(&|r| r.reply_bytes),
                };
                col.typed::<Int64Type>().write_batch(&v, Some(&d), None)?
            }
            _ => {
                return Err(ParquetError::General(format!(
                    "column {column} is not in the store's schema"
                )))
            }
        };
        col.close()?;
        column += 1;
    }
    Ok(())
}

fn bad(what: &str) -> ParquetError {
    ParquetError::General(format!("not a store file: {what}"))
}

/// The record of one row, as write_file wrote it.
fn record_of(row: &parquet::record::Row) -> Result<Record> {
    let fields: Vec<&Field> = row.get_column_iter().map(|(_, f)| f).collect();
    if fields.len() != 19 {
        return Err(bad("not 19 columns"));
    }
    let long = |i: usize| match fields[i] {
        Field::Long(v) => Ok(*v),
        _ => Err(bad("an int64 column")),
    };
    let opt_u64 = |i: usize| match fields[i] {
        Field::Null => Ok(None),
        Field::ULong(v) => Ok(Some(*v)),
        _ => Err(bad("an unsigned int64 column")),
    };
    let small = |i: usize| match fields[i] {
        Field::UByte(v) => Ok(u32::from(*v)),
        Field::UShort(v) => Ok(u32::from(*v)),
        Field::UInt(v) => Ok(*v),
        _ => Err(bad("an unsigned int32 column")),
    };
    let addr = |i: usize| match fields[i] {
        Field::Bytes(b) => <[u8; 16]>::try_from(b.data())
            .map(address_of)
            .map_err(|_| bad("a 16-byte address")),
        _ => Err(bad("an address column")),
    };
    let port = |i: usize| small(i).and_then(|v| u16::try_from(v).map_err(|_| bad("a port")));
    Ok(Record {
        start_ns: long(0)?,
        end_ns: match fields[1] {
            Field::Null => None,
            Field::Long(v) => Some(*v),
            _ => return Err(bad("end_ns")),
        },
        ended: match fields[2] {
            Field::Str(s) => Ended::from_name(s).ok_or_else(|| bad("ended"))?,
            _ => return Err(bad("ended")),
        },
        proto: u8::try_from(small(3)?).map_err(|_| bad("proto"))?,
        orig_src: addr(4)?,
        orig_sport: port(5)?,
        orig_dst: addr(6)?,
        orig_dport: port(7)?,
        nat_src: addr(8)?,
        nat_sport: port(9)?,
        nat_dst: addr(10)?,
        nat_dport: port(11)?,
        zone: port(12)?,
        mark: small(13)?,
        id: small(14)?,
        orig_packets: opt_u64(15)?,
        orig_bytes: opt_u64(16)?,
        reply_packets: opt_u64(17)?,
        reply_bytes: opt_u64(18)?,
    })
}

fn open(path: &Path) -> Result<SerializedFileReader<File>> {
    let options = ReadOptionsBuilder::new()
        .with_reader_properties(
            ReaderProperties::builder()
                .set_read_bloom_filter(true)
                .build(),
        )
        .build();
    SerializedFileReader::new_with_options(File::open(path)?, options)
}

/// Every record of the file at `path`.
pub fn read_file(path: &Path) -> Result<Vec<Record>> {
    let reader = open(path)?;
    reader
        .get_row_iter(None)?
        .map(|row| record_of(&row?))
        .collect()
}

/// Which rows a lookup wants: an address (and port) in one column pair,
/// of a protocol, that may speak of a connection open during
/// `from_ns..=to_ns`: begun by its end (an open row's end is not known
/// yet, and one that began earlier on the same tuple ended when it
/// began: holders), or ended after its start (a DESTROY read without the
/// kernel's timestamps knows only when it was read, and its NEW says when
/// it began).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowFilter {
    pub by: By,
    pub addr: IpAddr,
    pub port: Option<u16>,
    pub proto: Option<u8>,
    pub from_ns: i64,
    pub to_ns: i64,
}

/// The address and port a lookup is by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum By {
    /// The translated source (what the outside saw).
    Nat,
    /// The inside host (the original source).
    Inside,
    /// The destination the inside host asked for (the original destination).
    Dst,
}

impl By {
    /// The columns of its address and port.
    fn columns(self) -> (usize, usize) {
        match self {
            By::Inside => (4, 5),
            By::Dst => (6, 7),
            By::Nat => (8, 9),
        }
    }

    fn of(self, r: &Record) -> (IpAddr, u16) {
        match self {
            By::Inside => (r.orig_src, r.orig_sport),
            By::Dst => (r.orig_dst, r.orig_dport),
            By::Nat => (r.nat_src, r.nat_sport),
        }
    }
}

impl RowFilter {
    /// Who held translated source `addr`:`port` at `at_ns`.
    pub fn nat_at(addr: IpAddr, port: u16, at_ns: i64) -> RowFilter {
        RowFilter {
            by: By::Nat,
            addr,
            port: Some(port),
            proto: None,
            from_ns: at_ns,
            to_ns: at_ns,
        }
    }

    pub fn keeps(&self, r: &Record) -> bool {
        let (addr, port) = self.by.of(r);
        addr == self.addr
            && self.port.is_none_or(|p| p == port)
            && self.proto.is_none_or(|p| p == r.proto)
            && (r.start_ns <= self.to_ns || r.end_ns.is_some_and(|end| end >= self.from_ns))
    }

    /// Whether a connection (connections()) was open at some time of the span.
    pub fn overlaps(&self, r: &Record) -> bool {
        r.start_ns <= self.to_ns && r.end_ns.is_none_or(|end| end >= self.from_ns)
    }
}

/// Whether an int statistic of a row group rules `v` out.
fn outside(stats: Option<&Statistics>, v: i64) -> bool {
    match stats {
        Some(Statistics::Int32(s)) => {
            s.min_opt().is_some_and(|m| v < i64::from(*m))
                || s.max_opt().is_some_and(|m| v > i64::from(*m))
        }
        Some(Statistics::Int64(s)) => s.min_opt().is_some_and(|m| v < *m),
        _ => false,
    }
}

/// The rows of the file at `path` that `f` keeps, and how many row groups
/// it read: only those whose statistics (port, start) and bloom filter
/// (address, where the column has one) may hold one.
pub fn scan(path: &Path, f: &RowFilter) -> Result<(Vec<Record>, usize)> {
    let reader = open(path)?;
    let (addr_col, port_col) = f.by.columns();
    let addr = FixedLenByteArray::from(ByteArray::from(address_bytes(f.addr).to_vec()));
    let mut kept = Vec::new();
    let mut read = 0;
    for g in 0..reader.num_row_groups() {
        let meta = reader.metadata().row_group(g);
        if f.port.is_some_and(|p| outside(meta.column(port_col).statistics(), i64::from(p)))
            // The earliest start of the group is after the span.
            || outside(meta.column(START).statistics(), f.to_ns)
        {
            continue;
        }
        let group = reader.get_row_group(g)?;
        if let Some(bloom) = group.get_column_bloom_filter(addr_col) {
            if !bloom.check(&addr) {
                continue;
            }
        }
        read += 1;
        for row in group.get_row_iter(None)? {
            let r = record_of(&row?)?;
            if f.keeps(&r) {
                kept.push(r);
            }
        }
    }
    Ok((kept, read))
}

/// Who held `nat_src`:`nat_sport` at `at_ns` as far as the one file at
/// `path` knows (holders), and how many row groups it read.
pub fn lookup_nat(
    path: &Path,
    nat_src: IpAddr,
    nat_sport: u16,
    at_ns: i64,
) -> Result<(Vec<Record>, usize)> {
    let (rows, read) = scan(path, &RowFilter::nat_at(nat_src, nat_sport, at_ns))?;
    Ok((holders(connections(rows), at_ns), read))
}

/// The rows of connections, one record a connection:
/// - a connection's DESTROY is the whole of it: its NEW and snapshot rows
///   (the same tuples and conntrack id, begun by its end) are folded into
///   it, their earliest start kept (without the kernel's timestamps a
///   DESTROY knows only when it was read);
/// - of a connection without its DESTROY, its rows are one: the earliest
///   start, and how the latest saw it (open, snapshot, stopped).
///
/// By start.
pub fn connections(mut rows: Vec<Record>) -> Vec<Record> {
    type Key = (
        u8,
        IpAddr,
        u16,
        IpAddr,
        u16,
        IpAddr,
        u16,
        IpAddr,
        u16,
        u16,
        u32,
    );
    let key = |r: &Record| -> Key {
        (
            r.proto,
            r.orig_src,
            r.orig_sport,
            r.orig_dst,
            r.orig_dport,
            r.nat_src,
            r.nat_sport,
            r.nat_dst,
            r.nat_dport,
            r.zone,
            r.id,
        )
    };
    // Destroys first at equal starts; otherwise by start.
    rows.sort_by_key(|r| (r.start_ns, r.end_ns.is_none()));
    let mut destroys: HashMap<Key, Vec<usize>> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        if r.end_ns.is_some() {
            destroys.entry(key(r)).or_default().push(i);
        }
    }
    let mut gone = vec![false; rows.len()];
    // The open connection of each key without a DESTROY yet: its row.
    let mut open: HashMap<Key, usize> = HashMap::new();
    for o in 0..rows.len() {
        if rows[o].end_ns.is_some() {
            continue;
        }
        let k = key(&rows[o]);
        let start = rows[o].start_ns;
        // The first DESTROY of its key that ended after it began.
        let closing = destroys.get(&k).and_then(|ds| {
            ds.iter()
                .copied()
                .filter(|&d| rows[d].end_ns.is_some_and(|end| start <= end))
                .min_by_key(|&d| rows[d].end_ns)
        });
        gone[o] = true;
        if let Some(d) = closing {
            rows[d].start_ns = rows[d].start_ns.min(start);
        } else if let Some(&first) = open.get(&k) {
            // A later sighting of the same open connection: it says how it was last seen.
            if rows[o].ended.is_snapshot() || rows[first].ended == Ended::Open {
                rows[first].ended = rows[o].ended;
            }
        } else {
            open.insert(k, o);
            gone[o] = false;
        }
    }
    let mut kept: Vec<Record> = rows
        .into_iter()
        .zip(gone)
        .filter(|(_, g)| !g)
        .map(|(r, _)| r)
        .collect();
    kept.sort_by_key(|r| r.start_ns);
    kept
}

/// Of the connections (connections()) of one translated source, those that
/// held it at `at_ns`. One whose end is not known held it until another of
/// the same translated tuple began: the kernel holds one connection a
/// tuple at a time.
pub fn holders(conns: Vec<Record>, at_ns: i64) -> Vec<Record> {
    type Tuple = (u8, IpAddr, u16, IpAddr, u16);
    let tuple = |r: &Record| -> Tuple { (r.proto, r.nat_src, r.nat_sport, r.nat_dst, r.nat_dport) };
    // The starts on each tuple, sorted: what began after an open connection.
    let mut starts: HashMap<Tuple, Vec<i64>> = HashMap::new();
    for r in &conns {
        starts.entry(tuple(r)).or_default().push(r.start_ns);
    }
    for v in starts.values_mut() {
        v.sort_unstable();
    }
    let superseded = |r: &Record| {
        let v = &starts[&tuple(r)];
        let next = v.partition_point(|&s| s <= r.start_ns);
        v.get(next).is_some_and(|&s| s <= at_ns)
    };
    conns
        .into_iter()
        .filter(|r| r.held_at(at_ns) && (r.end_ns.is_some() || !superseded(r)))
        .collect()
}
