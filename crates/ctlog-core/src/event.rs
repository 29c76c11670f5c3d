//! The decoded form of one conntrack event: every attribute ctnetlink sends
//! for a connection, with kernel names in comments so a reader can match
//! them to `include/uapi/linux/netfilter/nfnetlink_conntrack.h`.

use std::net::IpAddr;

use crate::consts::{NFNLGRP_CONNTRACK_DESTROY, NFNLGRP_CONNTRACK_NEW, NFNLGRP_CONNTRACK_UPDATE};

/// Which multicast group an event belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    New,
    Update,
    Destroy,
}

impl EventType {
    /// Every type, in group order.
    pub const ALL: [EventType; 3] = [EventType::New, EventType::Update, EventType::Destroy];

    /// The type a name stands for ("new", "update", "destroy", as `name`
    /// gives them and the config and JavaScript spell them).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// NFNLGRP_CONNTRACK_NEW / _UPDATE / _DESTROY.
    pub fn group(self) -> u32 {
        match self {
            EventType::New => NFNLGRP_CONNTRACK_NEW,
            EventType::Update => NFNLGRP_CONNTRACK_UPDATE,
            EventType::Destroy => NFNLGRP_CONNTRACK_DESTROY,
        }
    }

    /// 0, 1, 2: for per-type counters.
    pub fn index(self) -> usize {
        self.group() as usize - 1
    }

    pub fn name(self) -> &'static str {
        match self {
            EventType::New => "new",
            EventType::Update => "update",
            EventType::Destroy => "destroy",
        }
    }
}

/// CTA_TUPLE_ORIG / CTA_TUPLE_REPLY / CTA_TUPLE_MASTER.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tuple {
    /// CTA_IP_V4_SRC / CTA_IP_V6_SRC
    pub src: Option<IpAddr>,
    /// CTA_IP_V4_DST / CTA_IP_V6_DST
    pub dst: Option<IpAddr>,
    /// CTA_PROTO_NUM
    pub proto: Option<u8>,
    /// CTA_PROTO_SRC_PORT (the source key for GRE), host order
    pub sport: Option<u16>,
    /// CTA_PROTO_DST_PORT (the destination key for GRE), host order
    pub dport: Option<u16>,
    /// CTA_PROTO_ICMP_TYPE / CTA_PROTO_ICMPV6_TYPE
    pub icmp_type: Option<u8>,
    /// CTA_PROTO_ICMP_CODE / CTA_PROTO_ICMPV6_CODE
    pub icmp_code: Option<u8>,
    /// CTA_PROTO_ICMP_ID / CTA_PROTO_ICMPV6_ID, host order
    pub icmp_id: Option<u16>,
    /// CTA_TUPLE_ZONE
    pub zone: Option<u16>,
}

/// CTA_COUNTERS_ORIG / CTA_COUNTERS_REPLY (64-bit, or the old 32-bit form).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub packets: u64,
    pub bytes: u64,
}

/// Which CTA_PROTOINFO_* nest carried the protocol state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtoInfo {
    /// CTA_PROTOINFO_TCP_STATE (TCP_CONNTRACK_*)
    Tcp { state: u8 },
    /// CTA_PROTOINFO_SCTP_STATE (SCTP_CONNTRACK_*)
    Sctp { state: u8 },
    /// CTA_PROTOINFO_DCCP_STATE (CT_DCCP_*)
    Dccp { state: u8 },
}

/// One conntrack event as the kernel sent it. `None` means the kernel did
/// not send that attribute, which formats must keep distinct from zero.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub kind: EventType,
    /// nfgenmsg family: AF_INET (2) or AF_INET6 (10)
    pub family: u8,
    /// nlmsg_pid: the netlink port of the process that caused the event, 0 for the kernel
    pub portid: u32,
    pub orig: Tuple,
    pub reply: Tuple,
    /// CTA_STATUS (IPS_* bits)
    pub status: Option<u32>,
    /// CTA_TIMEOUT, seconds
    pub timeout: Option<u32>,
    /// CTA_MARK
    pub mark: Option<u32>,
    /// CTA_SECMARK
    pub secmark: Option<u32>,
    /// CTA_ZONE
    pub zone: Option<u16>,
    /// CTA_USE
    pub use_count: Option<u32>,
    /// CTA_ID
    pub id: Option<u32>,
    /// CTA_PROTOINFO
    pub protoinfo: Option<ProtoInfo>,
    pub counters_orig: Option<Counters>,
    pub counters_reply: Option<Counters>,
    /// CTA_TIMESTAMP_START, ns since the epoch
    pub start: Option<u64>,
    /// CTA_TIMESTAMP_STOP, ns since the epoch
    pub stop: Option<u64>,
    /// CTA_TIMESTAMP_EVENT, ns since the epoch (newer kernels)
    pub event_time: Option<u64>,
    /// CTA_HELP / CTA_HELP_NAME
    pub helper: Option<String>,
    /// CTA_SECCTX / CTA_SECCTX_NAME
    pub secctx: Option<String>,
    /// CTA_LABELS: a bit set, kept as the kernel's bytes
    pub labels: Option<Vec<u8>>,
    /// Not a kernel attribute: the program owning `portid`, looked up in
    /// /proc when the event is read (see `progname`).
    pub progname: Option<String>,
}

impl Event {
    pub fn new(kind: EventType, family: u8, portid: u32) -> Self {
        Event {
            kind,
            family,
            portid,
            orig: Tuple::default(),
            reply: Tuple::default(),
            status: None,
            timeout: None,
            mark: None,
            secmark: None,
            zone: None,
            use_count: None,
            id: None,
            protoinfo: None,
            counters_orig: None,
            counters_reply: None,
            start: None,
            stop: None,
            event_time: None,
            helper: None,
            secctx: None,
            labels: None,
            progname: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_type_names_round_trip_in_group_order() {
        for (i, t) in EventType::ALL.into_iter().enumerate() {
            assert_eq!(t.index(), i);
            assert_eq!(EventType::from_name(t.name()), Some(t));
        }
        assert_eq!(EventType::from_name("NEW"), None);
        assert_eq!(EventType::from_name(""), None);
    }
}
