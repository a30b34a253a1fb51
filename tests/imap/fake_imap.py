#!/usr/bin/env python3
"""Scripted fake IMAP server for dmarq's misbehaviour tests (stdlib only).

Usage:
  fake_imap.py --scenario NAME --port-file FILE
               [--tls-cert CERT --tls-key KEY [--starttls]]
               [--connections N] [--timeout SECS] [--host 127.0.0.x]
               [--message FILE ...] [--interval SECS]

Binds HOST (default 127.0.0.1; only 127.0.0.0/8 is accepted) port 0, writes
the port to FILE (atomically), serves N connections one after the other
(default 1) and exits. It always exits by itself after --timeout seconds
(default and maximum 60), connected or not. With --tls-cert/--tls-key it
speaks implicit TLS; with --starttls as well it starts in cleartext and
offers STARTTLS instead.

Everything goes to stderr: "C: <line>" for each command line the client
sent, "C+: ..." for literal data and SASL continuation lines, "S: <line>" for
what the server sent (bulk data summarised), "-- ..." for events (connection,
TLS handshake result, client disconnect, timeout). A test can thus check
that the client never sent LOGIN or AUTHENTICATE:
  ! grep -Eq '^C: [^ ]+ (LOGIN|AUTHENTICATE)( |$)' LOG

Scenarios (commands not mentioned get a plain tagged OK):
  ok              well-behaved: any LOGIN/AUTHENTICATE PLAIN accepted,
                  1 message (UIDVALIDITY 7), SEARCH/FETCH/STORE/COPY/MOVE/
                  EXPUNGE/LIST/CREATE answered sensibly, LOGOUT.
  no-starttls     cleartext greeting; CAPABILITY has LOGINDISABLED and no
                  STARTTLS; STARTTLS gets "BAD not supported"; LOGIN and
                  AUTHENTICATE get NO.
  huge-literal    login OK, SELECT: 1 EXISTS, UIDVALIDITY 7; UID SEARCH: 1;
                  a body FETCH gets "* 1 FETCH (UID 1 BODY[] {99999999999}"
                  and then nothing more (RFC822.SIZE, when asked, says 512:
                  only the literal lies). Holds until the client hangs up.
  untagged-flood  login OK; every later command is answered by an endless
                  stream of "* OK flood NNNNNNNN" lines, never a tagged
                  completion, until the client hangs up.
  slow            the greeting (and everything after it) is sent one byte
                  per second (--interval): a client needs an overall
                  deadline per line/response, a per-read timeout of more
                  than a second never fires.
  drop-mid-fetch  login OK, 3 messages (UIDs 1 2 3); a body FETCH returns
                  message 1 complete, then the first half of message 2's
                  literal, then the connection is closed (TCP FIN; with TLS
                  no close_notify).

--message FILE (repeatable) replaces the built-in messages (in order).
"""

import argparse
import os
import re
import select
import signal
import socket
import ssl
import sys
import time

HUGE = 99999999999
FLOOD_BATCH = 512


