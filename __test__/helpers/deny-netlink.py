"""Runs a command with socket(AF_NETLINK, *, NETLINK_NETFILTER) failing
with the given errno, as on a kernel without nf_conntrack_netlink (or under
qemu-user): a seccomp filter (libseccomp, Debian's python3-seccomp) that
the command and its threads inherit.

    deny-netlink.py EPROTONOSUPPORT node bin/ctlogd.js ...
"""
import errno
import os
import socket
import sys

import seccomp

NETLINK_NETFILTER = 12

f = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
f.add_rule(
    seccomp.ERRNO(getattr(errno, sys.argv[1])),
    "socket",
    seccomp.Arg(0, seccomp.EQ, socket.AF_NETLINK),
    seccomp.Arg(2, seccomp.EQ, NETLINK_NETFILTER),
)
f.load()
os.execvp(sys.argv[2], sys.argv[2:])
