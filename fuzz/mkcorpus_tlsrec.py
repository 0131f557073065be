#!/usr/bin/env python3
"""mkcorpus_tlsrec.py - seed inputs for fuzz/fuzz_tlsrec.c (see its format:
4 bytes of chunking/flip control, then records of
[type][len16][pad16][content]).  Writes fuzz/corpus/tlsrec/*."""
import os
import struct

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "tlsrec")
os.makedirs(here, exist_ok=True)


def rec(typ, content=b"", pad=0):
    return struct.pack(">BHH", typ, len(content), pad) + content


CLOSE = rec(21, b"\x01\x00")
TICKET = rec(22, b"\x04\x00\x00\x0d" + b"\x00" * 13)
seeds = {
    "data-close": b"\x07\x00\x00\x00" + rec(23, b"hello") + rec(23, b"x" * 3000) + CLOSE,
    "empty-records": b"\x01\x00\x00\x00" + rec(23, b"a") + rec(23) + rec(23) + rec(23, b"b") + CLOSE,
    "ticket-between": b"\x03\x00\x00\x00" + rec(23, b"a" * 100) + TICKET + rec(23, b"b") + CLOSE,
    "max-padding": b"\x05\x00\x00\x00" + rec(23, b"z", 16383) + CLOSE,
    "alert": b"\x02\x00\x00\x00" + rec(23, b"q") + rec(21, b"\x02\x14"),
    "keyupdate": b"\x02\x00\x00\x00" + rec(23, b"q") + rec(22, b"\x18\x00\x00\x01\x00") + rec(23, b"r") + CLOSE,
    "keyupdate-requested": b"\x06\x00\x00\x00" + rec(22, b"\x18\x00\x00\x01\x01") + rec(23, b"s" * 500) + rec(22, b"\x18\x00\x00\x01\x00") + CLOSE,
    "keyupdate-malformed": b"\x02\x00\x00\x00" + rec(23, b"q") + rec(22, b"\x18\x00\x00\x01\x02") + CLOSE,
    "empty-handshake": b"\x02\x00\x00\x00" + rec(22) + rec(23, b"q") + CLOSE,
    "truncated": b"\x09\x00\x00\x00" + rec(23, b"no close"),
    "flip": b"\x04\x01\x00\x20" + rec(23, b"f" * 200) + CLOSE,
}
for name, data in seeds.items():
    with open(os.path.join(here, name), "wb") as f:
        f.write(data)
