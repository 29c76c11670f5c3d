//! The capture's options as JavaScript gives them (`CaptureOptions`, the
//! filter and protocol sets in it), converted once into ctlog-core's
//! `ReaderOptions`, for `startCapture` and `reconfigure` alike.

use ctlog_core::conntrack_filter::{self, Cond, Mark, Nat, Net};
use ctlog_core::{EventType, Filter, ProtoFilter, ReaderOptions};
use napi::Error;
use napi_derive::napi;

use crate::error::invalid;

/// A capture's settings, for `startCapture` and `reconfigure` alike: the
/// whole set, where an absent field takes its default (ctlog-core's
/// `ReaderOptions::default()`, the library's; the service passes every
/// field from its config schema). Converted once, into `ReaderOptions`.
#[napi(object)]
pub struct CaptureOptions {
    /// Event types to subscribe to: "new", "update", "destroy"; the kernel
    /// sends no others.
    /// @default ["new", "update", "destroy"]
    pub events: Option<Vec<String>>,
    /// Socket receive buffer in bytes, set with SO_RCVBUFFORCE.
    /// @default 268435456
    pub rcvbuf: Option<u32>,
    /// Events handed over and not yet released before the reader pauses
    /// (the kernel's receive buffer holds what comes meanwhile).
    /// @default 8192
    pub queue_size: Option<u32>,
    /// Events per batch at most; taken at start, `reconfigure` keeps it.
    /// @default 4096
    pub max_batch: Option<u32>,
    /// NETLINK_BROADCAST_ERROR + NETLINK_NO_ENOBUFS (see README).
    /// @default false
    pub reliable: Option<bool>,
    /// Per event type, the protocol classes to keep: "tcp", "udp", "icmp"
    /// (IPv4 only), "other"; a type not named keeps all. The kernel drops
    /// the others before they reach the socket (a BPF socket filter).
    pub protocols: Option<ProtocolSets>,
    /// Another network namespace to read, by its file ("/run/netns/NAME",
    /// "/proc/PID/ns/net"): the socket is opened inside it (needs
    /// CAP_SYS_ADMIN too); the process stays where it is. Taken at start:
    /// `reconfigure` with another refuses (EINVAL).
    /// @default the namespace the process is in
    pub netns: Option<String>,
    /// conntrack's filters (`conntrack -E --orig-src ...`), all of which
    /// an event must pass. The kernel checks them before the event is
    /// read; the reader again after decoding, for what the kernel could
    /// not read (counted as `filtered`).
    /// @default none: every event
    pub filter: Option<FilterOptions>,
}

/// conntrack's filters, each optional; every one set must hold, a negated
/// one (`negate: true`) must not.
#[napi(object)]
pub struct FilterOptions {
    /// The original tuple's source address (`--orig-src`).
    pub orig_src: Option<NetMatch>,
    /// `--orig-dst`
    pub orig_dst: Option<NetMatch>,
    /// `--reply-src`
    pub reply_src: Option<NetMatch>,
    /// `--reply-dst`
    pub reply_dst: Option<NetMatch>,
    /// The layer-4 protocol number, 0 to 255 (`--proto`).
    pub proto: Option<NumberMatch>,
    /// The original tuple's source port (`--sport`).
    pub sport: Option<NumberMatch>,
    /// The original tuple's destination port (`--dport`).
    pub dport: Option<NumberMatch>,
    /// `--mark`: the event's mark, masked, is `value`; an event without a
    /// mark matches none.
    pub mark: Option<MarkMatch>,
    /// `--zone`: 0 to 65535; an event without one is in zone 0.
    pub zone: Option<NumberMatch>,
    /// `--status`: IPS_* bits set and clear.
    pub status: Option<StatusMatch>,
    /// `--src-nat`: the source was translated (to `address`, `port`).
    pub src_nat: Option<NatMatch>,
    /// `--dst-nat`: the destination was translated.
    pub dst_nat: Option<NatMatch>,
    /// `--any-nat`: either was.
    pub any_nat: Option<NatMatch>,
}

/// An address, or the prefix it starts.
#[napi(object)]
pub struct NetMatch {
    /// An IPv4 or IPv6 address.
    pub address: String,
    /// Bits of `address` to compare.
    /// @default 32 or 128: the whole address
    pub prefix: Option<u32>,
    pub negate: Option<bool>,
}

#[napi(object)]
pub struct NumberMatch {
    pub value: u32,
    pub negate: Option<bool>,
}

#[napi(object)]
pub struct MarkMatch {
    pub value: u32,
    /// @default 0xffffffff
    pub mask: Option<u32>,
    pub negate: Option<bool>,
}

#[napi(object)]
pub struct StatusMatch {
    /// Bits that must be set.
    pub set: u32,
    /// Bits that must be clear.
    pub clear: u32,
}

#[napi(object)]
pub struct NatMatch {
    /// The address translated to.
    /// @default any
    pub address: Option<String>,
    /// The port translated to.
    /// @default any
    pub port: Option<u32>,
    pub negate: Option<bool>,
}

