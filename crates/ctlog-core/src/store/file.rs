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

use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::bloom_filter::Sbbf;
use parquet::data_type::{
    ByteArray, ByteArrayType, DataType, FixedLenByteArray, FixedLenByteArrayType, Int32Type,
    Int64Type,
};
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::ParquetStatisticsPolicy;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::reader::{FileReader, RowGroupReader, SerializedFileReader};
use parquet::file::serialized_reader::ReadOptionsBuilder;
use parquet::file::statistics::Statistics;
use parquet::file::writer::{SerializedFileWriter, SerializedRowGroupWriter};
use parquet::schema::parser::parse_message_type;
use parquet::schema::types::ColumnPath;

use super::record::{address_bytes, address_of, Ended, Record};

/// The columns, in order: the store's interface to other readers (a
/// change here is a change of docs/store.md and schema/clickhouse.sql).
/// Unsigned numbers are annotated as such; an address is 16 bytes
/// (record.rs address_bytes). `nat_dst` and `nat_dport` are none where
/// they equal `orig_dst` and `orig_dport` (no destination NAT): 4 bytes a
/// connection less.
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
  optional fixed_len_byte_array(16) nat_dst;
  optional int32 nat_dport (INTEGER(16,false));
  required int32 zone (INTEGER(16,false));
  required int32 mark (INTEGER(32,false));
  required int32 id (INTEGER(32,false));
  optional int64 orig_packets (INTEGER(64,false));
  optional int64 orig_bytes (INTEGER(64,false));
  optional int64 reply_packets (INTEGER(64,false));
  optional int64 reply_bytes (INTEGER(64,false));
}";

/// Rows a row group: its statistics bound a lookup's reading to about
/// this many rows. Against 8,192: 1 byte a connection less (a row group's
/// bloom filters, statistics and page headers over twice the rows), and
/// half the row groups a lookup weighs, each read at twice the cost.
pub const ROWS_PER_GROUP: usize = 16384;

/// The columns a lookup looks up, with bloom filters.
const BLOOM_COLUMNS: [&str; 3] = ["nat_src", "nat_sport", "orig_src"];
const START: usize = 0;
/// The columns whose statistics a lookup weighs (By::columns): the others'
/// are not decoded when a file is opened for one.
const WEIGHED: [usize; 7] = [START, 4, 5, 6, 7, 8, 9];

/// Numbers that a dictionary does not shrink (times, ids, ports and
/// counters spread wide): delta-encoded instead, which every reader has.
/// With zstd at level 9 (sealing runs on the store's own thread), about
/// 40 bytes a connection with counters instead of 53 (bench/store-gen);
/// level 19 saves 0.5% for twice the time.
const DELTA_COLUMNS: [&str; 9] = [
    "start_ns",
    "end_ns",
    "id",
    "orig_sport",
    "nat_sport",
    "orig_packets",
    "orig_bytes",
    "reply_packets",
    "reply_bytes",
];

const ADDRESS_COLUMNS: [&str; 4] = ["orig_src", "orig_dst", "nat_src", "nat_dst"];

