//! The NAT log store: which inside host held a translated address and port
//! at a moment. Records (store/record.rs) are journaled (store/journal.rs)
//! and sealed into Apache Parquet files (store/file.rs) in a directory by
//! day (store/writer.rs) that other tools read unchanged, and looked up by
//! translated source and time (store/query.rs).

pub mod file;
pub mod journal;
pub mod query;
pub mod record;
pub mod writer;

pub use file::{lookup_nat, read_file, write_file, SCHEMA};
pub use record::{Ended, Record};
pub use writer::{SealAfter, StoreWriter};

#[cfg(test)]
mod tests;
