#!/usr/bin/env python3
"""mkcorpus_proto2.py - seed frames of protocol version 2 (LIST, LISTING,
HAVE, HAVING; see src/proto.h) for fuzz/fuzz_proto.c.  Writes
fuzz/corpus/proto/v2-*."""
import os
import struct

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "proto")


def frame(typ, body):
    return b"ZKT1" + bytes([2, typ, 0, 0]) + struct.pack(">I", len(body)) + body


def s(text, width):
    b = text.encode()
    return b + b"\0" * (width - len(b))


def entry(guid, txg, kind, name):
    return struct.pack(">QQBB", guid, txg, kind, len(name)) + name.encode()


seeds = {
    "v2-list": frame(4, struct.pack(">B3x", 0) + s("backup/alpha/home", 256)),
    "v2-list-push": frame(4, struct.pack(">B3x", 1) + s("tank/home", 256)),
    "v2-list-tree": frame(4, struct.pack(">B3x", 2) + s("tank", 256)),
    "v2-listing": frame(5, struct.pack(">BB2x", 0, 0) + s("", 256) +
                        s("1-abc-def-012", 1024) + s("backup/alpha/home", 256) +
                        struct.pack(">I", 2) +
                        entry(101, 7, 1, "@a") + entry(102, 8, 2, "#b")),
    "v2-listing-tree": frame(5, struct.pack(">BB2x", 0, 0) + s("", 256) +
                             s("", 1024) + s("tank", 256) +
                             struct.pack(">I", 2) +
                             entry(201, 3, 3, "/home") + entry(202, 4, 3, "/home/a")),
    "v2-listing-denied": frame(5, struct.pack(">BB2x", 1, 0) + s("not yours", 256) +
                               s("", 1024) + s("", 256) + struct.pack(">I", 0)),
    "v2-have": frame(6, s("tank/x", 256) + struct.pack(">IQQ", 2, 7, 8)),
    "v2-having": frame(7, struct.pack(">B3x", 0) + s("", 256) +
                       struct.pack(">I", 2) + bytes([0, 1])),
}
for name, data in seeds.items():
    with open(os.path.join(here, name), "wb") as f:
        f.write(data)
