#!/usr/bin/env python3
"""Capture conntrack events from the kernel as hex, one netlink message a line.

The fixtures in ../decode_captured.rs were made with this script (see
README.md beside it). Standard library only; needs CAP_NET_ADMIN.

Capture mode (the default):

    capture.py [-d SECONDS] [-l LABEL] [-g GROUPS] [-- COMMAND [ARG...]]

opens a NETLINK_NETFILTER socket, joins the multicast groups in GROUPS
(a bitmask; bit n-1 is group n: NFNLGRP_CONNTRACK_NEW = 1, _UPDATE = 2,
_DESTROY = 3, so the default 0b111 joins all three), then runs COMMAND if
one is given (only after the socket is bound, so no event of it is missed),
and prints every message received for SECONDS as one tab-separated line:

    LABEL  SEQ  KIND  SUMMARY  HEX

KIND is NEW, UPDATE or DESTROY (NEW and UPDATE share IPCTNL_MSG_CT_NEW; NEW
is the one with NLM_F_CREATE|NLM_F_EXCL), or `type=0x....` for anything
else. SUMMARY is a short reading of the message for a human picking
fixtures; HEX is the whole message, header included, exactly as received.
COMMAND is killed if it is still running when SECONDS are over.

Traffic mode, used as the COMMAND above, makes loopback traffic only:

    capture.py gen tcp  --host 127.0.0.1 --port 5001 [--connect-port P]
    capture.py gen udp  --host ::1       --port 5002 [--connect-port P]

`tcp` runs one whole TCP connection (handshake, one request and reply,
FIN from both sides); `udp` sends one datagram and its reply. A server
listens on --port; the client connects to --connect-port (default: the
same port), which lets a DNAT rule send it to --port.
"""

import argparse
import errno
import ipaddress
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

NETLINK_NETFILTER = 12
NLMSG_HDRLEN = 16
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
NFNL_SUBSYS_CTNETLINK = 1
IPCTNL_MSG_CT_NEW = 0
IPCTNL_MSG_CT_DELETE = 2
NLA_TYPE_MASK = 0x3FFF

# enum ctattr_type (only what the summary shows)
CTA_TUPLE_ORIG, CTA_TUPLE_REPLY, CTA_STATUS, CTA_PROTOINFO = 1, 2, 3, 4
CTA_MARK, CTA_COUNTERS_ORIG, CTA_ZONE, CTA_TIMESTAMP = 8, 9, 18, 20
TCP_STATES = [
    "NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT",
    "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2",
]


def nlas(buf):
    """Yields (type, value) for each netlink attribute in buf."""
    off = 0
    while off + 4 <= len(buf):
        length, kind = struct.unpack_from("=HH", buf, off)
        if length < 4 or off + length > len(buf):
            return
        yield kind & NLA_TYPE_MASK, buf[off + 4:off + length]
        off += (length + 3) & ~3


def tuple_text(buf):
    ips, l4, zone = [], {}, None
    for kind, val in nlas(buf):
        if kind == 1:  # CTA_TUPLE_IP
            ips = [str(ipaddress.ip_address(v)) for _, v in nlas(val)]
        elif kind == 2:  # CTA_TUPLE_PROTO
            l4 = {k: v for k, v in nlas(val)}
        elif kind == 3:  # CTA_TUPLE_ZONE
            zone = struct.unpack(">H", val[:2])[0]
    text = "->".join(ips)
    if 2 in l4 and 3 in l4:
        text += " %d->%d" % (struct.unpack(">H", l4[2])[0],
                             struct.unpack(">H", l4[3])[0])
    for t, c, i in ((5, 6, 4), (8, 9, 7)):  # ICMP, ICMPv6 type/code/id
        if t in l4:
            text += " type=%d code=%d id=%d" % (
                l4[t][0], l4[c][0], struct.unpack(">H", l4[i])[0])
    if 1 in l4:
        text = "proto=%d %s" % (l4[1][0], text)
    if zone is not None:
        text += " zone=%d" % zone
    return text


def summary(msg, family, portid):
    parts = ["family=%d" % family]
    for kind, val in nlas(msg[NLMSG_HDRLEN + 4:]):
        if kind == CTA_TUPLE_ORIG:
            parts.append("orig[%s]" % tuple_text(val))
        elif kind == CTA_TUPLE_REPLY:
            parts.append("reply[%s]" % tuple_text(val))
        elif kind == CTA_STATUS:
            parts.append("status=0x%x" % struct.unpack(">I", val)[0])
        elif kind == CTA_PROTOINFO:
            for _, tcp in nlas(val):
                for k, v in nlas(tcp):
                    if k == 1 and v[0] < len(TCP_STATES):
                        parts.append(TCP_STATES[v[0]])
        elif kind == CTA_MARK:
            parts.append("mark=%d" % struct.unpack(">I", val)[0])
        elif kind == CTA_ZONE:
            parts.append("zone=%d" % struct.unpack(">H", val)[0])
        elif kind == CTA_COUNTERS_ORIG:
            parts.append("counters")
        elif kind == CTA_TIMESTAMP:
            parts.append("ts" + "".join(
                {1: "+start", 2: "+stop"}.get(k, "") for k, _ in nlas(val)))
    if portid:
        parts.append("portid=%d" % portid)
    return " ".join(parts)


