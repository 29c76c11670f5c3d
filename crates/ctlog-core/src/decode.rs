//! ctnetlink message → [`Event`].
//!
//! Attributes are walked with netlink-packet-core's zero-copy iterator.
//! Where netlink-packet-netfilter has a typed parser (addresses, protocol
//! number, ports, TCP state, status, timeout, mark) it decodes the value;
//! everything it lacks (ICMP fields, counters, timestamps, zones, labels,
//! helper, secctx, SCTP/DCCP state, id, use) is read here from the raw
//! attribute, by the constant names of `nfnetlink_conntrack.h`.
//!
//! An attribute this module does not know is skipped. An attribute it knows
//! but cannot read fails the whole message with an error naming it; the
//! caller counts that and goes on with the next message.

use std::fmt;

use netlink_packet_core::{NlaBuffer, NlasIterator, Parseable};
use netlink_packet_netfilter::conntrack::{
    ConntrackAttribute, IPTuple, ProtoInfo as NfProtoInfo, ProtoInfoTCP, ProtoTuple,
};

use crate::consts::{
    CTA_COUNTERS32_BYTES, CTA_COUNTERS32_PACKETS, CTA_COUNTERS_BYTES, CTA_COUNTERS_ORIG,
    CTA_COUNTERS_PACKETS, CTA_COUNTERS_REPLY, CTA_HELP, CTA_HELP_NAME, CTA_ID, CTA_LABELS,
    CTA_MARK, CTA_PROTOINFO, CTA_PROTOINFO_DCCP, CTA_PROTOINFO_DCCP_STATE, CTA_PROTOINFO_SCTP,
    CTA_PROTOINFO_SCTP_STATE, CTA_PROTOINFO_TCP, CTA_PROTO_DST_PORT, CTA_PROTO_ICMPV6_CODE,
    CTA_PROTO_ICMPV6_ID, CTA_PROTO_ICMPV6_TYPE, CTA_PROTO_ICMP_CODE, CTA_PROTO_ICMP_ID,
    CTA_PROTO_ICMP_TYPE, CTA_PROTO_NUM, CTA_PROTO_SRC_PORT, CTA_SECCTX, CTA_SECCTX_NAME,
    CTA_SECMARK, CTA_STATUS, CTA_TIMEOUT, CTA_TIMESTAMP, CTA_TIMESTAMP_EVENT, CTA_TIMESTAMP_START,
    CTA_TIMESTAMP_STOP, CTA_TUPLE_IP, CTA_TUPLE_ORIG, CTA_TUPLE_PROTO, CTA_TUPLE_REPLY,
    CTA_TUPLE_ZONE, CTA_USE, CTA_ZONE, IPCTNL_MSG_CT_DELETE, IPCTNL_MSG_CT_NEW, NFGENMSG_LEN,
    NFNL_SUBSYS_CTNETLINK, NLA_TYPE_MASK, NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN, NLMSG_NOOP,
    NLMSG_OVERRUN, NLM_F_CREATE, NLM_F_EXCL,
};
use crate::event::{Counters, Event, EventType, ProtoInfo, Tuple};

/// Why a message could not be decoded; names the attribute that failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    pub attr: &'static str,
    pub reason: String,
}

impl DecodeError {
    fn new(attr: &'static str, reason: impl Into<String>) -> Self {
        DecodeError {
            attr,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.attr, self.reason)
    }
}

impl std::error::Error for DecodeError {}

type Result<T> = std::result::Result<T, DecodeError>;

/// Splits a receive buffer into netlink messages. A header whose length does
/// not fit ends the walk (nothing after it can be framed) and is reported
/// once as an error; every message before it is still yielded.
pub struct Messages<'a> {
    buf: &'a [u8],
}

impl<'a> Messages<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Messages { buf }
    }
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<&'a [u8]>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() {
            return None;
        }
        let len = match self.buf.get(0..4) {
            Some(b) if self.buf.len() >= NLMSG_HDRLEN => {
                u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize
            }
            _ => {
                let n = self.buf.len();
                self.buf = &[];
                return Some(Err(DecodeError::new(
                    "nlmsghdr",
                    format!("{n} trailing bytes, shorter than a header"),
                )));
            }
        };
        if len < NLMSG_HDRLEN || len > self.buf.len() {
            let n = self.buf.len();
            self.buf = &[];
            return Some(Err(DecodeError::new(
                "nlmsghdr",
                format!("nlmsg_len {len} does not fit the {n} bytes left"),
            )));
        }
        let (msg, rest) = self.buf.split_at(len);
        // NLMSG_ALIGN: the next header starts on a 4-byte boundary.
        let pad = ((len + 3) & !3).min(self.buf.len()) - len;
        self.buf = &rest[pad..];
        Some(Ok(msg))
    }
}

