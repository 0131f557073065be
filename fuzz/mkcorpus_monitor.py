#!/usr/bin/env python3
"""Seeds for fuzz_monitor: serve's monitor requests as zfs_req_encode()
writes them (src/zfs.c, "the codec"): version 1, op, what, flag bits,
the send flags (u32), the counts of -o and -x, then u16-length strings:
name, name2, send.snap, send.base, send.token, recv.target, -o..., -x...

    fuzz/mkcorpus_monitor.py fuzz/corpus/monitor
"""
import os
import struct
import sys

ZOP = dict(GET=1, LIST=2, ORIGINS=3, DESCRIBE=4, ESTIMATE=5, SEND=6, RECV=7,
           MARK=8, DESTROY=9)


def req(op, what=0, bits=0, flags=0, name="", name2="", snap="", base="",
        token="", target="", sets=(), excl=()):
    b = struct.pack(">BBBBIBB", 1, ZOP[op], what, bits, flags, len(sets),
                    len(excl))
    for s in (name, name2, snap, base, token, target, *sets, *excl):
        e = s.encode()
        b += struct.pack(">H", len(e)) + e
    return b


MOUNT = ("mountpoint", "canmount", "sharenfs", "sharesmb", "overlay")
seeds = {
    "get-guid": req("GET", 1, name="backup/alpha/home@a"),
    "get-token": req("GET", 2, name="backup/alpha/home"),
    "list-tree": req("LIST", 1, name="tank/exp"),
    "list-entries": req("LIST", 2, name="tank/exp/a"),
    "describe": req("DESCRIBE", token="1-ab-cd-ef"),
    "estimate": req("ESTIMATE", flags=3, snap="tank/exp/a@b", base="@a"),
    "send-incr-all": req("SEND", bits=1, flags=1, snap="tank/exp/a@b",
                         base="@a"),
    # as policy_serve_recv() makes it for fuzz_monitor.c's client
    "recv": req("RECV", bits=4 | 16 | 32, target="backup/alpha",
                sets=("mountpoint=/srv/alpha", "readonly=on"),
                excl=("atime",) + MOUNT[1:]),
    "mark": req("MARK", name="tank/exp/x@a",
                name2="tank/exp/x#zktls:5:alpha:a"),
    "destroy": req("DESTROY", name="tank/exp/x#zktls:5:alpha:a"),
    # retention: what serve's pruner lists and destroys; a session's
    # destroy of a snapshot of its pushes must never pass
    "list-retain": req("LIST", 6, name="backup/alpha/home"),
    "destroy-snap": req("DESTROY", name="backup/alpha/home@old"),
}
os.makedirs(sys.argv[1], exist_ok=True)
for n, b in seeds.items():
    with open(os.path.join(sys.argv[1], n), "wb") as f:
        f.write(b)
