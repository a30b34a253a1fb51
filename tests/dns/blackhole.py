#!/usr/bin/env python3
"""A DNS server that never answers: reads every UDP datagram sent to
127.0.0.1:PORT and accepts TCP connections on the same port, and answers
none of them. Each query is logged, one line each, flushed at once:

  udp QNAME QTYPE        (QNAME lower case; "? ?" when it does not parse)
  tcp QNAME QTYPE        (a query read from a TCP connection)
  tcp-connect            (a TCP connection accepted)

  blackhole.py --port-file FILE --log FILE [--parent PID] [--lifetime SECS]

Binds 127.0.0.1 only, port 0 (a free port, the same for UDP and TCP),
writes the port to FILE once both are bound. Exits by itself after
--lifetime seconds (default 600) or, with --parent, within a second of that
process going away, so a test killed without its cleanup leaves nothing
behind.
"""
import argparse
import os
import selectors
import socket
import struct
import sys
import time


def question(msg):
    try:
        pos, labels = 12, []
        while msg[pos]:
            n = msg[pos]
            labels.append(msg[pos + 1:pos + 1 + n].decode("ascii", "replace"))
            pos += 1 + n
        qtype = struct.unpack("!H", msg[pos + 1:pos + 3])[0]
        return ".".join(labels).lower() or ".", str(qtype)
    except (IndexError, struct.error):
        return "?", "?"


def bind_pair():
    for _ in range(50):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        port = udp.getsockname()[1]
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            tcp.bind(("127.0.0.1", port))
        except OSError:
            udp.close()
            tcp.close()
            continue
        tcp.listen(64)
        return udp, tcp, port
    sys.exit("blackhole: no port free for both UDP and TCP")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--parent", type=int)
    ap.add_argument("--lifetime", type=float, default=600)
    opts = ap.parse_args()

    udp, tcp, port = bind_pair()
    log = open(opts.log, "a", buffering=1)
    tmp = opts.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{port}\n")
    os.rename(tmp, opts.port_file)

    sel = selectors.DefaultSelector()
    sel.register(udp, selectors.EVENT_READ, "udp")
    sel.register(tcp, selectors.EVENT_READ, "listen")
    buffers = {}
    deadline = time.monotonic() + opts.lifetime
    while time.monotonic() < deadline:
        if opts.parent:
            try:
                os.kill(opts.parent, 0)
            except ProcessLookupError:
                break
        for key, _ in sel.select(timeout=0.5):
            if key.data == "udp":
                msg, _ = udp.recvfrom(65535)
                log.write("udp %s %s\n" % question(msg))
            elif key.data == "listen":
                conn, _ = tcp.accept()
                conn.setblocking(False)
                buffers[conn] = b""
                sel.register(conn, selectors.EVENT_READ, "conn")
                log.write("tcp-connect\n")
            else:
                conn = key.fileobj
                try:
                    chunk = conn.recv(65535)
                except OSError:
                    chunk = b""
                if not chunk:
                    sel.unregister(conn)
                    conn.close()
                    buffers.pop(conn, None)
                    continue
                buf = buffers[conn] + chunk
                while len(buf) >= 2 and len(buf) >= 2 + struct.unpack("!H", buf[:2])[0]:
                    n = struct.unpack("!H", buf[:2])[0]
                    log.write("tcp %s %s\n" % question(buf[2:2 + n]))
                    buf = buf[2 + n:]
                buffers[conn] = buf  # kept open, never answered
    return 0


if __name__ == "__main__":
    sys.exit(main())