type Invalid = Error<String>;

fn cond<T>(value: T, negate: Option<bool>) -> Cond<T> {
    Cond {
        value,
        negate: negate.unwrap_or(false),
    }
}

fn ip(what: &str, a: &str) -> std::result::Result<std::net::IpAddr, Invalid> {
    a.parse()
        .map_err(|_| invalid(format!("{what}: not an IP address: {a:?}")))
}

fn narrow<T: TryFrom<u32>>(what: &str, v: u32) -> std::result::Result<T, Invalid> {
    T::try_from(v).map_err(|_| invalid(format!("{what}: out of range: {v}")))
}

fn number<T: TryFrom<u32>>(
    what: &str,
    m: Option<NumberMatch>,
) -> std::result::Result<Option<Cond<T>>, Invalid> {
    m.map(|m| Ok(cond(narrow(what, m.value)?, m.negate)))
        .transpose()
}

impl FilterOptions {
    fn into_filter(self) -> std::result::Result<Filter, Invalid> {
        let net = |what: &str, m: Option<NetMatch>| {
            m.map(|m| {
                let addr = ip(what, &m.address)?;
                let width = if addr.is_ipv4() { 32 } else { 128 };
                let prefix = m.prefix.unwrap_or(width);
                if prefix > width {
                    return Err(invalid(format!(
                        "{what}: prefix {prefix} is longer than the address"
                    )));
                }
                Ok(cond(
                    Net {
                        addr,
                        prefix: prefix as u8,
                    },
                    m.negate,
                ))
            })
            .transpose()
        };
        let nat = |what: &str, m: Option<NatMatch>| {
            m.map(|m| {
                let addr = m.address.as_deref().map(|a| ip(what, a)).transpose()?;
                let port = m.port.map(|p| narrow(what, p)).transpose()?;
                Ok::<_, Invalid>(cond(Nat { addr, port }, m.negate))
            })
            .transpose()
        };
        Ok(Filter {
            orig_src: net("origSrc", self.orig_src)?,
            orig_dst: net("origDst", self.orig_dst)?,
            reply_src: net("replySrc", self.reply_src)?,
            reply_dst: net("replyDst", self.reply_dst)?,
            proto: number("proto", self.proto)?,
            sport: number("sport", self.sport)?,
            dport: number("dport", self.dport)?,
            mark: self.mark.map(|m| {
                cond(
                    Mark {
                        value: m.value,
                        mask: m.mask.unwrap_or(u32::MAX),
                    },
                    m.negate,
                )
            }),
            zone: number("zone", self.zone)?,
            status: self.status.map(|m| conntrack_filter::Status {
                set: m.set,
                clear: m.clear,
            }),
            src_nat: nat("srcNat", self.src_nat)?,
            dst_nat: nat("dstNat", self.dst_nat)?,
            any_nat: nat("anyNat", self.any_nat)?,
        })
    }
}

/// Protocol classes kept, per event type.
#[napi(object)]
pub struct ProtocolSets {
    pub new: Option<Vec<String>>,
    pub update: Option<Vec<String>>,
    pub destroy: Option<Vec<String>>,
}

fn event_types(names: Vec<String>) -> std::result::Result<Vec<EventType>, Error<String>> {
    names
        .iter()
        .map(|n| {
            EventType::from_name(n).ok_or_else(|| {
                invalid(format!(
                    "unknown event type {n:?}: allowed are new, update, destroy"
                ))
            })
        })
        .collect()
}

fn class_mask(names: Option<Vec<String>>) -> std::result::Result<u8, Error<String>> {
    let Some(names) = names else {
        return Ok(ctlog_core::kind::ALL);
    };
    names.iter().try_fold(0, |mask, n| {
        ctlog_core::kind::class_bit(n)
            .map(|bit| mask | bit)
            .ok_or_else(|| {
                invalid(format!(
                    "unknown protocol class {n:?}: allowed are tcp, udp, icmp, other"
                ))
            })
    })
}

impl TryFrom<CaptureOptions> for ReaderOptions {
    type Error = Error<String>;

    fn try_from(o: CaptureOptions) -> std::result::Result<Self, Self::Error> {
        let d = ReaderOptions::default();
        let protocols = match o.protocols {
            None => d.protocols,
            Some(p) => ProtoFilter([
                class_mask(p.new)?,
                class_mask(p.update)?,
                class_mask(p.destroy)?,
            ]),
        };
        Ok(ReaderOptions {
            groups: o.events.map_or(Ok(d.groups), event_types)?,
            rcvbuf: o.rcvbuf.map_or(d.rcvbuf, |v| v as usize),
            queue_size: o.queue_size.map_or(d.queue_size, u64::from),
            max_batch: o.max_batch.unwrap_or(d.max_batch),
            reliable: o.reliable.unwrap_or(d.reliable),
            protocols,
            filter: o.filter.map_or(Ok(d.filter), FilterOptions::into_filter)?,
            netns: o.netns.map(Into::into),
        })
    }
}