def log(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def show(data):
    """Printable form of bytes for the log (CRLF stripped)."""
    text = data.rstrip(b"\r\n").decode("latin-1")
    return "".join(c if 32 <= ord(c) < 127 else "\\x%02x" % ord(c) for c in text)


def default_message(n):
    return (
        "Return-Path: <reports@example.net>\r\n"
        "From: DMARC reports <reports@example.net>\r\n"
        "To: dmarc@example.com\r\n"
        f"Subject: fake message {n}\r\n"
        "Date: Mon, 01 Jan 2024 00:00:00 +0000\r\n"
        f"Message-ID: <fake-{n}@fake-imap.test>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n"
        f"This is fake message number {n}.\r\n"
        "It has a few lines of text so that half of it is not nothing.\r\n"
        + "".join(f"Line {i} of filler text for message {n}.\r\n" for i in range(20))
    ).encode()


class ClientGone(Exception):
    pass


class Session:
    """One client connection."""

    def __init__(self, sock, args, tls_ctx):
        self.sock = sock
        self.args = args
        self.tls_ctx = tls_ctx
        self.scenario = args.scenario
        self.buf = b""
        self.authed = False
        self.selected = False
        self.tls = isinstance(sock, ssl.SSLSocket)
        if self.scenario == "drop-mid-fetch":
            count = 3
        else:
            count = 1
        msgs = [open(p, "rb").read() for p in args.message]
        while len(msgs) < count:
            msgs.append(default_message(len(msgs) + 1))
        self.messages = msgs  # UID n = sequence number n = messages[n-1]

    # ---- I/O -------------------------------------------------------------

    def send(self, data, note=None):
        """Send bytes; log each line (or NOTE instead) as S:."""
        if self.scenario == "slow":
            self.drip(data)
        else:
            try:
                self.sock.sendall(data)
            except (OSError, ssl.SSLError) as e:
                raise ClientGone(f"send failed: {e}")
        if note is not None:
            log("S: " + note)
        else:
            for line in data.split(b"\n"):
                if line:
                    log("S: " + show(line))

    def drip(self, data):
        """Send one byte per second, noticing a client that hangs up."""
        for i in range(len(data)):
            try:
                self.sock.sendall(data[i : i + 1])
            except (OSError, ssl.SSLError) as e:
                raise ClientGone(f"send failed after {i} bytes of {show(data)!r}: {e}")
            self.wait_for_hangup(self.args.interval)

    def wait_for_hangup(self, secs):
        """Sleep SECS; raise ClientGone if the client closes meanwhile.
        Data the client sends meanwhile is kept for readline()."""
        end = time.monotonic() + secs
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            pending = self.sock.pending() if self.tls else 0
            if not pending:
                r, _, _ = select.select([self.sock], [], [], left)
                if not r:
                    return
            try:
                chunk = self.sock.recv(65536)
            except ssl.SSLWantReadError:
                continue
            except (OSError, ssl.SSLError) as e:
                raise ClientGone(f"recv failed: {e}")
            if not chunk:
                raise ClientGone("client closed the connection")
            self.buf += chunk
            for line in chunk.split(b"\n"):
                if line:
                    log("C(unprompted): " + show(line))

    def recv_more(self):
        try:
            chunk = self.sock.recv(65536)
        except (OSError, ssl.SSLError) as e:
            raise ClientGone(f"recv failed: {e}")
        if not chunk:
            raise ClientGone("client closed the connection")
        self.buf += chunk

    def readline(self):
        while b"\n" not in self.buf:
            if len(self.buf) > 1 << 20:
                raise ClientGone("line longer than 1 MiB")
            self.recv_more()
        line, self.buf = self.buf.split(b"\n", 1)
        return line + b"\n"

    def read_exact(self, n):
        while len(self.buf) < n:
            self.recv_more()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_command(self):
        """One command with its literals; returns (raw text, log text)."""
        line = self.readline()
        log("C: " + show(line))
        text = line.rstrip(b"\r\n")
        while True:
            m = re.search(rb"\{(\d+)(\+?)\}$", text)
            if not m:
                break
            n = int(m.group(1))
            if n > 1 << 20:
                raise ClientGone(f"client literal of {n} bytes refused")
            if not m.group(2):
                self.send(b"+ Ready for literal data\r\n")
            data = self.read_exact(n)
            log(f"C+: literal {n} bytes: {show(data)[:200]}")
            more = self.readline()
            log("C+: " + show(more))
            text = text[: m.start()] + b'"' + data.replace(b'"', b'\\"') + b'"' + more.rstrip(b"\r\n")
        return text.decode("latin-1")

    # ---- protocol ---------------------------------------------------------

    def capabilities(self):
        caps = ["IMAP4rev1"]
        if self.scenario == "no-starttls":
            return caps + ["LOGINDISABLED"]
        if self.args.starttls and not self.tls:
            caps += ["STARTTLS", "LOGINDISABLED"]
        else:
            caps += ["AUTH=PLAIN", "SASL-IR"]
        if self.authed:
            caps += ["UIDPLUS", "MOVE"]
        return caps

    def ok(self, tag, text="completed"):
        self.send(f"{tag} OK {text}\r\n".encode())

    def run(self):
        caps = " ".join(self.capabilities())
        if self.scenario in ("no-starttls", "slow"):
            greeting = "* OK fake IMAP server ready\r\n"
        else:
            greeting = f"* OK [CAPABILITY {caps}] fake IMAP server ready\r\n"
        self.send(greeting.encode())
        while True:
            text = self.read_command()
            parts = text.split(" ", 2)
            tag = parts[0]
            if len(parts) < 2:
                self.send(f"{tag} BAD missing command\r\n".encode())
                continue
            cmd = parts[1].upper()
            rest = parts[2] if len(parts) > 2 else ""
            if cmd == "UID":
                sub = rest.split(" ", 1)
                cmd = "UID " + sub[0].upper()
                rest = sub[1] if len(sub) > 1 else ""
            if self.handle(tag, cmd, rest) == "quit":
                return

    def handle(self, tag, cmd, rest):
        sc = self.scenario
        if cmd == "LOGOUT":
            self.send(b"* BYE logging out\r\n")
            self.ok(tag, "LOGOUT completed")
            return "quit"
        if cmd == "CAPABILITY":
            self.send(f"* CAPABILITY {' '.join(self.capabilities())}\r\n".encode())
            return self.ok(tag)
        if cmd == "NOOP":
            return self.ok(tag)
        if cmd == "STARTTLS":
            if sc == "no-starttls" or not self.args.starttls or self.tls:
                return self.send(f"{tag} BAD not supported\r\n".encode())
            self.ok(tag, "Begin TLS negotiation now")
            self.sock = self.tls_ctx.wrap_socket(self.sock, server_side=True)
            self.tls = True
            log(f"-- STARTTLS: {self.sock.version()}")
            return None
        if cmd in ("LOGIN", "AUTHENTICATE"):
            if sc == "no-starttls" or (self.args.starttls and not self.tls):
                return self.send(f"{tag} NO [PRIVACYREQUIRED] LOGIN disabled\r\n".encode())
            if cmd == "AUTHENTICATE":
                words = rest.split()
                if not words or words[0].upper() != "PLAIN":
                    return self.send(f"{tag} NO unsupported mechanism\r\n".encode())
                if len(words) < 2:
                    self.send(b"+ \r\n")
                    resp = self.readline()
                    log("C+: " + show(resp))
                    if resp.strip() == b"*":
                        return self.send(f"{tag} BAD AUTHENTICATE aborted\r\n".encode())
            self.authed = True
            caps = " ".join(self.capabilities())
            return self.ok(tag, f"[CAPABILITY {caps}] Logged in")
        if not self.authed:
            return self.send(f"{tag} BAD {cmd} not allowed before login\r\n".encode())
        if sc == "untagged-flood":
            return self.flood()
        if cmd in ("SELECT", "EXAMINE"):
            n = len(self.messages)
            self.send(
                b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
                b"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] ok\r\n"
                + f"* {n} EXISTS\r\n* 0 RECENT\r\n".encode()
                + b"* OK [UIDVALIDITY 7] UIDs valid\r\n"
                + f"* OK [UIDNEXT {n + 1}] next UID\r\n".encode()
            )
            self.selected = True
            mode = "READ-ONLY" if cmd == "EXAMINE" else "READ-WRITE"
            return self.ok(tag, f"[{mode}] {cmd} completed")
        if cmd in ("LIST", "LSUB"):
            self.send(f'* {cmd} (\\HasNoChildren) "." INBOX\r\n'.encode())
            return self.ok(tag)
        if cmd == "STATUS":
            name = rest.split(" ", 1)[0]
            n = len(self.messages)
            self.send(f"* STATUS {name} (MESSAGES {n} UIDNEXT {n + 1} UIDVALIDITY 7)\r\n".encode())
            return self.ok(tag)
        if not self.selected and (cmd.startswith("UID ") or cmd in ("FETCH", "SEARCH", "STORE", "EXPUNGE")):
            return self.send(f"{tag} BAD no mailbox selected\r\n".encode())
        if cmd in ("SEARCH", "UID SEARCH"):
            ids = " ".join(str(i) for i in range(1, len(self.messages) + 1))
            self.send(f"* SEARCH {ids}\r\n".encode())
            return self.ok(tag)
        if cmd in ("FETCH", "UID FETCH"):
            return self.fetch(tag, cmd, rest)
        if cmd in ("STORE", "UID STORE"):
            seqs = self.sequence(rest.split(" ", 1)[0])
            if "FLAGS.SILENT" not in rest.upper():
                for n in seqs:
                    self.send(f"* {n} FETCH (UID {n} FLAGS (\\Seen))\r\n".encode())
            return self.ok(tag)
        if cmd in ("COPY", "UID COPY", "MOVE", "UID MOVE"):
            seqs = self.sequence(rest.split(" ", 1)[0])
            if seqs:
                uids = ",".join(map(str, seqs))
                code = f"[COPYUID 8 {uids} {uids}] "
                if cmd.endswith("MOVE"):
                    self.send(f"* OK {code}moved\r\n".encode())
                    for n in reversed(seqs):
                        self.send(f"* {n} EXPUNGE\r\n".encode())
                    return self.ok(tag)
                return self.ok(tag, code + "completed")
            return self.ok(tag)
        return self.ok(tag)

    def sequence(self, spec):
        """Numbers from an IMAP sequence set, limited to existing messages."""
        top = len(self.messages)
        out = []
        for part in spec.split(","):
            lo, _, hi = part.partition(":")
            try:
                a = top if lo == "*" else int(lo)
                b = a if not hi else (top if hi == "*" else int(hi))
            except ValueError:
                continue
            a, b = min(a, b), max(a, b)
            out += [n for n in range(a, b + 1) if 1 <= n <= top and n not in out]
        return sorted(out)

    def fetch(self, tag, cmd, rest):
        spec, _, items = rest.partition(" ")
        items_u = items.upper()
        seqs = self.sequence(spec)
        body = re.search(r"(BODY(?:\.PEEK)?\[(HEADER|TEXT)?\]|BINARY(?:\.PEEK)?\[\]|RFC822(?:\.HEADER|\.TEXT)?(?!\.SIZE))", items_u)
        for n in seqs:
            msg = self.messages[n - 1]
            head = [f"UID {n}"]
            if "FLAGS" in items_u:
                head.append("FLAGS ()")
            if "RFC822.SIZE" in items_u:
                size = 512 if self.scenario == "huge-literal" else len(msg)
                head.append(f"RFC822.SIZE {size}")
            if "INTERNALDATE" in items_u:
                head.append('INTERNALDATE "01-Jan-2024 00:00:00 +0000"')
            if not body:
                self.send(f"* {n} FETCH ({' '.join(head)})\r\n".encode())
                continue
            item = body.group(1).replace(".PEEK", "")
            section = body.group(2)
            data = msg
            if section == "HEADER" or item == "RFC822.HEADER":
                data = msg.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
            elif section == "TEXT" or item == "RFC822.TEXT":
                data = msg.split(b"\r\n\r\n", 1)[-1]
            prefix = f"* {n} FETCH ({' '.join(head)} {item} ".encode()
            if self.scenario == "huge-literal":
                self.send(prefix + f"{{{HUGE}}}\r\n".encode())
                log("-- huge literal announced; holding the connection")
                while True:
                    self.wait_for_hangup(3600)
            if self.scenario == "drop-mid-fetch" and n == 2:
                half = data[: len(data) // 2]
                self.send(prefix + f"{{{len(data)}}}\r\n".encode() + half,
                          note=f"{show(prefix)}{{{len(data)}}} + {len(half)} of {len(data)} bytes")
                log("-- dropping the connection mid-literal")
                return "quit"
            self.send(prefix + f"{{{len(data)}}}\r\n".encode() + data + b")\r\n",
                      note=f"{show(prefix)}{{{len(data)}}} <{len(data)} bytes> )")
        return self.ok(tag)

    def flood(self):
        n = 0
        log("-- flooding untagged responses")
        try:
            while True:
                chunk = b"".join(b"* OK flood %08d\r\n" % (n + i) for i in range(FLOOD_BATCH))
                try:
                    self.sock.sendall(chunk)
                except (OSError, ssl.SSLError) as e:
                    raise ClientGone(f"send failed: {e}")
                n += FLOOD_BATCH
        finally:
            log(f"S: <{n} flood lines sent>")


def close_quietly(sock):
    """Close without a TLS close_notify: TCP FIN (shutdown for writing),
    then discard what the client still sends (2 s at most, so that close()
    does not turn into a RST that could destroy data the client has not
    read yet), then close."""
    try:
        if isinstance(sock, ssl.SSLSocket):
            sock = socket.socket(fileno=sock.detach())
        sock.shutdown(socket.SHUT_WR)
        end = time.monotonic() + 2
        while time.monotonic() < end:
            r, _, _ = select.select([sock], [], [], end - time.monotonic())
            if not r or not sock.recv(65536):
                break
    except OSError:
        pass
    sock.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", required=True,
                    choices=["ok", "no-starttls", "huge-literal", "untagged-flood", "slow", "drop-mid-fetch"])
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--starttls", action="store_true")
    ap.add_argument("--connections", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--message", action="append", default=[])
    ap.add_argument("--interval", type=float, default=1.0, help="slow: seconds between bytes")
    args = ap.parse_args()

    if not args.host.startswith("127."):
        ap.error("--host must be in 127.0.0.0/8")
    if bool(args.tls_cert) != bool(args.tls_key):
        ap.error("--tls-cert and --tls-key go together")
    if args.starttls and not args.tls_cert:
        ap.error("--starttls needs --tls-cert/--tls-key")
    timeout = min(max(args.timeout, 1), 60)

    def on_alarm(signum, frame):
        log(f"-- timeout: exiting after {timeout:g} s")
        os._exit(0)

    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda s, f: (log("-- killed (SIGTERM)"), os._exit(0)))

    tls_ctx = None
    if args.tls_cert:
        tls_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls_ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        tls_ctx.load_cert_chain(args.tls_cert, args.tls_key)

    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind((args.host, 0))
    srv.listen(4)
    port = srv.getsockname()[1]
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{port}\n")
    os.replace(tmp, args.port_file)
    mode = "starttls" if args.starttls else ("tls" if tls_ctx else "plain")
    log(f"-- fake_imap {args.scenario} ({mode}) listening on {args.host}:{port}")

    for i in range(args.connections):
        conn, peer = srv.accept()
        log(f"-- connection {i + 1} from {peer[0]}:{peer[1]}")
        try:
            sock = conn
            if tls_ctx and not args.starttls:
                conn.settimeout(10)
                try:
                    sock = tls_ctx.wrap_socket(conn, server_side=True)
                except (OSError, ssl.SSLError) as e:
                    log(f"-- TLS handshake failed: {e}")
                    close_quietly(conn)
                    continue
                log(f"-- TLS handshake done: {sock.version()}")
            sock.settimeout(None)
            session = Session(sock, args, tls_ctx)
            try:
                session.run()
                log("-- server closing the connection")
            except ClientGone as e:
                log(f"-- client gone: {e}")
            except ssl.SSLError as e:
                log(f"-- TLS error: {e}")
            close_quietly(session.sock)
        except Exception as e:  # keep serving / exit cleanly on bugs
            log(f"-- error: {type(e).__name__}: {e}")
            conn.close()
    log("-- done")
    srv.close()


if __name__ == "__main__":
    main()