/// Decodes one netlink message (header included). `Ok(None)` for messages
/// that are not conntrack events (netlink control messages, other
/// subsystems, IPCTNL_MSG_CT_GET...).
pub fn decode_message(msg: &[u8]) -> Result<Option<Event>> {
    if msg.len() < NLMSG_HDRLEN {
        return Err(DecodeError::new(
            "nlmsghdr",
            "message shorter than its header",
        ));
    }
    // Only the bytes nlmsg_len claims belong to this message.
    let len = u32::from_ne_bytes([msg[0], msg[1], msg[2], msg[3]]) as usize;
    if len < NLMSG_HDRLEN || len > msg.len() {
        return Err(DecodeError::new(
            "nlmsghdr",
            format!("nlmsg_len {len} does not fit the {} bytes given", msg.len()),
        ));
    }
    let msg = &msg[..len];
    let nl_type = u16::from_ne_bytes([msg[4], msg[5]]);
    let flags = u16::from_ne_bytes([msg[6], msg[7]]);
    let portid = u32::from_ne_bytes([msg[12], msg[13], msg[14], msg[15]]);
    if matches!(
        nl_type,
        NLMSG_NOOP | NLMSG_ERROR | NLMSG_DONE | NLMSG_OVERRUN
    ) {
        return Ok(None);
    }
    if nl_type >> 8 != NFNL_SUBSYS_CTNETLINK {
        return Ok(None);
    }
    let kind = match nl_type & 0xff {
        // NEW and UPDATE share a message type; only a new entry's event
        // carries NLM_F_CREATE|NLM_F_EXCL (ctnetlink_conntrack_event).
        IPCTNL_MSG_CT_NEW if flags & (NLM_F_CREATE | NLM_F_EXCL) != 0 => EventType::New,
        IPCTNL_MSG_CT_NEW => EventType::Update,
        IPCTNL_MSG_CT_DELETE => EventType::Destroy,
        _ => return Ok(None),
    };
    let body = &msg[NLMSG_HDRLEN..];
    if body.len() < NFGENMSG_LEN {
        return Err(DecodeError::new("nfgenmsg", "missing"));
    }
    let mut ev = Event::new(kind, body[0], portid);
    decode_attrs(&mut ev, &body[NFGENMSG_LEN..])?;
    Ok(Some(ev))
}

fn nlas<'a>(
    attr: &'static str,
    buf: &'a [u8],
) -> impl Iterator<Item = Result<NlaBuffer<&'a [u8]>>> + 'a {
    NlasIterator::new(buf).map(move |r| r.map_err(|e| DecodeError::new(attr, e.to_string())))
}

fn decode_attrs(ev: &mut Event, buf: &[u8]) -> Result<()> {
    let (mut orig, mut reply) = (false, false);
    for nla in nlas("ctattr", buf) {
        let nla = nla?;
        let v = nla.value();
        match nla.kind() & NLA_TYPE_MASK {
            // The kernel sends each tuple once. A second one would make the
            // event's protocol depend on which is believed (the socket
            // filter reads the first), so the message is refused.
            CTA_TUPLE_ORIG => ev.orig = once(&mut orig, "CTA_TUPLE_ORIG", v)?,
            CTA_TUPLE_REPLY => ev.reply = once(&mut reply, "CTA_TUPLE_REPLY", v)?,
            CTA_STATUS | CTA_TIMEOUT | CTA_MARK => {
                match ConntrackAttribute::parse(&nla)
                    .map_err(|e| DecodeError::new(name(nla.kind()), e.to_string()))?
                {
                    ConntrackAttribute::CtaStatus(s) => ev.status = Some(s.bits()),
                    ConntrackAttribute::CtaTimeout(t) => ev.timeout = Some(t),
                    ConntrackAttribute::CtaMark(m) => ev.mark = Some(m),
                    _ => {}
                }
            }
            CTA_PROTOINFO => ev.protoinfo = protoinfo(v)?,
            CTA_HELP => ev.helper = nested_string("CTA_HELP", v, CTA_HELP_NAME)?,
            CTA_COUNTERS_ORIG => ev.counters_orig = Some(counters("CTA_COUNTERS_ORIG", v)?),
            CTA_COUNTERS_REPLY => ev.counters_reply = Some(counters("CTA_COUNTERS_REPLY", v)?),
            CTA_USE => ev.use_count = Some(be_u32("CTA_USE", v)?),
            CTA_ID => ev.id = Some(be_u32("CTA_ID", v)?),
            CTA_SECMARK => ev.secmark = Some(be_u32("CTA_SECMARK", v)?),
            CTA_ZONE => ev.zone = Some(be_u16("CTA_ZONE", v)?),
            CTA_SECCTX => ev.secctx = nested_string("CTA_SECCTX", v, CTA_SECCTX_NAME)?,
            CTA_TIMESTAMP => {
                for a in nlas("CTA_TIMESTAMP", v) {
                    let a = a?;
                    match a.kind() & NLA_TYPE_MASK {
                        CTA_TIMESTAMP_START => {
                            ev.start = Some(be_u64("CTA_TIMESTAMP_START", a.value())?)
                        }
                        CTA_TIMESTAMP_STOP => {
                            ev.stop = Some(be_u64("CTA_TIMESTAMP_STOP", a.value())?)
                        }
                        _ => {}
                    }
                }
            }
            CTA_LABELS => ev.labels = Some(v.to_vec()),
            CTA_TIMESTAMP_EVENT => ev.event_time = Some(be_u64("CTA_TIMESTAMP_EVENT", v)?),
            _ => {}
        }
    }
    Ok(())
}

