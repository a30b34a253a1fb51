#!/usr/bin/env python3
"""Checks a `dmarq html` page in headless Chromium through chromedriver.

  check_page.py --page FILE.html --readiness DOMAIN=JSONFILE [--readiness ...]
                [--injected TEXT] [--artifacts DIR]
                [--chromedriver PATH] [--chromium PATH]

JSONFILE is the output of `dmarq readiness --format json` for DOMAIN. Prints
"ok: CHECK" or "FAIL: CHECK: why" per check and leaves desktop-light.png,
desktop-dark.png, phone.png, report.pdf and the chromedriver logs in DIR (a
temporary directory, removed afterwards, without --artifacts).
Exit status: 0 all checks passed, 1 a check failed, 2 the harness itself
failed (chromedriver, WebDriver errors), 77 chromedriver or chromium missing.
"""
import argparse
import json
import os
import re
import shutil
import sys
import tempfile
from itertools import zip_longest
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from webdriver import Browser, WebDriverError  # noqa: E402

NO_JS = {"profile.managed_default_content_settings.javascript": 2}
SIGNATURES = {"png": b"\x89PNG\r\n\x1a\n", "pdf": b"%PDF"}


class Fail(Exception):
    pass


def fail_if(problems, prefix=""):
    lines = [prefix + p for p in problems]
    if lines:
        raise Fail(lines[0] if len(lines) == 1 else "\n  " + "\n  ".join(lines))


def expected_values(r):
    s, d = r["spf_all"], r["dmarc_enforce"]
    ready = lambda b: "ready" if b else "not ready"  # noqa: E731
    pct = "-" if d["messages"] == 0 else format(100 * d["passes"] / d["messages"], ".1f")
    kv = {"messages": d["messages"], "reports": r["reports"], "p": r["p"], "verdict": r["verdict"],
          "spf-passes": s["passes"], "spf-safe": s["safe_dkim"], "spf-known-fail": s["known_fail"],
          "spf-unknown-fail": s["unknown_fail"], "spf-total": s["messages"],
          "dmarc-passes": d["passes"], "dmarc-safe": d["spared_override"],
          "dmarc-known-fail": d["known_fail"], "dmarc-unknown-fail": d["unknown_fail"],
          "dmarc-total": d["messages"], "dmarc-pass-pct": pct,
          "spf-verdict": ready(r["spf_ready"]), "dmarc-verdict": ready(r["dmarc_ready"])}
    return {k: str(v) for k, v in kv.items()}


DOMAIN_JS = """
const secs = [...document.querySelectorAll('section.domain')]
  .filter(s => s.getAttribute('data-domain') === arguments[0]);
if (secs.length !== 1) return {count: secs.length};
const kv = {};
secs[0].querySelectorAll('[data-k]').forEach(e =>
  (kv[e.getAttribute('data-k')] ||= []).push(e.getAttribute('data-v')));
const actions = [...secs[0].querySelectorAll('ol.actions > li')].map(li => li.textContent);
return {count: 1, kv, actions};
"""


def check_domain(b, domain, report, keys=None):
    got = b.execute(DOMAIN_JS, domain)
    if got["count"] != 1:
        raise Fail(f'{got["count"]} section.domain[data-domain="{domain}"] (want 1)')
    want, bad = expected_values(report), []
    for k in keys or want:
        vs = got["kv"].get(k, [])
        bad += [f"[data-k={k}] data-v={v!r}, want {want[k]!r}" for v in vs if v != want[k]]
        bad += [] if vs else [f"no [data-k={k}] element, want data-v={want[k]!r}"]
    if keys is None:
        collapse = lambda t: re.sub(r"\s+", " ", t).strip()  # noqa: E731
        acts = zip_longest(map(collapse, got["actions"]), map(collapse, report["actions"]))
        bad += [f"ol.actions > li {i}: {a!r}\n    want {w!r}" for i, (a, w) in enumerate(acts, 1) if a != w]
    fail_if(bad)


def check_console(b):
    fail_if([f'[{e.get("source")}] {e.get("message")}'
             for e in b.browser_log() if e.get("level") == "SEVERE"])


def check_network(b):
    urls = b.execute("return performance.getEntriesByType('resource').map(e => e.name)")
    fail_if([u for u in urls if not u.startswith(("data:", "file:"))], "fetched ")


def check_contract(b):
    m = b.execute("""return {
      viewport: !!document.querySelector('meta[name=viewport][content*="width=device-width"]'),
      scheme: !!document.querySelector('meta[name=color-scheme]'), scripts: document.scripts.length,
      external: [...document.querySelectorAll('script[src], link[href], iframe, object, embed')]
        .filter(e => !/^data:/.test(e.getAttribute('src') || e.getAttribute('href') || ''))
        .map(e => e.outerHTML.slice(0, 100))};""")
    fail_if(([] if m["viewport"] else ["no <meta name=viewport content=width=device-width...>"])
            + ([] if m["scheme"] else ["no <meta name=color-scheme>"])
            + ([f'{m["scripts"]} <script> elements (at most 1)'] if m["scripts"] > 1 else [])
            + [f"external reference: {e}" for e in m["external"]])


