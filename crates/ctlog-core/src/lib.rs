//! ctlog-core: reads Linux conntrack events from a NETLINK_NETFILTER socket
//! and decodes them; sends syslog's datagrams and watches its TCP
//! connections. No Node.js here: the napi binding is a separate crate.

pub mod bpf;
pub mod conntrack_filter;
pub mod consts;
pub mod decode;
pub mod event;
pub mod kind;
mod mmsg;
pub mod netns;
pub mod progname;
pub mod reader;
pub mod send;
pub mod socket;
#[cfg(feature = "store")]
pub mod store;
pub mod text;
pub mod wire;

pub use conntrack_filter::Filter;
pub use decode::{decode_message, DecodeError, Messages};
pub use event::{Counters, Event, EventType, ProtoInfo, Tuple};
pub use kind::ProtoFilter;
pub use reader::{decode_batch, Reader, ReaderOptions, Shared, Sink};
pub use send::{Datagram, Sent, TcpWatch};
pub use socket::CtSocket;
