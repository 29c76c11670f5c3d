//! The NAT log store: which inside host held a translated address and port
//! at a moment. Records (store/record.rs) are journaled (store/journal.rs)
//! and sealed into Apache Parquet files (store/file.rs) in a directory by
//! day (store/layout.rs, store/writer.rs) that other tools read unchanged,
//! beside snapshots of the conntrack table (store/dump.rs) that bound how
//! far back a lookup reads (store/query.rs). The store output runs all of
//! it on a thread of its own (store/service.rs), with retention.

pub mod dump;
pub mod file;
pub mod journal;
pub mod layout;
pub mod query;
pub mod record;
pub mod service;
pub mod writer;

#[cfg(test)]
use file::lookup_nat;
pub use file::{read_file, write_file, By, RowFilter, SCHEMA};
pub use query::{lookup, Found, Lookup};
pub use record::{Ended, Record};
pub use service::{Counts, Store, StoreOptions};
pub use writer::{SealAfter, StoreWriter};

#[cfg(test)]
mod tests;
