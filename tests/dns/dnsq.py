#!/usr/bin/env python3
"""A minimal DNS client for the DNS tests: asks 127.0.0.1 (and nothing
else: the server address is not an option) on PORT over UDP, or TCP with
--tcp, and prints the answer as text.

  dnsq.py PORT NAME TYPE [--tcp] [--timeout SECS]
  dnsq.py PORT --batch [--timeout SECS]   # "NAME TYPE" lines on stdin

Output, one query per line:
  NAME TYPE RCODE[ aa] | RDATA ; RDATA ; ...
RCODE is NOERROR, NXDOMAIN, REFUSED, ... or TIMEOUT; "aa" when the answer
is authoritative. RDATA as text: A/AAAA the address, NS/CNAME/PTR the name
without the trailing dot, MX "PREF HOST", TXT/SPF the character-strings
joined (each shown in double quotes when there is more than one), SOA the
seven fields; other types as hex. Only records of the asked type are shown
(CNAMEs are not followed: the test zones have none).

Exit status: 0 when every query got an answer (any RCODE), 1 on a timeout,
2 on usage errors.
"""
import ipaddress
import random
import socket
import struct
import sys

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16,
         "AAAA": 28, "SPF": 99, "ANY": 255}
TYPE_NAMES = {v: k for k, v in TYPES.items()}
RCODES = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"]


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if not label:
            continue
        raw = label.encode("utf-8")
        if len(raw) > 63:
            raise ValueError(f"label too long: {label}")
        out += bytes([len(raw)]) + raw
    return out + b"\0"


def build_query(name, qtype):
    qid = random.randrange(65536)
    header = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)  # RD set, like a stub
    return qid, header + encode_name(name) + struct.pack("!HH", qtype, 1)


def read_name(msg, pos):
    labels, jumped, end, hops = [], False, pos, 0
    while True:
        length = msg[pos]
        if length & 0xC0 == 0xC0:
            ptr = ((length & 0x3F) << 8) | msg[pos + 1]
            if not jumped:
                end = pos + 2
            jumped, pos, hops = True, ptr, hops + 1
            if hops > 64:
                raise ValueError("compression loop")
            continue
        if length == 0:
            if not jumped:
                end = pos + 1
            return ".".join(labels), end
        labels.append(msg[pos + 1:pos + 1 + length].decode("utf-8", "replace"))
        pos += 1 + length


def rdata_text(msg, rtype, start, length):
    data = msg[start:start + length]
    if rtype == 1:
        return str(ipaddress.IPv4Address(data))
    if rtype == 28:
        return str(ipaddress.IPv6Address(data))
    if rtype in (2, 5, 12):
        return read_name(msg, start)[0].lower()
    if rtype == 15:
        pref = struct.unpack("!H", data[:2])[0]
        return f"{pref} {read_name(msg, start + 2)[0].lower()}"
    if rtype in (16, 99):
        strings, i = [], 0
        while i < len(data):
            n = data[i]
            strings.append(data[i + 1:i + 1 + n].decode("utf-8", "backslashreplace"))
            i += 1 + n
        if len(strings) == 1:
            return strings[0]
        return " ".join('"' + s + '"' for s in strings)
    if rtype == 6:
        mname, pos = read_name(msg, start)
        rname, pos = read_name(msg, pos)
        nums = struct.unpack("!IIIII", msg[pos:pos + 20])
        return " ".join([mname, rname] + [str(n) for n in nums])
    return data.hex()


def parse_answer(msg, qtype):
    _, flags, qd, an, _, _ = struct.unpack("!HHHHHH", msg[:12])
    pos = 12
    for _ in range(qd):
        _, pos = read_name(msg, pos)
        pos += 4
    rdatas = []
    for _ in range(an):
        _, pos = read_name(msg, pos)
        rtype, _, _, rdlen = struct.unpack("!HHIH", msg[pos:pos + 10])
        pos += 10
        if rtype == qtype or qtype == 255:
            rdatas.append(rdata_text(msg, rtype, pos, rdlen))
        pos += rdlen
    rcode = flags & 0xF
    rname = RCODES[rcode] if rcode < len(RCODES) else f"RCODE{rcode}"
    if flags & 0x0400:
        rname += " aa"
    return rname, rdatas


def ask(port, name, qtype, tcp=False, timeout=2.0):
    qid, query = build_query(name, qtype)
    try:
        if tcp:
            with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
                s.sendall(struct.pack("!H", len(query)) + query)
                buf = b""
                while len(buf) < 2 or len(buf) < 2 + struct.unpack("!H", buf[:2])[0]:
                    chunk = s.recv(65535)
                    if not chunk:
                        raise OSError("connection closed")
                    buf += chunk
                msg = buf[2:]
        else:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(timeout)
                s.sendto(query, ("127.0.0.1", port))
                while True:
                    msg, _ = s.recvfrom(65535)
                    if struct.unpack("!H", msg[:2])[0] == qid:
                        break
    except (socket.timeout, OSError):
        return "TIMEOUT", []
    return parse_answer(msg, qtype)


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    tcp = "--tcp" in argv
    batch = "--batch" in argv
    timeout = 2.0
    if "--timeout" in argv:
        timeout = float(argv[argv.index("--timeout") + 1])
        args.remove(argv[argv.index("--timeout") + 1])
    if not args or (not batch and len(args) != 3):
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    port = int(args[0])
    if batch:
        queries = [line.split() for line in sys.stdin if line.strip()]
    else:
        queries = [args[1:3]]
    status = 0
    for name, tname in queries:
        qtype = TYPES.get(tname.upper())
        if qtype is None:
            print(f"unknown type {tname}", file=sys.stderr)
            return 2
        rcode, rdatas = ask(port, name, qtype, tcp, timeout)
        if rcode == "TIMEOUT":
            status = 1
        print(f"{name} {tname.upper()} {rcode} | {' ; '.join(rdatas)}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
