//! The NAT log store: which inside host held a translated address and port
//! at a moment. Records (store/record.rs) are written as Apache Parquet
//! files (store/file.rs) that other tools read unchanged, and looked up by
//! translated source and time.

pub mod file;
pub mod record;

pub use file::{lookup_nat, read_file, write_file, SCHEMA};
pub use record::{Ended, Record};

#[cfg(test)]
mod tests;