fn once(seen: &mut bool, attr: &'static str, v: &[u8]) -> Result<Tuple> {
    if std::mem::replace(seen, true) {
        return Err(DecodeError::new(attr, "repeated"));
    }
    tuple(attr, v)
}

fn name(kind: u16) -> &'static str {
    match kind & NLA_TYPE_MASK {
        CTA_STATUS => "CTA_STATUS",
        CTA_TIMEOUT => "CTA_TIMEOUT",
        CTA_MARK => "CTA_MARK",
        _ => "ctattr",
    }
}

fn tuple(attr: &'static str, buf: &[u8]) -> Result<Tuple> {
    let mut t = Tuple::default();
    for nla in nlas(attr, buf) {
        let nla = nla?;
        match nla.kind() & NLA_TYPE_MASK {
            CTA_TUPLE_IP => {
                for a in nlas("CTA_TUPLE_IP", nla.value()) {
                    let a = a?;
                    let ip = IPTuple::parse(&a)
                        .map_err(|e| DecodeError::new("CTA_TUPLE_IP", e.to_string()))?;
                    match ip {
                        IPTuple::SourceAddress(ip) => t.src = Some(ip),
                        IPTuple::DestinationAddress(ip) => t.dst = Some(ip),
                        _ => {}
                    }
                }
            }
            CTA_TUPLE_PROTO => {
                for a in nlas("CTA_TUPLE_PROTO", nla.value()) {
                    let a = a?;
                    let v = a.value();
                    match a.kind() & NLA_TYPE_MASK {
                        CTA_PROTO_NUM | CTA_PROTO_SRC_PORT | CTA_PROTO_DST_PORT => {
                            let p = ProtoTuple::parse(&a)
                                .map_err(|e| DecodeError::new("CTA_TUPLE_PROTO", e.to_string()))?;
                            match p {
                                ProtoTuple::Protocol(p) => t.proto = Some(p.into()),
                                ProtoTuple::SourcePort(p) => t.sport = Some(p),
                                ProtoTuple::DestinationPort(p) => t.dport = Some(p),
                                _ => {}
                            }
                        }
                        CTA_PROTO_ICMP_ID => t.icmp_id = Some(be_u16("CTA_PROTO_ICMP_ID", v)?),
                        CTA_PROTO_ICMP_TYPE => t.icmp_type = Some(u8_("CTA_PROTO_ICMP_TYPE", v)?),
                        CTA_PROTO_ICMP_CODE => t.icmp_code = Some(u8_("CTA_PROTO_ICMP_CODE", v)?),
                        CTA_PROTO_ICMPV6_ID => t.icmp_id = Some(be_u16("CTA_PROTO_ICMPV6_ID", v)?),
                        CTA_PROTO_ICMPV6_TYPE => {
                            t.icmp_type = Some(u8_("CTA_PROTO_ICMPV6_TYPE", v)?)
                        }
                        CTA_PROTO_ICMPV6_CODE => {
                            t.icmp_code = Some(u8_("CTA_PROTO_ICMPV6_CODE", v)?)
                        }
                        _ => {}
                    }
                }
            }
            CTA_TUPLE_ZONE => t.zone = Some(be_u16("CTA_TUPLE_ZONE", nla.value())?),
            _ => {}
        }
    }
    Ok(t)
}

