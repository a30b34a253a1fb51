"""A small W3C WebDriver client for chromedriver + headless Chromium, using
only the Python standard library.

    with Browser(workdir, width=1366, height=900) as b:
        b.navigate(Path(page).resolve().as_uri())
        title = b.execute("return document.title")

Browser starts chromedriver on a free port of 127.0.0.1, in its own process
group (so that Chromium, its child, goes with it), creates one session and,
on exit, deletes the session and kills the whole group. The client talks to
127.0.0.1 only, without any proxy from the environment; every HTTP request
has a timeout. chromedriver logs to WORKDIR/chromedriver[-NAME].log.
"""
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

HTTP_TIMEOUT = 30
# No ProxyHandler settings from the environment: 127.0.0.1 directly.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class WebDriverError(Exception):
    pass


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(method, url, body=None, timeout=HTTP_TIMEOUT):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json; charset=utf-8"})
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            v = json.loads(raw)["value"]
            msg = f"{v.get('error')}: {v.get('message', '').splitlines()[0] if v.get('message') else ''}"
        except (ValueError, KeyError, TypeError, AttributeError):
            msg = raw[:300].decode("utf-8", "replace")
        raise WebDriverError(f"{method} {url.split('/', 3)[-1]} -> HTTP {e.code}: {msg}") from None
    return json.loads(raw)["value"] if raw else None


def _group_alive(pgid):
    """Whether process group PGID has a process that is not a zombie (the
    killed Chromium processes wait for PID 1 to reap them, sometimes for 2 s)."""
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        pids = None
    if pids is None:
        try:
            os.killpg(pgid, 0)
            return True
        except ProcessLookupError:
            return False
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":  # state, ppid, pgrp
            return True
    return False


class Browser:
    def __init__(self, workdir, width=1366, height=900, prefs=None, name="",
                 chromedriver="/usr/bin/chromedriver", chromium="/usr/bin/chromium",
                 start_timeout=30):
        self.workdir = os.path.abspath(workdir)
        self.width, self.height = width, height
        self.prefs = prefs
        self.name = name
        self.chromedriver, self.chromium = chromedriver, chromium
        self.start_timeout = start_timeout
        self.proc = None
        self.session = None
        self.profile = None

    # -- lifecycle ---------------------------------------------------------

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def start(self):
        os.makedirs(self.workdir, exist_ok=True)
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        log = os.path.join(self.workdir, f"chromedriver{'-' + self.name if self.name else ''}.log")
        self.proc = subprocess.Popen(
            [self.chromedriver, f"--port={port}", "--allowed-ips=127.0.0.1", f"--log-path={log}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self.proc.poll() is not None:
                raise WebDriverError(f"chromedriver exited with {self.proc.returncode}; see {log}")
            try:
                if _request("GET", self.base + "/status", timeout=2).get("ready"):
                    break
            except (OSError, ValueError, WebDriverError):
                pass
            if time.monotonic() > deadline:
                raise WebDriverError(f"chromedriver not ready within {self.start_timeout} s; see {log}")
            time.sleep(0.1)
        self.profile = tempfile.mkdtemp(prefix="profile-", dir=self.workdir)
        options = {
            "binary": self.chromium,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--disable-quic", f"--user-data-dir={self.profile}",
                     f"--window-size={self.width},{self.height}"],
        }
        if self.prefs:
            options["prefs"] = self.prefs
        caps = {"browserName": "chrome", "goog:chromeOptions": options,
                "goog:loggingPrefs": {"browser": "ALL"}}
        value = _request("POST", self.base + "/session",
                         {"capabilities": {"alwaysMatch": caps}}, timeout=60)
        self.session = value["sessionId"]
        self.capabilities = value.get("capabilities", {})

    def close(self):
        if self.session:
            try:
                _request("DELETE", self._url(""), timeout=10)
            except (OSError, ValueError, WebDriverError):
                pass
            self.session = None
        if self.proc:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=5)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                pass
            try:  # anything left in the group (Chromium helpers)
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            if self.proc.returncode is None:
                self.proc.wait(timeout=5)
            deadline = time.monotonic() + 3
            while _group_alive(self.proc.pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            self.proc = None
        if self.profile:
            shutil.rmtree(self.profile, ignore_errors=True)
            self.profile = None

    quit = close

    # -- commands ----------------------------------------------------------

    def _url(self, path):
        return f"{self.base}/session/{self.session}{path}"

    def cmd(self, method, path, body=None):
        return _request(method, self._url(path), body)

    def navigate(self, url):
        return self.cmd("POST", "/url", {"url": url})

    def execute(self, script, *args):
        """Runs SCRIPT as a function body (use `return`); args as arguments[i]."""
        return self.cmd("POST", "/execute/sync", {"script": script, "args": list(args)})

    def execute_async(self, script, *args):
        """Like execute; the script calls arguments[arguments.length - 1](value)."""
        return self.cmd("POST", "/execute/async", {"script": script, "args": list(args)})

    def click(self, css):
        """element.click() on the first match of CSS; False if none matched."""
        return self.execute("const e = document.querySelector(arguments[0]);"
                            "if (!e) return false; e.click(); return true;", css)

    def screenshot(self, path, full_page=False):
        """The viewport as PNG; full_page: the whole document (through CDP)."""
        if full_page:
            w, h = self.execute("const d = document.documentElement;"
                                "return [d.scrollWidth, d.scrollHeight];")
            png = base64.b64decode(self.cdp("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": w, "height": h, "scale": 1}})["data"])
        else:
            png = base64.b64decode(self.cmd("GET", "/screenshot"))
        with open(path, "wb") as f:
            f.write(png)
        return png

    def print_pdf(self, path, **params):
        pdf = base64.b64decode(self.cmd("POST", "/print", params))
        with open(path, "wb") as f:
            f.write(pdf)
        return pdf

    def browser_log(self):
        """The console entries since the last call: [{level, message, ...}]."""
        try:
            return self.cmd("POST", "/se/log", {"type": "browser"})
        except WebDriverError:
            return self.cmd("GET", "/log")

    def cdp(self, cmd, params=None):
        return self.cmd("POST", "/goog/cdp/execute", {"cmd": cmd, "params": params or {}})

    def set_window_rect(self, width, height):
        return self.cmd("POST", "/window/rect", {"width": width, "height": height})