fn properties() -> WriterProperties {
    let level = ZstdLevel::try_new(9).unwrap_or_default();
    let mut b = WriterProperties::builder()
        .set_compression(Compression::ZSTD(level))
        .set_created_by(format!("ctlogd {}", env!("CARGO_PKG_VERSION")))
        // Statistics of each row group, which lookups and other readers
        // prune by; not of each page (a column index no reader here uses:
        // 0.1 byte a connection).
        .set_statistics_enabled(EnabledStatistics::Chunk);
    for c in BLOOM_COLUMNS {
        b = b.set_column_bloom_filter_enabled(ColumnPath::from(c), true);
    }
    // Addresses plain: a dictionary's values cost an allocation each when
    // read, and zstd finds the repeats anyway (1 M connections: 36.0
    // bytes a connection against 36.7, lookups 20% faster).
    for c in ADDRESS_COLUMNS {
        b = b.set_column_dictionary_enabled(ColumnPath::from(c), false);
    }
    for c in DELTA_COLUMNS {
        b = b
            .set_column_dictionary_enabled(ColumnPath::from(c), false)
            .set_column_encoding(ColumnPath::from(c), Encoding::DELTA_BINARY_PACKED);
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
            // What answered: none where it is what was asked for (no
            // destination NAT, most connections), read back as that.
            10 => {
                let (v, d) = optional(rows, |r| {
                    (r.nat_dst != r.orig_dst).then_some(address_bytes(r.nat_dst))
                });
                let v: Vec<FixedLenByteArray> = v
                    .into_iter()
                    .map(|a| FixedLenByteArray::from(ByteArray::from(a.to_vec())))
                    .collect();
                col.typed::<FixedLenByteArrayType>()
                    .write_batch(&v, Some(&d), None)?
            }
            11 => {
                let (v, d) = optional(rows, |r| {
                    (r.nat_dport != r.orig_dport).then_some(i32::from(r.nat_dport))
                });
                col.typed::<Int32Type>().write_batch(&v, Some(&d), None)?
            }
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

/// One column of a row group, read whole: its values (the present ones,
/// for an optional column) and, for an optional column, its definition
/// levels (1: present).
fn column<T: DataType>(
    group: &dyn RowGroupReader,
    i: usize,
    rows: usize,
) -> Result<(Vec<T::T>, Vec<i16>)> {
    let mut r = T::get_column_reader(group.get_column_reader(i)?)
        .ok_or_else(|| bad("a column of another type"))?;
    let (mut values, mut defs) = (Vec::with_capacity(rows), Vec::with_capacity(rows));
    let mut read = 0;
    while read < rows {
        let (n, _, _) = r.read_records(rows - read, Some(&mut defs), None, &mut values)?;
        if n == 0 {
            break;
        }
        read += n;
    }
    if read != rows {
        return Err(bad("a column shorter than its row group"));
    }
    Ok((values, defs))
}

fn address(v: &FixedLenByteArray) -> Result<IpAddr> {
    <[u8; 16]>::try_from(v.data())
        .map(address_of)
        .map_err(|_| bad("a 16-byte address"))
}

fn port(v: &i32) -> Result<u16> {
    u16::try_from(*v).map_err(|_| bad("a port"))
}

/// An optional column as read: its present values, and for each row the
/// index of its value (none where the row has none).
struct Sparse<T> {
    values: Vec<T>,
    at: Vec<Option<usize>>,
}

fn sparse<T: DataType>(group: &dyn RowGroupReader, i: usize, rows: usize) -> Result<Sparse<T::T>> {
    let (values, defs) = column::<T>(group, i, rows)?;
    let mut next = 0;
    let at = defs
        .iter()
        .map(|&d| {
            (d > 0).then(|| {
                next += 1;
                next - 1
            })
        })
        .collect();
    if next != values.len() || defs.len() != rows {
        return Err(bad("levels that do not match the values"));
    }
    Ok(Sparse { values, at })
}

impl<T> Sparse<T> {
    fn get(&self, row: usize) -> Option<&T> {
        self.at
            .get(row)
            .copied()
            .flatten()
            .and_then(|k| self.values.get(k))
    }
}

/// A required column as read, one value a row.
fn dense<T: DataType>(group: &dyn RowGroupReader, i: usize, rows: usize) -> Result<Vec<T::T>> {
    let (values, _) = column::<T>(group, i, rows)?;
    if values.len() != rows {
        return Err(bad("a required column with missing values"));
    }
    Ok(values)
}

/// What rows a lookup wants of a row group: its (address, port) column
/// pair, the address's 16 bytes, and the port if it is asked.
type Wanted = (By, [u8; 16], Option<u16>);

/// The records of a row group: all, or those `want` names. Columns are
/// read whole (a page is decoded whole), but only the rows wanted are made
/// into records; and the other columns are read only if one is.
fn read_group(group: &dyn RowGroupReader, want: Option<Wanted>) -> Result<Vec<Record>> {
    let rows = usize::try_from(group.metadata().num_rows()).map_err(|_| bad("a row count"))?;
    let picked: Vec<usize> = match want {
        Some((by, addr, port)) => {
            let (a, p) = by.columns();
            let ports = dense::<Int32Type>(group, p, rows)?;
            let near: Vec<usize> = (0..rows)
                .filter(|&i| port.is_none_or(|want| ports[i] == i32::from(want)))
                .collect();
            if near.is_empty() {
                return Ok(Vec::new());
            }
            let addrs = dense::<FixedLenByteArrayType>(group, a, rows)?;
            near.into_iter()
                .filter(|&i| addrs[i].data() == addr.as_slice())
                .collect()
        }
        None => (0..rows).collect(),
    };
    if picked.is_empty() {
        return Ok(Vec::new());
    }
    let start = dense::<Int64Type>(group, 0, rows)?;
    let end = sparse::<Int64Type>(group, 1, rows)?;
    let ended = dense::<ByteArrayType>(group, 2, rows)?;
    let proto = dense::<Int32Type>(group, 3, rows)?;
    let (orig_src, orig_sport) = (
        dense::<FixedLenByteArrayType>(group, 4, rows)?,
        dense::<Int32Type>(group, 5, rows)?,
    );
    let (orig_dst, orig_dport) = (
        dense::<FixedLenByteArrayType>(group, 6, rows)?,
        dense::<Int32Type>(group, 7, rows)?,
    );
    let (nat_src, nat_sport) = (
        dense::<FixedLenByteArrayType>(group, 8, rows)?,
        dense::<Int32Type>(group, 9, rows)?,
    );
    let nat_dst = sparse::<FixedLenByteArrayType>(group, 10, rows)?;
    let nat_dport = sparse::<Int32Type>(group, 11, rows)?;
    let (zone, mark, id) = (
        dense::<Int32Type>(group, 12, rows)?,
        dense::<Int32Type>(group, 13, rows)?,
        dense::<Int32Type>(group, 14, rows)?,
    );
    let counters = [
        sparse::<Int64Type>(group, 15, rows)?,
        sparse::<Int64Type>(group, 16, rows)?,
        sparse::<Int64Type>(group, 17, rows)?,
        sparse::<Int64Type>(group, 18, rows)?,
    ];
    // Unsigned 64-bit counters, their bits in an int64 (the column says unsigned).
    let counter = |c: usize, i: usize| counters[c].get(i).map(|&v| v as u64);
    picked
        .into_iter()
        .map(|i| {
            let orig_dst_i = address(&orig_dst[i])?;
            let orig_dport_i = port(&orig_dport[i])?;
            Ok(Record {
                start_ns: start[i],
                end_ns: end.get(i).copied(),
                ended: ended[i]
                    .as_utf8()
                    .ok()
                    .and_then(Ended::from_name)
                    .ok_or_else(|| bad("ended"))?,
                proto: u8::try_from(proto[i]).map_err(|_| bad("proto"))?,
                orig_src: address(&orig_src[i])?,
                orig_sport: port(&orig_sport[i])?,
                orig_dst: orig_dst_i,
                orig_dport: orig_dport_i,
                nat_src: address(&nat_src[i])?,
                nat_sport: port(&nat_sport[i])?,
                nat_dst: nat_dst
                    .get(i)
                    .map(address)
                    .transpose()?
                    .unwrap_or(orig_dst_i),
                nat_dport: nat_dport
                    .get(i)
                    .map(port)
                    .transpose()?
                    .unwrap_or(orig_dport_i),
                zone: port(&zone[i])?,
                mark: mark[i] as u32,
                id: id[i] as u32,
                orig_packets: counter(0, i),
                orig_bytes: counter(1, i),
                reply_packets: counter(2, i),
                reply_bytes: counter(3, i),
            })
        })
        .collect()
}

/// The file's schema is the store's: same columns, same types.
fn check_schema(reader: &SerializedFileReader<File>) -> Result<()> {
    let ours = parse_message_type(SCHEMA)?;
    let theirs = reader.metadata().file_metadata().schema();
    if theirs.get_fields().len() != ours.get_fields().len()
        || theirs
            .get_fields()
            .iter()
            .zip(ours.get_fields())
            .any(|(a, b)| a.name() != b.name() || a.get_physical_type() != b.get_physical_type())
    {
        return Err(bad("its columns are not the store's"));
    }
    Ok(())
}

/// Opens `file` as a store file, decoding the footer's statistics of the
/// columns `stats` only (a lookup's footers are much of its time).
fn open_with(file: File, stats: &[usize]) -> Result<SerializedFileReader<File>> {
    let options = ReadOptionsBuilder::new()
        .with_column_stats_policy(ParquetStatisticsPolicy::skip_except(stats))
        .with_encoding_stats_policy(ParquetStatisticsPolicy::SkipAll)
        .with_size_stats_policy(ParquetStatisticsPolicy::SkipAll)
        .build();
    let reader = SerializedFileReader::new_with_options(file, options)?;
    check_schema(&reader)?;
    Ok(reader)
}

/// The rows of the file at `path`, from its footer.
pub fn row_count(path: &Path) -> Result<u64> {
    let n = open_with(File::open(path)?, &[])?
        .metadata()
        .file_metadata()
        .num_rows();
    u64::try_from(n).map_err(|_| bad("a row count"))
}

/// Every record of the file at `path`.
pub fn read_file(path: &Path) -> Result<Vec<Record>> {
    let reader = open_with(File::open(path)?, &[])?;
    let mut out = Vec::new();
    for g in 0..reader.num_row_groups() {
        out.extend(read_group(reader.get_row_group(g)?.as_ref(), None)?);
    }
    Ok(out)
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

/// Whether a statistic of a row group rules `v` out: an int, or an address's bytes.
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

/// Whether an address column's statistics rule `addr` out, and whether
/// they say every row of the group has it (its min and max are `addr`).
fn address_range(stats: Option<&Statistics>, addr: &[u8]) -> (bool, bool) {
    match stats {
        Some(Statistics::FixedLenByteArray(s)) => match (s.min_opt(), s.max_opt()) {
            (Some(min), Some(max)) => (
                addr < min.data() || addr > max.data(),
                min.data() == addr && max.data() == addr,
            ),
            _ => (false, false),
        },
        _ => (false, false),
    }
}

/// The rows of the file at `path` that `f` keeps, and how many row groups
/// it read: only those whose statistics (port, start) and bloom filter
/// (address, where the column has one) may hold one.
pub fn scan(path: &Path, f: &RowFilter) -> Result<(Vec<Record>, usize)> {
    let file = File::open(path)?;
    let reader = open_with(file.try_clone()?, &WEIGHED)?;
    let (addr_col, port_col) = f.by.columns();
    let addr = address_bytes(f.addr);
    let mut kept = Vec::new();
    let mut read = 0;
    for g in 0..reader.num_row_groups() {
        let meta = reader.metadata().row_group(g);
        let (other, only) = address_range(meta.column(addr_col).statistics(), &addr);
        if other
            || f.port.is_some_and(|p| outside(meta.column(port_col).statistics(), i64::from(p)))
            // The earliest start of the group is after the span.
            || outside(meta.column(START).statistics(), f.to_ns)
        {
            continue;
        }
        // Where the statistics do not settle it (the group spans other
        // addresses), the bloom filters may: read only then, one each.
        if !only {
            let absent = |col: usize, v: &dyn Fn(&Sbbf) -> bool| -> Result<bool> {
                Ok(Sbbf::read_from_column_chunk(meta.column(col), &file)?
                    .is_some_and(|bloom| !v(&bloom)))
            };
            if absent(addr_col, &|b| b.check(addr.as_slice()))?
                || f.port
                    .map_or(Ok(false), |p| absent(port_col, &|b| b.check(&i32::from(p))))?
            {
                continue;
            }
        }
        let group = reader.get_row_group(g)?;
        read += 1;
        kept.extend(
            read_group(group.as_ref(), Some((f.by, address_bytes(f.addr), f.port)))?
                .into_iter()
                .filter(|r| f.keeps(r)),
        );
    }
    Ok((kept, read))
}

/// Who held `nat_src`:`nat_sport` at `at_ns` as far as the one file at
/// `path` knows (holders), and how many row groups it read.
#[cfg(test)]
pub fn lookup_nat(
    path: &Path,
    nat_src: IpAddr,
    nat_sport: u16,
    at_ns: i64,
) -> Result<(Vec<Record>, usize)> {
    let (rows, read) = scan(path, &RowFilter::nat_at(nat_src, nat_sport, at_ns))?;
    Ok((holders(connections(rows), at_ns), read))
}

/// How late an event may be read after it happened, at most, for a NEW to
/// be paired with a DESTROY that ended before the NEW was read: far more
/// than any read queue holds, far less than a tuple and a conntrack id
/// take to come round again.
pub const READ_LAG_NS: i64 = 60_000_000_000;

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
        let ds = destroys.get(&k).map_or(&[][..], Vec::as_slice);
        // Its DESTROY: the kernel's timestamps come with a DESTROY only, so
        // a NEW's start is when it was read, after the connection began,
        // and may be after a short one ended. So, the latest of its key
        // that began by then and ended at most READ_LAG before; else
        // (a DESTROY without timestamps: its start is when it was read) the
        // first that ended after it.
        let closing = ds
            .iter()
            .copied()
            .filter(|&d| {
                rows[d].start_ns <= start
                    && rows[d].end_ns.is_some_and(|end| end >= start - READ_LAG_NS)
            })
            .max_by_key(|&d| rows[d].start_ns)
            .or_else(|| {
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