fn protoinfo(buf: &[u8]) -> Result<Option<ProtoInfo>> {
    let mut info = None;
    for nla in nlas("CTA_PROTOINFO", buf) {
        let nla = nla?;
        match nla.kind() & NLA_TYPE_MASK {
            CTA_PROTOINFO_TCP => {
                let parsed = NfProtoInfo::parse(&nla)
                    .map_err(|e| DecodeError::new("CTA_PROTOINFO_TCP", e.to_string()))?;
                if let NfProtoInfo::TCP(fields) = parsed {
                    for f in fields {
                        if let ProtoInfoTCP::State(state) = f {
                            info = Some(ProtoInfo::Tcp { state });
                        }
                    }
                }
            }
            CTA_PROTOINFO_DCCP => {
                if let Some(state) =
                    nested_u8("CTA_PROTOINFO_DCCP", nla.value(), CTA_PROTOINFO_DCCP_STATE)?
                {
                    info = Some(ProtoInfo::Dccp { state });
                }
            }
            CTA_PROTOINFO_SCTP => {
                if let Some(state) =
                    nested_u8("CTA_PROTOINFO_SCTP", nla.value(), CTA_PROTOINFO_SCTP_STATE)?
                {
                    info = Some(ProtoInfo::Sctp { state });
                }
            }
            _ => {}
        }
    }
    Ok(info)
}

fn counters(attr: &'static str, buf: &[u8]) -> Result<Counters> {
    let mut c = Counters::default();
    for nla in nlas(attr, buf) {
        let nla = nla?;
        let v = nla.value();
        match nla.kind() & NLA_TYPE_MASK {
            CTA_COUNTERS_PACKETS => c.packets = be_u64("CTA_COUNTERS_PACKETS", v)?,
            CTA_COUNTERS_BYTES => c.bytes = be_u64("CTA_COUNTERS_BYTES", v)?,
            CTA_COUNTERS32_PACKETS => c.packets = be_u32("CTA_COUNTERS32_PACKETS", v)?.into(),
            CTA_COUNTERS32_BYTES => c.bytes = be_u32("CTA_COUNTERS32_BYTES", v)?.into(),
            _ => {}
        }
    }
    Ok(c)
}

fn nested_u8(attr: &'static str, buf: &[u8], want: u16) -> Result<Option<u8>> {
    for nla in nlas(attr, buf) {
        let nla = nla?;
        if nla.kind() & NLA_TYPE_MASK == want {
            return u8_(attr, nla.value()).map(Some);
        }
    }
    Ok(None)
}

fn nested_string(attr: &'static str, buf: &[u8], want: u16) -> Result<Option<String>> {
    for nla in nlas(attr, buf) {
        let nla = nla?;
        if nla.kind() & NLA_TYPE_MASK == want {
            // NLA_STRING: NUL-terminated, but be lenient about a missing NUL.
            // Escaped: a helper or context name is printed in lines.
            let v = nla.value();
            let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
            return Ok(Some(crate::text::escape(&v[..end])));
        }
    }
    Ok(None)
}

/// A fixed-size value: exactly `N` bytes, as the kernel's policy for the
/// attribute says (NLA_U8 .. NLA_U64). A longer one is refused, not read in
/// part: its first bytes would be a guess at what the sender meant.
fn fixed<const N: usize>(attr: &'static str, v: &[u8]) -> Result<[u8; N]> {
    v.try_into()
        .map_err(|_| DecodeError::new(attr, format!("{} bytes, expected {N}", v.len())))
}

fn u8_(attr: &'static str, v: &[u8]) -> Result<u8> {
    Ok(fixed::<1>(attr, v)?[0])
}

fn be_u16(attr: &'static str, v: &[u8]) -> Result<u16> {
    Ok(u16::from_be_bytes(fixed(attr, v)?))
}

fn be_u32(attr: &'static str, v: &[u8]) -> Result<u32> {
    Ok(u32::from_be_bytes(fixed(attr, v)?))
}

fn be_u64(attr: &'static str, v: &[u8]) -> Result<u64> {
    Ok(u64::from_be_bytes(fixed(attr, v)?))
}
