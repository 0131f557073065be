"""zkpeer.py - a zktls client in Python for the serve tests, speaking the
session protocol (src/proto.h) by hand: LIST, HAVE-less REQUEST, frames.

Imported by the heredocs of tests/host/serve_*.sh (sys.path gets this
directory).  Python 3 stdlib only.
"""
import socket
import ssl
import struct

LIST, LISTING, REQUEST, REPLY = 4, 5, 1, 2
ST = {0: "ok", 1: "denied", 2: "notfound", 3: "busy", 4: "error"}


def connect(port, pki, name, source=None, timeout=10):
    """A TLS connection to serve as client NAME (its cert in PKI)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(f"{pki}/{name}.pem", f"{pki}/{name}.key")
    ctx.load_verify_locations(f"{pki}/ca.pem")
    ctx.set_alpn_protocols(["zktls/1"])
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                   source_address=(source, 0) if source
                                   else None)
    return ctx.wrap_socket(raw, server_hostname="beta")


def name(s):
    return s.encode().ljust(256, b"\0")


def list_frame(dataset):
    return (b"ZKT1" + bytes([2, LIST, 0, 0]) + struct.pack(">I", 260) +
            bytes([0, 0, 0, 0]) + name(dataset))


def pull_frame(snapshot, dataset="backup/p"):
    body = (bytes([2, 0, 0, 0]) + struct.pack(">I", 0) + name(dataset) +
            name(snapshot) + b"\0" * 1024 + struct.pack(">I", 0))
    return (b"ZKT1" + bytes([1, REQUEST, 0, 0]) +
            struct.pack(">I", len(body)) + body)


def read_exact(t, n):
    b = b""
    while len(b) < n:
        c = t.recv(n - len(b))
        if not c:
            return None
        b += c
    return b


def read_frame(t):
    """(type, body), or None when the server closed (or cut) it."""
    try:
        h = read_exact(t, 12)
        if h is None:
            return None
        body = read_exact(t, struct.unpack(">I", h[8:12])[0])
        return None if body is None else (h[5], body)
    except (OSError, ssl.SSLError):
        return None


def answer(t):
    """The status word of the next LISTING (all its frames) or REPLY, and
    its message; "closed" when the server closed the connection."""
    while True:
        f = read_frame(t)
        if f is None:
            return "closed", ""
        typ, body = f
        msg = body[4:260].split(b"\0")[0].decode(errors="replace")
        if typ == LISTING and body[1]:
            continue  # more frames follow
        return ST.get(body[0], "?"), msg


def closed_within(t, secs):
    """Does the server close the connection within secs (no data)?"""
    t.settimeout(secs)
    try:
        return t.recv(1) == b""
    except socket.timeout:
        return False
    except (OSError, ssl.SSLError):
        return True
