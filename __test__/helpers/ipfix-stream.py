#!/usr/bin/python3
# An IPFIX collector over TCP (RFC 7011 §10.4) for the tests, on Debian's
# python3-ipfix (its reader decodes; this only listens):
#   ipfix-stream.py HOST PORT DIR
# Prints "listening", then one JSON object per data record on stdout, by
# IANA name (times as ms since the epoch, addresses as text), and
# {"connection": N} / {"closed": N} around each connection. The bytes of
# connection N are kept in DIR/N.ipfix, for a second reader (libfixbuf's
# ipfixDump).
import datetime
import ipaddress
import json
import os
import socket
import sys
import threading

import ipfix.ie
import ipfix.reader

ipfix.ie.use_iana_default()
ipfix.ie.use_5103_default()

host, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
lock = threading.Lock()


def say(obj):
    with lock:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


def plain(v):
    if isinstance(v, datetime.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=datetime.timezone.utc)
        return round(v.timestamp() * 1000)
    if isinstance(v, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return str(v)
    return v


class Tee:
    """The socket's bytes, kept in a file as they are read."""

    def __init__(self, sock, path):
        self.r = sock.makefile("rb")
        self.f = open(path, "wb")

    def read(self, n=-1):
        b = self.r.read(n)
        self.f.write(b)
        self.f.flush()
        return b


def serve(conn, n):
    say({"connection": n})
    try:
        for rec in ipfix.reader.from_stream(Tee(conn, os.path.join(out, f"{n}.ipfix"))).namedict_iterator():
            say({"connection_id": n, **{k: plain(v) for k, v in rec.items()}})
    except Exception as e:  # a reset connection, or bytes it cannot read: said, not hidden
        say({"error": f"{type(e).__name__}: {e}", "connection_id": n})
    say({"closed": n})
    conn.close()


srv = socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
say({"listening": port})
count = 0
while True:
    c, _ = srv.accept()
    count += 1
    threading.Thread(target=serve, args=(c, count), daemon=True).start()
