//! The senders, for the outputs: syslog's datagrams (unix datagram or UDP,
//! many per system call) and what a TCP connection's peer has acknowledged.
//! Nothing here reads conntrack.

pub mod datagram;
pub mod tcp;

pub use datagram::{Datagram, Sent};
pub use tcp::TcpWatch;