def check_injected(b, text):
    r = b.execute("""return {defined: typeof window.__dmarqInjected !== 'undefined',
      shown: document.body.textContent.includes(arguments[0]),
      scripts: [...document.scripts].filter(s => s.textContent.includes('dmarqInjected') &&
        s.parentElement !== document.head && s.parentElement !== document.body)
        .map(s => s.outerHTML.slice(0, 100)),
      handlers: [...document.querySelectorAll('*')].flatMap(e => [...e.attributes]
        .filter(a => /^on/i.test(a.name) && a.value.includes('dmarqInjected'))
        .map(a => `<${e.localName} ${a.name}=...>`))};""", text)
    fail_if((["window.__dmarqInjected is defined: the injected markup ran"] if r["defined"] else [])
            + ([] if r["shown"] else [f"body text does not contain {text!r}"])
            + [f"injected script element: {s}" for s in r["scripts"]]
            + [f"injected event handler: {h}" for h in r["handlers"]])


# Against the layout viewport (clientWidth: innerWidth without the scroll bar):
# with mobile emulation innerWidth grows to fit content that is too wide.
OVERFLOW_JS = """
const w = document.documentElement.clientWidth, sw = document.documentElement.scrollWidth;
if (sw <= w + 1) return [];
const right = e => e.getBoundingClientRect().right, clipped = e => {
  for (let p = e.parentElement; p && p !== document.body; p = p.parentElement)
    if (getComputedStyle(p).overflowX !== 'visible') return true;
  return false; };
return [`page scrolls sideways: scrollWidth ${sw} > viewport width ${w}`].concat([...document.body.querySelectorAll('*')]
  .filter(e => right(e) > w + 1 && right(e.parentElement) <= w + 1 && !clipped(e)).slice(0, 3)
  .map(e => `${e.outerHTML.slice(0, e.outerHTML.indexOf('>') + 1).slice(0, 100)} ends at ${Math.round(right(e))} px`));
"""


def check_no_hscroll(b):
    fail_if(b.execute(OVERFLOW_JS))


def check_phone(b, png):
    b.cdp("Emulation.setDeviceMetricsOverride",
          {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True})
    settle(b)
    b.screenshot(png)
    w = b.execute("return document.documentElement.clientWidth")
    fail_if([f"layout viewport {w} px wide on a 390 px phone: no viewport meta tag?"] if w != 390 else [])
    check_no_hscroll(b)


def settle(b):  # two animation frames: style, layout and paint are done
    b.execute_async("requestAnimationFrame(() => requestAnimationFrame(arguments[0]))")


def check_scheme(b, scheme, png):
    b.cdp("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": scheme}]})
    settle(b)
    b.screenshot(png, full_page=True)
    color = b.execute("return getComputedStyle(document.body).backgroundColor")
    m = re.fullmatch(r"rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)", color)
    if not m or (m.group(4) is not None and float(m.group(4)) == 0):
        raise Fail(f"body background-color {color!r} is transparent or not rgb()/rgba()")
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
           for c in (float(m.group(i)) / 255 for i in (1, 2, 3))]
    lum = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    if (lum >= 0.2) if scheme == "dark" else (lum <= 0.8):
        raise Fail(f"body background {color} has luminance {lum:.3f}, want "
                   + ("< 0.2" if scheme == "dark" else "> 0.8"))
    return f"{color}, luminance {lum:.3f}"


SORT_PICK_JS = """
const tables = [...document.querySelectorAll('table.sortable')];
const ti = tables.findIndex(t => t.tBodies.length && t.tBodies[0].rows.length >= 2);
if (ti < 0) return null;
const ths = [...tables[ti].querySelectorAll('th')], nums = ths.filter(th => th.dataset.sort === 'num');
const col = th => [...tables[ti].tBodies[0].rows].map(r => r.cells[th.cellIndex]?.getAttribute('data-v'));
const th = nums.find(th => new Set(col(th)).size > 1) || nums[0];
return {ti, hi: ths.indexOf(th), label: th?.textContent.trim(), cls: tables[ti].className};
"""
SORT_CLICK_JS = """
const t = document.querySelectorAll('table.sortable')[arguments[0]], th = t.querySelectorAll('th')[arguments[1]];
(th.querySelector('button') || th).click();
return [...t.tBodies[0].rows].map(r => r.cells[th.cellIndex]?.getAttribute('data-v') ?? null);
"""