def messages(buf):
    """Splits one recv buffer into netlink messages."""
    off = 0
    while off + NLMSG_HDRLEN <= len(buf):
        length = struct.unpack_from("=I", buf, off)[0]
        if length < NLMSG_HDRLEN or off + length > len(buf):
            print("# bad nlmsg_len %d at %d" % (length, off), file=sys.stderr)
            return
        yield buf[off:off + length]
        off += (length + 3) & ~3


def describe(msg):
    _, nl_type, flags, _, portid = struct.unpack_from("=IHHII", msg)
    kind = "type=0x%04x" % nl_type
    if nl_type >> 8 == NFNL_SUBSYS_CTNETLINK:
        if nl_type & 0xFF == IPCTNL_MSG_CT_NEW:
            new = flags & (NLM_F_CREATE | NLM_F_EXCL)
            kind = "NEW" if new else "UPDATE"
        elif nl_type & 0xFF == IPCTNL_MSG_CT_DELETE:
            kind = "DESTROY"
    family = msg[NLMSG_HDRLEN] if len(msg) > NLMSG_HDRLEN else 0
    try:
        text = summary(msg, family, portid)
    except (ValueError, IndexError, struct.error) as e:
        text = "unreadable: %s" % e
    return kind, text


def capture(args):
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind((0, args.groups))
    print("# bound, groups=0x%x" % args.groups, file=sys.stderr, flush=True)
    child = None
    if args.command:
        # The command's own output goes to stderr: stdout is only messages.
        child = subprocess.Popen(args.command, stdout=sys.stderr,
                                 start_new_session=True)
    deadline = time.monotonic() + args.duration
    seq = 0
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ready, _, _ = select.select([sock], [], [], left)
            if not ready:
                continue
            try:
                buf = sock.recv(1 << 16)
            except OSError as e:
                if e.errno == errno.ENOBUFS:
                    print("# ENOBUFS: events lost", file=sys.stderr)
                    continue
                raise
            for msg in messages(buf):
                kind, text = describe(msg)
                print("\t".join((args.label, str(seq), kind, text, msg.hex())),
                      flush=True)
                seq += 1
    finally:
        sock.close()
        if child is not None:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
                try:
                    child.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    os.killpg(child.pid, signal.SIGKILL)
                    child.wait()
            if child.returncode:
                print("# command exited %d" % child.returncode, file=sys.stderr)
    return 1 if child is not None and child.returncode else 0


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def gen_tcp(host, port, connect_port):
    fam = family_of(host)
    srv = socket.socket(fam, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host, port))
    srv.listen(1)

    def serve():
        conn, _ = srv.accept()
        data = conn.recv(100)
        conn.sendall(b"re:" + data)
        conn.recv(100)  # the client's FIN
        conn.close()

    t = threading.Thread(target=serve)
    t.start()
    cli = socket.create_connection((host, connect_port), timeout=5)
    cli.sendall(b"hello")
    cli.recv(100)
    cli.shutdown(socket.SHUT_WR)
    cli.recv(100)  # the server's FIN
    cli.close()
    t.join(5)
    srv.close()


def gen_udp(host, port, connect_port):
    fam = family_of(host)
    srv = socket.socket(fam, socket.SOCK_DGRAM)
    srv.bind((host, port))
    srv.settimeout(5)
    cli = socket.socket(fam, socket.SOCK_DGRAM)
    cli.settimeout(5)
    cli.sendto(b"ping", (host, connect_port))
    data, peer = srv.recvfrom(100)
    srv.sendto(b"pong:" + data, peer)
    cli.recvfrom(100)
    cli.close()
    srv.close()


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "gen":
        p = argparse.ArgumentParser(prog="capture.py gen")
        p.add_argument("kind", choices=["tcp", "udp"])
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--connect-port", type=int)
        a = p.parse_args(sys.argv[2:])
        gen = gen_tcp if a.kind == "tcp" else gen_udp
        gen(a.host, a.port, a.connect_port or a.port)
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("-d", "--duration", type=float, default=5.0)
    p.add_argument("-l", "--label", default="capture")
    p.add_argument("-g", "--groups", type=lambda s: int(s, 0), default=0b111)
    p.add_argument("command", nargs=argparse.REMAINDER)
    args = p.parse_args()
    if args.command[:1] == ["--"]:
        args.command = args.command[1:]
    return capture(args)


if __name__ == "__main__":
    sys.exit(main())
