#!/usr/bin/env python3
"""relay.py - a one-connection TCP relay that can cut or corrupt the stream.

Listens on 127.0.0.1:0, prints its port as the first line of stdout, accepts
one connection, connects to --to HOST:PORT, and forwards both directions.
In the direction chosen with --dir (c2s: client to server, s2c: server to
client):
  --cut-after N   forward exactly N bytes, then close both sides
                  (--cut-mode fin: a normal close; rst: a TCP reset)
  --flip-at N     XOR the byte at offset N with 0x01 (a bit flip)
  --stall-after N forward exactly N bytes, then stop reading that direction
                  (both connections stay open: the peers see silence)
  --stall-mid-record
                  with --stall-after N: stall instead in the middle of the
                  first TLS record that starts at or after N (its header
                  and half its body forwarded)
  --cut-before-record LEN
                  forward up to the first TLS record whose length field is
                  LEN, then close both sides (e.g. 19: a TLS 1.3
                  close_notify under AES-GCM or ChaCha20-Poly1305)
  --flip-record LEN
                  flip a bit 10 bytes into the first TLS record of length
                  LEN (its encrypted payload)
Exits after both sides closed, after a cut, or after --lifetime seconds.
One line per event goes to stderr ("relay: ...").  Python 3 stdlib only.
"""
import argparse
import selectors
import socket
import struct
import sys
import time


def log(msg):
    print("relay: " + msg, file=sys.stderr, flush=True)


def hard_close(sock, rst):
    try:
        if rst:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass


class Records:
    """Finds TLS record headers in one direction of the stream."""

    def __init__(self):
        self.pos = 0          # absolute offset of the next byte fed
        self.next = 0         # absolute offset of the next record header
        self.hdr = bytearray()

    def feed(self, data):
        """Return [(offset, length)] of the record headers completed in
        data (offsets are absolute)."""
        found = []
        i = 0
        while i < len(data):
            at = self.pos + i
            if at < self.next:
                i += min(self.next - at, len(data) - i)
                continue
            take = min(5 - len(self.hdr), len(data) - i)
            self.hdr += data[i:i + take]
            i += take
            if len(self.hdr) == 5:
                length = int.from_bytes(self.hdr[3:5], "big")
                found.append((self.next, length))
                self.next += 5 + length
                self.hdr = bytearray()
        self.pos += len(data)
        return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--to", required=True, help="HOST:PORT or PORT")
    ap.add_argument("--dir", choices=("c2s", "s2c"), default="c2s")
    ap.add_argument("--cut-after", type=int, default=-1)
    ap.add_argument("--cut-mode", choices=("fin", "rst"), default="fin")
    ap.add_argument("--flip-at", type=int, default=-1)
    ap.add_argument("--stall-after", type=int, default=-1)
    ap.add_argument("--stall-mid-record", action="store_true")
    ap.add_argument("--cut-before-record", type=int, default=-1)
    ap.add_argument("--flip-record", type=int, default=-1)
    ap.add_argument("--lifetime", type=float, default=60.0)
    a = ap.parse_args()

    host, _, port = a.to.rpartition(":")
    target = (host or "127.0.0.1", int(port))
    deadline = time.monotonic() + a.lifetime

    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    print(ls.getsockname()[1], flush=True)
    ls.settimeout(a.lifetime)
    try:
        client, _ = ls.accept()
    except socket.timeout:
        log("no connection within the lifetime")
        return 1
    ls.close()
    try:
        server = socket.create_connection(target, timeout=10)
    except OSError as e:
        log("cannot connect to %s:%d: %s" % (target[0], target[1], e))
        client.close()
        return 1
    server.settimeout(None)
    client.setblocking(True)
    server.setblocking(True)

    # (from, to, name): the watched direction counts bytes.
    ends = {client: (server, "c2s"), server: (client, "s2c")}
    count = {"c2s": 0, "s2c": 0}
    open_dirs = {"c2s", "s2c"}
    records = Records()
    watch_records = a.cut_before_record >= 0 or a.flip_record >= 0 or \
        a.stall_mid_record
    stall_at = -1 if a.stall_mid_record else a.stall_after
    sel = selectors.DefaultSelector()
    sel.register(client, selectors.EVENT_READ)
    sel.register(server, selectors.EVENT_READ)

    while open_dirs:
        if not sel.get_map():
            # One direction stalled, the other ended: nobody can move.
            log("nothing left to forward")
            break
        left = deadline - time.monotonic()
        if left <= 0:
            log("lifetime over: c2s %d, s2c %d bytes" %
                (count["c2s"], count["s2c"]))
            break
        for key, _ in sel.select(timeout=min(left, 1.0)):
            src = key.fileobj
            dst, name = ends[src]
            try:
                data = src.recv(65536)
            except OSError as e:
                log("%s read error after %d bytes: %s" %
                    (name, count[name], e))
                data = b""
                # A reset from one end: pass it on as a reset.
                hard_close(dst, True)
                open_dirs.clear()
                break
            if not data:
                log("%s end of stream after %d bytes" % (name, count[name]))
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                sel.unregister(src)
                open_dirs.discard(name)
                continue
            start = count[name]
            if name == a.dir and watch_records:
                for off, length in records.feed(data):
                    if length == a.cut_before_record and a.cut_after < 0:
                        a.cut_after = off
                        log("%s record of length %d at %d: cutting there"
                            % (name, length, off))
                    if a.stall_mid_record and stall_at < 0 and \
                            off >= a.stall_after:
                        stall_at = off + 5 + length // 2
                        log("%s record of length %d at %d: stalling at %d"
                            % (name, length, off, stall_at))
                    if length == a.flip_record and a.flip_at < 0:
                        a.flip_at = off + 10
                        log("%s record of length %d at %d: flipping"
                            % (name, length, off))
            if name == a.dir and a.flip_at >= 0 and \
                    start <= a.flip_at < start + len(data):
                b = bytearray(data)
                b[a.flip_at - start] ^= 0x01
                data = bytes(b)
                log("%s flipped a bit of byte %d" % (name, a.flip_at))
            cut = stall = False
            if name == a.dir and a.cut_after >= 0 and \
                    start + len(data) >= a.cut_after:
                data = data[:max(0, a.cut_after - start)]
                cut = True
            if name == a.dir and stall_at >= 0 and \
                    start + len(data) >= stall_at:
                data = data[:max(0, stall_at - start)]
                stall = True
            try:
                if data:
                    dst.sendall(data)
            except OSError as e:
                log("%s write error after %d bytes: %s" % (name, start, e))
                open_dirs.clear()
                break
            count[name] += len(data)
            if stall:
                log("%s stalled after %d bytes" % (name, count[name]))
                sel.unregister(src)
                # Keep watching the other direction until the lifetime
                # ends or the peers give up.
                continue
            if cut:
                log("%s cut (%s) after %d bytes" %
                    (name, a.cut_mode, count[name]))
                hard_close(client, a.cut_mode == "rst")
                hard_close(server, a.cut_mode == "rst")
                return 0
    client.close()
    server.close()
    log("done: c2s %d, s2c %d bytes" % (count["c2s"], count["s2c"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
