-- ctlogd's NAT log store as a ClickHouse table: one column per column of
-- the store's Parquet files (crates/ctlog-core/src/store/file.rs, SCHEMA),
-- same names, same order, so that the files load unchanged with
-- `SELECT *`. A row is a connection's DESTROY (ended 'destroy', start
-- and end; its NEW, sealed in the same file, is folded into it), a NEW
-- whose DESTROY came in a later file (ended 'open', end_ns NULL), or a
-- connection open when the conntrack table was read (ended 'snapshot', or
-- 'stopped' as the store stopped; end_ns NULL).
--
-- Types as ClickHouse reads the Parquet columns: TIMESTAMP(NANOS) is
-- DateTime64(9, 'UTC'); a 16-byte FIXED_LEN_BYTE_ARRAY reads as
-- FixedString(16) and goes into IPv6 as it is (IPv4 is stored mapped,
-- ::ffff:a.b.c.d, and toIPv6('a.b.c.d') gives the same); the optional
-- counters are Nullable (absent without nf_conntrack_acct).
--
-- Loading a store directory (each sealed file once: a file, once there,
-- never changes; journal-*.bin files are not sealed yet and are not
-- Parquet):
--
--   clickhouse-client --query "INSERT INTO ctlogd_connections
--     SELECT * FROM file('store/**/*.parquet', Parquet)"
--
-- (file() of the server reads under its user_files_path: copy or link the
-- store there), or one file at a time from anywhere:
--
--   clickhouse-client --query "INSERT INTO ctlogd_connections FORMAT Parquet" < FILE.parquet
--
-- clickhouse-local reads the directory in place, without a table:
--
--   clickhouse-local --query "SELECT count() FROM file('/var/lib/ctlogd/store/**/*.parquet', Parquet)"
--
-- Who held a translated address and port at a moment T:
--
--   SELECT orig_src, orig_sport, start_ns, end_ns FROM ctlogd_connections
--   WHERE nat_src = toIPv6('198.51.100.1') AND nat_sport = 40000
--     AND ended = 'destroy' AND start_ns <= T AND T <= end_ns
--
-- and, for a connection whose DESTROY is not there (still open, or the
-- event was lost), its NEW or snapshot row whose start is the latest not
-- after T on that address and port.

CREATE TABLE IF NOT EXISTS ctlogd_connections
(
    start_ns      DateTime64(9, 'UTC'),
    end_ns        Nullable(DateTime64(9, 'UTC')),
    ended         LowCardinality(String),
    proto         UInt8,
    orig_src      IPv6,
    orig_sport    UInt16,
    orig_dst      IPv6,
    orig_dport    UInt16,
    nat_src       IPv6,
    nat_sport     UInt16,
    -- NULL where the same as orig_dst / orig_dport (no destination NAT):
    -- coalesce(nat_dst, orig_dst) is what answered.
    nat_dst       Nullable(IPv6),
    nat_dport     Nullable(UInt16),
    zone          UInt16,
    mark          UInt32,
    id            UInt32,
    orig_packets  Nullable(UInt64),
    orig_bytes    Nullable(UInt64),
    reply_packets Nullable(UInt64),
    reply_bytes   Nullable(UInt64)
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(start_ns)
-- The lookup: by translated address and port, then time.
ORDER BY (nat_src, nat_sport, start_ns)
-- How long connections are kept is the operator's to set (the law where
-- the operator is decides it): 180 days here.
TTL toDateTime(start_ns) + INTERVAL 180 DAY DELETE;