def check_sorting(b):
    pick = b.execute(SORT_PICK_JS)
    if pick is None:
        raise Fail("no table.sortable with at least 2 body rows")
    name = f'table.{pick["cls"].replace(" ", ".")} column "{pick["label"]}"'
    if pick["hi"] < 0:
        raise Fail(f'table.{pick["cls"]}: no th[data-sort=num]')

    def click():
        raw = b.execute(SORT_CLICK_JS, pick["ti"], pick["hi"])
        try:
            return [float(v) for v in raw]
        except (TypeError, ValueError):
            raise Fail(f"{name}: body cells without a numeric data-v: {raw}") from None

    asc = lambda v: all(x <= y for x, y in zip(v, v[1:]))  # noqa: E731
    desc = lambda v: all(x >= y for x, y in zip(v, v[1:]))  # noqa: E731
    first = click()
    if not (asc(first) or desc(first)):
        raise Fail(f"{name}: not ordered after one click: {first}")
    second = click()
    if second != first[::-1]:
        raise Fail(f"{name}: second click did not reverse the order: {first} then {second}")
    if len(set(first)) < 2:
        return f"{name}: WARNING all values equal, the order is not really tested"
    return f'{name}: {"ascending" if asc(first) else "descending"} then reversed'


def check_pdf(b, path):
    fail_if([] if b.print_pdf(path).startswith(b"%PDF") else ["print did not return a PDF"])


def check_no_js(args, work, readiness):
    with Browser(work, prefs=NO_JS, name="nojs", chromedriver=args.chromedriver,
                 chromium=args.chromium) as b:
        probe = Path(work, "jsprobe.html")
        probe.write_text("<!DOCTYPE html><title>off</title><script>document.title='on'</script>")
        b.navigate(probe.as_uri())
        probe.unlink()
        if b.execute("return document.title") != "off":
            raise Fail("the no-JavaScript session runs scripts: cannot test it")
        b.navigate(Path(args.page).resolve().as_uri())
        for domain, report in readiness.items():
            check_domain(b, domain, report, keys=["messages"])
        if b.execute("return document.querySelectorAll('table').length") == 0:
            raise Fail("no <table> without JavaScript")


def check_artifacts(work):
    bad = []
    for name in ("desktop-light.png", "desktop-dark.png", "phone.png", "report.pdf"):
        p = Path(work, name)
        data = p.read_bytes() if p.is_file() else b""
        if not data.startswith(SIGNATURES[p.suffix[1:]]) or len(data) <= 1000:
            bad.append(f"{p}: missing, not a {p.suffix[1:].upper()} or <= 1000 bytes")
    fail_if(bad)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--page", required=True)
    ap.add_argument("--readiness", action="append", default=[], metavar="DOMAIN=JSONFILE")
    ap.add_argument("--injected", metavar="TEXT")
    ap.add_argument("--artifacts", metavar="DIR")
    ap.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()
    readiness = {}
    for spec in args.readiness:
        domain, sep, path = spec.partition("=")
        if not sep:
            ap.error(f"--readiness {spec}: want DOMAIN=JSONFILE")
        try:
            readiness[domain] = json.loads(Path(path).read_text())
        except (OSError, ValueError) as e:
            ap.error(f"--readiness {spec}: {e}")
    if not Path(args.page).is_file():
        ap.error(f"no page {args.page}")
    for tool in (args.chromedriver, args.chromium):
        if not os.access(tool, os.X_OK):
            print(f"skip: {tool} is not installed")
            return 77
    work = args.artifacts or tempfile.mkdtemp(prefix="check-page-")
    os.makedirs(work, exist_ok=True)
    art = lambda name: os.path.join(work, name)  # noqa: E731
    failed = []

    def run(name, fn, *a):
        try:
            note = fn(*a)
            print(f"ok: {name}" + (f" ({note})" if note else ""), flush=True)
        except Fail as e:
            print(f"FAIL: {name}:{'' if str(e).startswith(chr(10)) else ' '}{e}", flush=True)
            failed.append(name)

    try:
        with Browser(work, 1366, 900, chromedriver=args.chromedriver, chromium=args.chromium) as b:
            b.navigate(Path(args.page).resolve().as_uri())
            run("no console errors on load", check_console, b)
            run("nothing fetched from the network", check_network, b)
            run("page contract (meta tags, one inline script, no external refs)", check_contract, b)
            for domain, report in readiness.items():
                run(f"readiness numbers and actions of {domain}", check_domain, b, domain, report)
            if args.injected is not None:
                run("injected org name shown as text, not run", check_injected, b, args.injected)
            run("no horizontal scroll at 1366x900", check_no_hscroll, b)
            run("dark color scheme", check_scheme, b, "dark", art("desktop-dark.png"))
            run("light color scheme", check_scheme, b, "light", art("desktop-light.png"))
            b.cdp("Emulation.setEmulatedMedia", {"features": []})
            run("no horizontal scroll at 390x844 (phone)", check_phone, b, art("phone.png"))
            b.cdp("Emulation.clearDeviceMetricsOverride")
            run("sorting a table", check_sorting, b)
            run("no console errors after sorting", check_console, b)
            run("print to PDF", check_pdf, b, art("report.pdf"))
        run("server-rendered without JavaScript", check_no_js, args, work, readiness)
        run("artifacts", check_artifacts, work)
    except (WebDriverError, OSError) as e:
        print(f"error: {e}")
        return 2
    finally:
        if not args.artifacts:
            shutil.rmtree(work, ignore_errors=True)
    if failed:
        print(f"{len(failed)} check(s) failed: {', '.join(failed)}")
        return 1
    print("all checks passed" + (f"; artifacts in {work}" if args.artifacts else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
