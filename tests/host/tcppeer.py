#!/usr/bin/env python3
"""tcppeer.py - a plain-TCP peer (no TLS) for the host tests.

  tcppeer.py listen [--send DATA] [--hold SECS] [--lifetime SECS]
      Listen on 127.0.0.1:0, print the port as the first stdout line, accept
      one connection, send DATA (if any), keep the connection open and
      silent for SECS (default 0), then close.  What the client sent is
      reported on stderr as "tcppeer: got N bytes".
  tcppeer.py connect PORT [--send DATA] [--hold SECS]
      Connect to 127.0.0.1:PORT, send DATA, wait SECS (or until the server
      closes), close.  Reports what came back on stderr.
DATA is taken literally, with \\n and \\r turned into newline and CR, and
\\xHH into that byte.  Python 3 stdlib only.
"""
import argparse
import socket
import sys
import time


def unescape(s):
    return s.encode().decode("unicode_escape").encode("latin-1")


def drain(sock, until):
    got = 0
    while True:
        left = until - time.monotonic()
        if left <= 0:
            return got, "timeout"
        sock.settimeout(left)
        try:
            b = sock.recv(65536)
        except socket.timeout:
            return got, "timeout"
        except OSError as e:
            return got, str(e)
        if not b:
            return got, "eof"
        got += len(b)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=("listen", "connect"))
    ap.add_argument("port", nargs="?", type=int)
    ap.add_argument("--send", default="")
    ap.add_argument("--hold", type=float, default=0.0)
    ap.add_argument("--lifetime", type=float, default=60.0)
    a = ap.parse_args()
    data = unescape(a.send)

    if a.mode == "listen":
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", 0))
        ls.listen(1)
        print(ls.getsockname()[1], flush=True)
        ls.settimeout(a.lifetime)
        try:
            s, _ = ls.accept()
        except socket.timeout:
            print("tcppeer: no connection", file=sys.stderr)
            return 1
    else:
        s = socket.create_connection(("127.0.0.1", a.port), timeout=10)
    if data:
        try:
            s.sendall(data)
        except OSError as e:
            print("tcppeer: send: %s" % e, file=sys.stderr)
    got, how = drain(s, time.monotonic() + a.hold)
    print("tcppeer: got %d bytes (%s)" % (got, how), file=sys.stderr,
          flush=True)
    s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
