#!/usr/bin/env python3
"""livecdn multi-region lab: regions as network namespaces on one Linux machine, delay and loss
between them, a real cluster in them, a test stream, measurements and a fault run.

    sudo python3 deploy/lab/lab.py measure [--duration 60]   # latency report
    sudo python3 deploy/lab/lab.py faults                    # fault run
    sudo python3 deploy/lab/lab.py all                       # both, one cluster
    sudo python3 deploy/lab/lab.py --cleanup                 # leftovers of a crashed run

Stdlib only (Python 3.11). See deploy/lab/README.md for the topology and the reports.
"""

import argparse
import datetime
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import labclients as lc  # noqa: E402
import labnet  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
README = os.path.join(HERE, "README.md")

REGIONS = {"eu": 1, "us": 2, "ap": 3}
# Round-trip time (ms) and loss per direction, between regions (symmetric).
MATRIX = {("eu", "us"): (80, 0.005), ("us", "ap"): (60, 0.01), ("eu", "ap"): (150, 0.02)}
STREAM, STREAM_KEY = "lab", "lab-key"
NODE_TOKEN, ADMIN_TOKEN, CHAT_SECRET = "lab-node-token", "lab-admin-token", "lab-chat-secret"
CERT_NODES = ["origin", "edge-eu", "edge-us", "edge-ap"]
EDGES = [("edge-eu", "eu", 1), ("edge-us", "us", 1), ("edge-ap", "ap", 2)]
RELAYS = [("chat-eu", "eu"), ("chat-us", "us")]
CP_PORT, ORIGIN_HTTP, RTMP, EDGE_PORT, CHAT_PORT = 8000, 8080, 1935, 8081, 8091
TEST_SOURCES = ["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
                "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
TEST_ENCODING = ["-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency",
                 "-g", "25", "-keyint_min", "25", "-sc_threshold", "0", "-b:v", "800k",
                 "-c:a", "aac", "-b:a", "96k"]


class Interrupted(Exception):
    pass


def addr(region):
    return labnet.node_addr(REGIONS[region])


CP_URL = f"http://{addr('eu')}:{CP_PORT}"


def say(text):
    print(f"[lab {time.strftime('%H:%M:%S')}] {text}", flush=True)


# --- processes ---

class Proc:
    def __init__(self, name, ns, popen, log_path):
        self.name, self.ns, self.popen, self.log_path = name, ns, popen, log_path

    @property
    def pid(self):
        return self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def stdout_line(self, timeout):
        import select
        ready, _, _ = select.select([self.popen.stdout], [], [], timeout)
        return self.popen.stdout.readline().strip() if ready else None

    def send_line(self, line):
        self.popen.stdin.write(line + "\n")
        self.popen.stdin.flush()

    def log_tail(self, n=15):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""


class Lab:
    """Owns everything the run creates: namespaces, processes (by PID), the temp dir."""

    def __init__(self, binary, impair, run_note=""):
        self.binary = binary
        self.run_note = run_note
        self.clip = None  # a pre-encoded test stream (pre_encode), else encode live
        self.tmp = tempfile.mkdtemp(prefix=f"{labnet.PREFIX}-")
        os.makedirs(os.path.join(self.tmp, "logs"))
        self.procs = {}
        self.net = labnet.Network(REGIONS, MATRIX, impair, self)
        self.closed = False

    def note(self):
        """The operator's description of the machine (and a pre-encoded publisher), for the
        reports' Run line."""
        notes = [self.run_note] if self.run_note else []
        if self.clip:
            notes.append("publisher: a pre-encoded clip looped with stream copy")
        return f" ({'; '.join(notes)})" if notes else ""

    def spawn(self, name, ns, argv, stdin=None):
        log_path = os.path.join(self.tmp, "logs", f"{name}.log")
        log = open(log_path, "ab")
        piped = stdin is not None  # the router: line protocol on stdin/stdout
        popen = subprocess.Popen(
            ["ip", "netns", "exec", ns, *argv], stdin=stdin or subprocess.DEVNULL,
            stdout=subprocess.PIPE if piped else log, stderr=log, text=piped or None,
            preexec_fn=labnet.die_with_parent, start_new_session=True, cwd=self.tmp)
        log.close()
        proc = Proc(name, ns, popen, log_path)
        self.procs[name] = proc
        return proc

    def stop(self, name, sig=signal.SIGTERM, timeout=5.0):
        proc = self.procs.get(name)
        if proc is None or not proc.alive():
            return
        try:
            os.kill(proc.pid, sig)
            proc.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.popen.wait(5)
        except ProcessLookupError:
            pass

    def close(self, keep_logs=None):
        if self.closed:
            return
        self.closed = True
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        say("cleaning up: processes (by PID), namespaces, temp dir")
        for proc in self.procs.values():  # SIGTERM all, then wait: the drains overlap
            if proc.alive():
                try:
                    os.kill(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.time() + 6
        for proc in self.procs.values():
            try:
                proc.popen.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.popen.wait(5)
        self.net.destroy()
        if keep_logs:
            shutil.copytree(os.path.join(self.tmp, "logs"), keep_logs, dirs_exist_ok=True)
            say(f"logs copied to {keep_logs}")
        shutil.rmtree(self.tmp, ignore_errors=True)
        left = labnet.lab_namespaces()
        if left:
            say(f"WARNING: namespaces left behind: {left} (run --cleanup)")

    # --- the cluster ---

    def write(self, name, text):
        path = os.path.join(self.tmp, f"{name}.toml")
        with open(path, "w") as f:
            f.write(text)
        return path

    def certs(self):
        certs = os.path.join(self.tmp, "certs")
        args = [self.binary, "certs", "--out", certs]
        for n in CERT_NODES:
            args += ["--node", n]
        subprocess.run(args, check=True, capture_output=True, timeout=60)
        return certs

    def start_cluster(self):
        certs = self.certs()
        db = f"sqlite://{self.tmp}/lab.db"
        common = '[log]\nlevel = "info"\n[shutdown]\ndrain_deadline = "2s"\n'
        control = f'[control]\nurl = "{CP_URL}"\ntoken = "{NODE_TOKEN}"\n'

        def tls(node):
            return (f'[tls]\nca = "{certs}/ca.pem"\ncert = "{certs}/{node}.pem"\n'
                    f'key = "{certs}/{node}.key"\n')

        distances = "".join(f'[[routing.distances]]\na = "{a}"\nb = "{b}"\ndistance = {rtt}\n'
                            for (a, b), (rtt, _) in MATRIX.items())
        cidrs = "".join(f'[[routing.cidrs]]\ncidr = "{labnet.NET}.{i}.0/24"\nregion = "{r}"\n'
                        for r, i in REGIONS.items())
        self.run_node("control-plane", "eu", "control-plane", CP_PORT, (
            f'[node]\nid = "control-plane"\nregion = "eu"\n'
            f'[http]\nlisten = "{addr("eu")}:{CP_PORT}"\n[database]\nurl = "{db}"\n'
            f'[auth]\nadmin_tokens = ["{ADMIN_TOKEN}"]\nnode_tokens = ["{NODE_TOKEN}"]\n'
            f'[chat]\ntoken_secret = "{CHAT_SECRET}"\nguest_tokens = true\n'
            f'[routing]\ndefault_region = "eu"\n{distances}{cidrs}{common}'))
        self.wait_ready(["control-plane"])
        self.run_node("origin", "eu", "origin", ORIGIN_HTTP, (
            f'[node]\nid = "origin"\nregion = "eu"\n'
            f'[http]\nlisten = "{addr("eu")}:{ORIGIN_HTTP}"\n'
            f'[rtmp]\nlisten = "{addr("eu")}:{RTMP}"\n'
            f'[relay]\nlisten = "{addr("eu")}:{ORIGIN_HTTP}"\n'
            f'[[streams]]\nname = "{STREAM}"\nkey = "{STREAM_KEY}"\n'
            f'{control}tier = 0\n{tls("origin")}{common}'))
        for name, region in RELAYS:
            self.run_node(name, region, "chat-relay", CHAT_PORT, (
                f'[node]\nid = "{name}"\nregion = "{region}"\n'
                f'[http]\nlisten = "{addr(region)}:{CHAT_PORT}"\n'
                f'[chat]\ntoken_secret = "{CHAT_SECRET}"\n[database]\nurl = "{db}"\n'
                f'{control}{common}'))
        for name, region, tier in EDGES:
            listen = f'listen = "{addr(region)}:{EDGE_PORT}"\n' if tier == 1 else ""
            self.run_node(name, region, "edge", EDGE_PORT, (
                f'[node]\nid = "{name}"\nregion = "{region}"\n'
                f'[http]\nlisten = "{addr(region)}:{EDGE_PORT}"\n[relay]\n{listen}'
                f'{control}tier = {tier}\n{tls(name)}{common}'))
        self.wait_ready([n for n, *_ in EDGES] + [n for n, _ in RELAYS] + ["origin"])

    def run_node(self, name, region, role, port, config):
        path = self.write(name, config)
        proc = self.spawn(name, labnet.ns_name(region), [self.binary, role, "--config", path])
        proc.port, proc.region, proc.role, proc.config = port, region, role, path
        return proc

    def restart_node(self, name):
        old = self.procs[name]
        proc = self.spawn(name, old.ns, [self.binary, old.role, "--config", old.config])
        proc.port, proc.region, proc.role, proc.config = old.port, old.region, old.role, old.config
        return proc

    def url(self, name, path=""):
        p = self.procs[name]
        return f"http://{addr(p.region)}:{p.port}{path}"

    def get(self, name, path, timeout=5):
        p = self.procs[name]
        return lc.in_ns(p.ns, lc.http_get, self.url(name, path), timeout, timeout=timeout + 5)

    def wait_ready(self, names, timeout=40):
        deadline = time.time() + timeout
        for name in names:
            while True:
                proc = self.procs[name]
                if not proc.alive():
                    raise RuntimeError(f"{name} exited ({proc.popen.returncode}):\n"
                                       f"{proc.log_tail()}")
                try:
                    if self.get(name, "/readyz", timeout=2)[0] == 200:
                        break
                except OSError:
                    pass
                if time.time() > deadline:
                    raise RuntimeError(f"{name} not ready after {timeout}s:\n{proc.log_tail()}")
                time.sleep(0.3)

    def pre_encode(self, seconds):
        """Encodes `seconds` of the test stream to a file once, for `publish` to loop with
        stream copy: for machines (a VM under software emulation) too slow to run libx264 in
        real time beside the cluster. Runs before any namespace exists; touches only the temp
        dir."""
        path = os.path.join(self.tmp, "clip.flv")
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", *TEST_SOURCES,
                        "-t", str(seconds), *TEST_ENCODING, "-f", "flv", path],
                       check=True, capture_output=True, timeout=600,
                       preexec_fn=labnet.die_with_parent)
        self.clip = path

    def publish(self):
        """The test stream: 25 fps, a keyframe every 25 frames (1 s segments), AAC; encoded
        live, or the pre-encoded clip looped in real time (`-re`, stream copy)."""
        source = (["-re", "-stream_loop", "-1", "-i", self.clip, "-c", "copy"] if self.clip
                  else ["-re", *TEST_SOURCES, *TEST_ENCODING])
        return self.spawn("ffmpeg", labnet.ns_name("eu"), [
            "ffmpeg", "-hide_banner", "-loglevel", "error", *source,
            "-f", "flv", f"rtmp://{addr('eu')}:{RTMP}/live/{STREAM_KEY}"])

    def wait_live(self, timeout=30):
        """Until /v1/play answers for the stream from every region."""
        deadline = time.time() + timeout
        for region in REGIONS:
            while True:
                try:
                    status = lc.in_ns(labnet.ns_name(region), lc.http_get,
                                      f"{CP_URL}/v1/play/{STREAM}", 3, timeout=10)[0]
                    if status == 302:
                        break
                except OSError:
                    pass
                if time.time() > deadline:
                    raise RuntimeError(f"stream not live for {region} after {timeout}s:\n"
                                       f"{self.procs['ffmpeg'].log_tail()}"
                                       f"{self.procs['origin'].log_tail()}")
                time.sleep(0.5)

    def scrape(self, name):
        status, _, body = self.get(name, "/metrics")
        return lc.parse_metrics(body.decode()) if status == 200 else {}


def start_viewers(stop, stall_s=2.0):
    viewers = {r: lc.Viewer(r, labnet.ns_name(r), CP_URL, STREAM, stop, stall_s) for r in REGIONS}
    for v in viewers.values():
        v.start()
    return viewers


def wait_for(cond, timeout, step=0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(step)
    return cond()


def cpu_pressure(since=None):
    """The PSI `some` total (µs) now, or, given an earlier reading, the share since then."""
    try:
        with open("/proc/pressure/cpu") as f:
            total = int(re.search(r"some .*total=(\d+)", f.read()).group(1))
    except (OSError, AttributeError):
        return None if since is None else "not available"
    if since is None:
        return (time.time(), total)
    if not isinstance(since, tuple):
        return "not available"
    return f"{(total - since[1]) / 1e6 / (time.time() - since[0]) * 100:.0f} %"


def log_events(proc, since, *needles):
    """(seconds after `since`, message) for the log lines of `proc` containing a needle."""
    out = []
    try:
        with open(proc.log_path, errors="replace") as f:
            for line in f:
                line = re.sub(r"\x1b\[[0-9;]*m", "", line)
                m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?)Z\s+\w+\s+(.*)", line)
                if not m or not any(n in line for n in needles):
                    continue
                t = datetime.datetime.fromisoformat(m.group(1)).replace(
                    tzinfo=datetime.timezone.utc).timestamp()
                if t >= since:
                    out.append((t - since, m.group(3).strip()))
    except OSError:
        pass
    return out


def playlist_state(lab, edge):
    """(MEDIA-SEQUENCE, DISCONTINUITY-SEQUENCE, has EXT-X-DISCONTINUITY) of an edge, or an error."""
    try:
        _, _, body = lab.get(edge, f"/live/{STREAM}/index.m3u8")
        media = next(l for l in body.decode().splitlines() if l and not l.startswith("#"))
        status, _, body = lab.get(edge, f"/live/{STREAM}/{media}")
        text = body.decode()
        if status != 200:
            return f"HTTP {status}"
        msn = re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", text)
        dsn = re.search(r"#EXT-X-DISCONTINUITY-SEQUENCE:(\d+)", text)
        return (int(msn.group(1)) if msn else None, int(dsn.group(1)) if dsn else 0,
                "#EXT-X-DISCONTINUITY\n" in text + "\n")
    except Exception as e:
        return f"{type(e).__name__}: {e}"


def fmt_ms(seconds):
    return "n/a" if seconds is None else f"{seconds * 1000:.0f}"


# --- scenario: measure ---

def measure(lab, duration):
    stop = threading.Event()
    viewers = start_viewers(stop)
    ok = wait_for(lambda: all(len(v.samples) >= 5 for v in viewers.values()), 30)
    say(f"viewers playing: {ok}; warming up 5 s")
    time.sleep(5)
    edges = [n for n, *_ in EDGES]
    before = {n: lab.scrape(n) for n in edges}
    links_before = lab.net.link_counters()
    chats = {r: lc.ChatClient(r, labnet.ns_name(r), CP_URL, STREAM, stop) for r in REGIONS}
    for c in chats.values():
        c.start()
    wait_for(lambda: all(c.ready.is_set() for c in chats.values()), 20)
    t0 = time.time()
    psi0 = cpu_pressure()
    sent = {}  # client_id -> (sender region, send time)
    say(f"measuring for {duration} s")
    i = 0
    while time.time() - t0 < duration:
        for region, c in chats.items():  # one chat per region every 2 s
            cid = f"m-{region}-{i}"
            sent[cid] = (region, time.time())
            c.send(cid, f"lab {cid}")
        i += 1
        time.sleep(2)
    time.sleep(3)  # let the last messages arrive
    t1 = time.time()
    after = {n: lab.scrape(n) for n in edges}
    links = {k: tuple(a - b for a, b in zip(v, links_before.get(k, (0, 0, 0))))
             for k, v in lab.net.link_counters().items()}
    psi = cpu_pressure(psi0)
    stop.set()
    return report_measure(lab, viewers, chats, sent, before, after, t0, t1, psi) + \
        report_links(lab, links)


def report_links(lab, links):
    """The netem leaves' own counts over the measurement: what the links really did."""
    if not links:
        return ""
    lines = ["", "", "**Links** (each direction's `tc netem` leaf in the router namespace, "
             "counted over the measurement: packets it sent on, packets it dropped)", "",
             "| link | netem delay ms | netem loss | packets | bytes/packet | dropped | "
             "dropped share |", "|---|---|---|---|---|---|---|"]
    for src in REGIONS:
        for dst in REGIONS:
            if (src, dst) not in links:
                continue
            pkts, nbytes, dropped = links[(src, dst)]
            delay, loss = lab.net.pair(src, dst)
            share = f"{dropped / (pkts + dropped) * 100:.2f} %" if pkts + dropped else "n/a"
            lines.append(f"| {src} → {dst} | {delay:g} | {loss * 100:g} % | {pkts} | "
                         f"{nbytes / pkts if pkts else 0:.0f} | {dropped} | {share} |")
    return "\n".join(lines)


def report_measure(lab, viewers, chats, sent, before, after, t0, t1, psi):
    binary = os.path.relpath(lab.binary, REPO) if lab.binary.startswith(REPO) else lab.binary
    lines = [f"Run: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
             f"{t1 - t0:.0f} s measured, links: `{lab.net.mode}`, kernel {platform.release()}"
             f"{lab.note()}, "
             f"{os.cpu_count()} CPUs, CPU pressure (PSI some) {psi}, binary `{binary}`.",
             "", "**Part arrival delay per edge** (`livecdn_relay_part_arrival_delay_seconds`: "
             "arrival at the edge minus the origin's clock when it made the part; observations "
             "during the measurement; quantiles interpolated inside the histogram's buckets, "
             "as PromQL's `histogram_quantile`)", "",
             "| edge | region | tier | parts | mean ms | p50 ms | p95 ms | p99 ms | gaps |",
             "|---|---|---|---|---|---|---|---|---|"]
    name = "livecdn_relay_part_arrival_delay_seconds"
    for edge, region, tier in EDGES:
        if not before.get(edge) or not after.get(edge):
            lines.append(f"| {edge} | {region} | {tier} | scrape failed | | | | | |")
            continue
        h = lc.histogram_delta(lc.histogram(after[edge], name), lc.histogram(before[edge], name))
        buckets, count, total = h
        gaps = sum(v for (n, _), v in after[edge].items() if n == "livecdn_relay_gaps_total") - \
            sum(v for (n, _), v in before[edge].items() if n == "livecdn_relay_gaps_total")
        if count <= 0:
            lines.append(f"| {edge} | {region} | {tier} | 0 (no parts arrived) | | | | | {gaps:.0f} |")
            continue
        q = [fmt_ms(lc.histogram_quantile(x, buckets)) for x in (0.5, 0.95, 0.99)]
        lines.append(f"| {edge} | {region} | {tier} | {count:.0f} | {total / count * 1000:.0f} | "
                     f"{' | '.join(q)} | {gaps:.0f} |")
    lines += ["", "**Playback latency per region** (a client in the region's namespace, routed "
              "by `/v1/play`, follows the live edge with blocking playlist reloads and downloads "
              "each newest part; *part age* = part fully downloaded minus the wall-clock end of "
              "its media per EXT-X-PROGRAM-DATE-TIME, stamped at the origin's ingest; *playback "
              "latency* adds the playlist's PART-HOLD-BACK, where an LL-HLS player plays)", "",
              "| region | played from | parts | part age p50 ms | p95 ms | max ms | "
              "PART-HOLD-BACK ms | playback latency p50 ms | errors |",
              "|---|---|---|---|---|---|---|---|---|"]
    for region, v in viewers.items():
        s = [lat for t, lat, _ in v.samples if t0 <= t <= t1]
        edges = sorted({e for t, _, e in v.samples if t0 <= t <= t1})
        errs = sum(1 for t, text in v.events if t0 <= t <= t1 and ":" in text)
        if not s:
            lines.append(f"| {region} | {', '.join(edges) or '-'} | 0 (no parts: "
                         f"{v.events[-1][1] if v.events else 'never started'}) | | | | | | {errs} |")
            continue
        p50 = lc.percentile(s, 0.5)
        hb = v.hold_back
        lines.append(f"| {region} | {', '.join(edges)} | {len(s)} | {fmt_ms(p50)} | "
                     f"{fmt_ms(lc.percentile(s, 0.95))} | {fmt_ms(max(s))} | {fmt_ms(hb)} | "
                     f"{fmt_ms(p50 + hb) if hb is not None else 'n/a'} | {errs} |")
    lines += ["", "Viewer logs (routing changes and errors, seconds from the start of the "
              "measurement, first 6): " + "; ".join(
                  f"{region}: " + (", ".join(f"{t - t0:+.1f}s {text}" for t, text in
                                             v.events[:6]) or "no events")
                  for region, v in viewers.items())]
    lines += ["", "**Chat delivery delay across regions** (a guest chatter per region, relay "
              "chosen by `/v1/chat`; one message per chatter every 2 s; delay = the event's "
              "arrival at the receiver minus its send time; the room's home is chat-eu)", "",
              "| from → to | via relays | delivered | p50 ms | p95 ms | max ms |",
              "|---|---|---|---|---|---|"]
    for src in REGIONS:
        for dst, c in chats.items():
            mine = {cid: t for cid, (r, t) in sent.items() if r == src}
            got = {cid: at for at, cid in c.events.values() if cid in mine}
            delays = [got[cid] - mine[cid] for cid in got]
            via = f"{chats[src].relay or '?'} → {c.relay or '?'}"
            if not delays:
                err = "; ".join(c.errors[-2:]) or "nothing arrived"
                lines.append(f"| {src} → {dst} | {via} | 0/{len(mine)} ({err}) | | | |")
                continue
            lines.append(f"| {src} → {dst} | {via} | {len(got)}/{len(mine)} | "
                         f"{fmt_ms(lc.percentile(delays, 0.5))} | "
                         f"{fmt_ms(lc.percentile(delays, 0.95))} | {fmt_ms(max(delays))} |")
    return "\n".join(lines)


# --- scenario: faults ---

def resume_after(viewer, t_fault, window=30.0, media_after=None):
    """(first new part's arrival - t_fault, gap between the parts around it, edge) or None.
    With media_after, only parts whose media ends after it count (media ingested after then)."""
    before = [p for p in viewer.parts if p[0] < t_fault]
    after = [p for p in viewer.parts if t_fault <= p[0] <= t_fault + window
             and (media_after is None or p[1] > media_after)]
    if not after:
        return None
    gap = after[0][0] - before[-1][0] if before else None
    return after[0][0] - t_fault, gap, after[0][2]


def faults(lab):
    psi0 = cpu_pressure()
    stop = threading.Event()
    viewers = start_viewers(stop, stall_s=1.0)
    wait_for(lambda: all(len(v.samples) >= 5 for v in viewers.values()), 30)
    rows = []

    # 1. kill -9 an edge while viewers play.
    say("fault 1: kill -9 edge-us (the tier-2 edge-ap's parent) while viewers play")
    time.sleep(3)
    playing_from = {region: v.edge for region, v in viewers.items()}
    t_kill = time.time()
    lab.stop("edge-us", signal.SIGKILL)
    time.sleep(15)
    for region, v in viewers.items():
        # The 2 s target is for the killed edge's own viewers (re-routed by the control plane);
        # the others are reported: a tier-2 child's viewers wait for their edge (or their own
        # stall detection) to notice the dead parent.
        own = playing_from[region] == "edge-us"
        target = "≤ 2000 ms" if own else f"(informative: on {playing_from[region]})"
        r = resume_after(v, t_kill)
        if r is None:
            rows.append(("kill -9 edge-us", f"viewer {region}", "no part within 30 s: "
                         + (v.events[-1][1] if v.events else ""), target,
                         "FAIL" if own else "-"))
            continue
        first, gap, edge = r
        # A viewer whose edge lived may see no interruption at all: report the part gap too.
        rows.append(("kill -9 edge-us", f"viewer {region}",
                     f"next part {first * 1000:.0f} ms after the kill, from {edge} "
                     f"(gap between parts {fmt_ms(gap)} ms)", target,
                     ("ok" if first <= 2.0 else "FAIL") if own else "-"))
    t_back = time.time()
    lab.restart_node("edge-us")
    lab.wait_ready(["edge-us"])
    time.sleep(5)
    seen = log_events(lab.procs["edge-ap"], t_kill, "relay upstream")
    rows.append(("kill -9 edge-us", "edge-ap (tier 2, child of edge-us)",
                 "; ".join(f"+{t:.1f}s {m.split(' upstream=')[0]}" for t, m in seen[:4])
                 + f" (edge-us restarted at +{t_back - t_kill:.1f}s)" if seen else
                 "no upstream change logged", "(informative)", "-"))

    # 2. cut the us region for 10 s: chat federation catches up with nothing lost.
    say("fault 2: us region cut off for 10 s (100 % loss both ways), chat across eu and us")
    chats = {r: lc.ChatClient(r, labnet.ns_name(r), CP_URL, STREAM, stop) for r in ("eu", "us")}
    for c in chats.values():
        c.start()
    wait_for(lambda: all(c.ready.is_set() for c in chats.values()), 20)
    chats["eu"].send("f-warm", "warm up")
    wait_for(lambda: all("f-warm" in c.acks or any(cid == "f-warm" for _, cid in c.events.values())
                         for c in chats.values()), 10)
    start_seq = max([0] + list(chats["eu"].events))
    lab.net.cut("us")
    t_cut = time.time()
    sent_eu, sent_us = [], []
    for i in range(20):  # 10 s: eu every 0.5 s, us every 1 s
        cid = f"f-eu-{i}"
        chats["eu"].send(cid, f"during the cut {cid}")
        sent_eu.append(cid)
        if i % 2 == 0:
            cid = f"f-us-{i // 2}"
            chats["us"].send(cid, f"during the cut {cid}")
            sent_us.append(cid)
        time.sleep(0.5)
    lab.net.restore("us")
    t_restore = time.time()

    def arrived(client, cids):
        seen = {cid for _, cid in client.events.values()}
        return all(cid in seen for cid in cids)
    everything = sent_eu + sent_us
    caught = wait_for(lambda: all(arrived(c, everything) for c in chats.values()), 40)
    t_caught = time.time()
    eu_seqs = sorted(s for s in chats["eu"].events if s > start_seq)
    us_seqs = sorted(s for s in chats["us"].events if s > start_seq)
    us_order = [s for s in chats["us"].order if s > start_seq]
    consecutive = eu_seqs == list(range(start_seq + 1, start_seq + 1 + len(eu_seqs)))
    arrivals = [at for at, cid in chats["us"].events.values() if cid in sent_eu]
    last_eu_at_us = max(arrivals) - t_restore if arrivals else None
    dupes = [e for c in chats.values() for e in c.errors if "duplicate" in e]
    got_eu = sum(1 for cid in sent_eu if cid in {c for _, c in chats["us"].events.values()})
    got_us = sum(1 for cid in sent_us if cid in {c for _, c in chats["eu"].events.values()})
    same = eu_seqs == us_seqs and us_order == sorted(us_order)
    rows.append(("us cut 10 s", "chat eu → us (home chat-eu, mirror chat-us)",
                 f"{got_eu}/{len(sent_eu)} sent in eu during the cut arrived at the us chatter; "
                 f"the last {fmt_ms(last_eu_at_us)} ms after the link came back",
                 "all, in order", "ok" if got_eu == len(sent_eu) else "FAIL"))
    retried = sum(1 for cid in sent_us if chats["us"].unavailable.get(cid))
    rows.append(("us cut 10 s", "chat us → eu (forwarded to the home)",
                 f"{got_us}/{len(sent_us)} sent in us during the cut were sequenced "
                 f"({retried} answered `unavailable` first and were retried with the same "
                 f"client_id)", "all, once", "ok" if got_us == len(sent_us) else "FAIL"))
    rows.append(("us cut 10 s", "sequences on both chatters",
                 f"eu saw {len(eu_seqs)} events, us {len(us_seqs)}; identical: {eu_seqs == us_seqs}; "
                 f"consecutive from {start_seq + 1}: {consecutive}; us in seq order: "
                 f"{us_order == sorted(us_order)}; duplicates: {len(dupes)}; "
                 f"caught up within 40 s: {caught} ({t_caught - t_restore:.1f} s)",
                 "no gap, no duplicate", "ok" if same and consecutive and not dupes and caught
                 else "FAIL"))
    time.sleep(max(0.0, 10 - (time.time() - t_restore)))
    us_viewer_cut = resume_after(viewers["us"], t_restore)
    rows.append(("us cut 10 s", "viewer us (its edge lost origin and control plane)",
                 "no part within 30 s of the restore" if us_viewer_cut is None else
                 f"next part {us_viewer_cut[0] * 1000:.0f} ms after the link came back, "
                 f"from {us_viewer_cut[2]}", "(informative)", "-"))
    time.sleep(5)

    # 3. restart the origin; ffmpeg (the host) reconnects.
    say("fault 3: restart the origin (SIGTERM, start again), restart ffmpeg")
    states_before = {n: playlist_state(lab, n) for n, *_ in EDGES}
    t_stop = time.time()
    lab.stop("origin", signal.SIGTERM, timeout=5)
    lab.stop("ffmpeg", signal.SIGTERM, timeout=3)  # it fails on its own; make sure
    lab.restart_node("origin")
    lab.wait_ready(["origin"])
    lab.publish()
    t_pub = time.time()
    wait_for(lambda: all(resume_after(v, t_pub, media_after=t_pub) for v in viewers.values()),
             25)
    time.sleep(4)
    for region, v in viewers.items():
        r = resume_after(v, t_pub, media_after=t_pub)
        disc = any(t >= t_pub for t in v.disc_seen_at)
        edge_name = next(n for n, reg, _ in EDGES if reg == region)
        state = playlist_state(lab, edge_name)
        edge_disc = state[2] if isinstance(state, tuple) else state
        before = states_before[edge_name]
        detail = (f"{edge_name}: MEDIA-SEQUENCE {before[0] if isinstance(before, tuple) else before}"
                  f" → {state[0] if isinstance(state, tuple) else state}, "
                  f"DISCONTINUITY-SEQUENCE {before[1] if isinstance(before, tuple) else '?'}"
                  f" → {state[1] if isinstance(state, tuple) else '?'}")
        if r is None:
            rows.append(("origin restart", f"viewer {region}", "no part of the new publish "
                         "within 30 s of the publisher's return (last error: "
                         + (v.events[-1][1] if v.events else "none") + f"; {detail})",
                         "resumes, discontinuity", "FAIL"))
            continue
        rows.append(("origin restart", f"viewer {region}",
                     f"next part {r[0] * 1000:.0f} ms after ffmpeg restarted "
                     f"({(r[0] + t_pub - t_stop):.1f} s after the origin stopped), from {r[2]}; "
                     f"EXT-X-DISCONTINUITY in the viewer's playlists: {disc}, in {edge_name}'s: "
                     f"{edge_disc} ({detail})", "resumes, discontinuity",
                     "ok" if disc and edge_disc is True else "FAIL"))
    stop.set()
    lines = [f"Run: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
             f"links: `{lab.net.mode}`, kernel {platform.release()}{lab.note()}.", "",
             "| fault | observed | result | target | verdict |", "|---|---|---|---|---|"]
    lines += [f"| {' | '.join(r)} |" for r in rows]
    lines += ["", f"CPU pressure (`/proc/pressure/cpu` some, share of time a task waited for "
              f"a CPU) during the fault run: {cpu_pressure(psi0)}.", "",
              "Viewer logs (routing changes and errors; seconds after each fault, first 8):", ""]
    for label, t_fault in (("kill", t_kill), ("cut", t_cut), ("origin stop", t_stop)):
        for region, v in viewers.items():
            ev = [f"{t - t_fault:+.1f}s {text}" for t, text in v.events
                  if t_fault - 0.5 <= t <= t_fault + 30][:8]
            lines.append(f"- {label}, {region}: " + ("; ".join(ev) or "no events"))
    return "\n".join(lines)


# --- README regeneration ---

def update_readme(marker, body):
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    with open(README) as f:
        text = f.read()
    if start not in text or end not in text:
        say(f"README has no {start} … {end} markers: not updated")
        return
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    with open(README, "w") as f:
        f.write(f"{head}{start}\n{body}\n{end}{tail}")
    say(f"README.md updated ({marker})")


# --- main ---

def cleanup_leftovers():
    names = labnet.lab_namespaces()
    for ns in names:
        for pid in labnet.run("ip", "netns", "pids", ns, check=False).split():
            try:
                os.kill(int(pid), signal.SIGKILL)  # only processes inside the lab's namespaces
                say(f"killed PID {pid} in {ns}")
            except (ProcessLookupError, ValueError):
                pass
    time.sleep(0.5)
    for ns in names:
        labnet.run("ip", "netns", "del", ns, check=False)
        say(f"deleted namespace {ns}")
    tmp = tempfile.gettempdir()
    for d in os.listdir(tmp):
        if d.startswith(f"{labnet.PREFIX}-") and os.path.isdir(os.path.join(tmp, d)):
            shutil.rmtree(os.path.join(tmp, d), ignore_errors=True)
            say(f"removed {os.path.join(tmp, d)}")
    say("nothing left" if not labnet.lab_namespaces() else "some namespaces remain")


def find_binary(arg):
    for candidate in (arg, os.environ.get("LIVECDN_BIN"),
                      os.path.join(REPO, "target", "release", "livecdn"),
                      os.path.join(REPO, "target", "debug", "livecdn")):
        if candidate and os.access(candidate, os.X_OK):
            return os.path.abspath(candidate)
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenario", nargs="?", default="measure", choices=["measure", "faults", "all"])
    ap.add_argument("--cleanup", action="store_true", help="remove leftovers of a crashed run")
    ap.add_argument("--bin", help="livecdn binary (default: $LIVECDN_BIN, "
                    "target/release/livecdn, target/debug/livecdn)")
    ap.add_argument("--duration", type=int, default=60, help="measurement seconds (10-600)")
    ap.add_argument("--impair", default="auto", choices=["auto", "netem", "userspace"],
                    help="how links get delay and loss (default: netem if the kernel has it)")
    ap.add_argument("--pre-encode", type=int, default=0, metavar="SECONDS",
                    help="encode SECONDS (1-60) of the test stream once and publish it in a loop "
                    "(stream copy) instead of encoding live: for machines that cannot run "
                    "libx264 in real time (a VM under software emulation)")
    ap.add_argument("--keep-logs", metavar="DIR", help="copy the nodes' logs here before cleanup")
    ap.add_argument("--no-readme", action="store_true", help="print the reports only")
    ap.add_argument("--readme-section", metavar="NAME", help="write the tables between the "
                    "README's <!-- lab-report-NAME --> and <!-- lab-faults-NAME --> markers "
                    "instead of the default ones (deploy/lab/vm/run.sh uses `vm`)")
    ap.add_argument("--run-note", metavar="TEXT", default="",
                    help="describe the machine in the reports' Run line (e.g. a VM's setup)")
    ap.add_argument("--link", action="append", default=[], metavar="A-B=RTT_MS:LOSS_PCT",
                    help="override one link of the matrix, e.g. eu-us=40:1 (repeatable; the "
                    "README is then not rewritten)")
    args = ap.parse_args()
    for link in args.link:
        try:
            pair, spec = link.split("=", 1)
            a, b = pair.split("-", 1)
            rtt, loss = spec.split(":", 1)
            key = (a, b) if (a, b) in MATRIX else (b, a)
            if key not in MATRIX:
                raise ValueError(f"no link {a}-{b}")
            MATRIX[key] = (int(rtt), float(loss) / 100.0)
        except ValueError as error:
            print(f"--link {link}: {error} (expected e.g. eu-us=40:1)", file=sys.stderr)
            return 2
    if args.link:
        args.no_readme = True
    if os.geteuid() != 0:
        print("lab.py needs root (network namespaces, veth/TUN devices, tc): "
              "run it with sudo", file=sys.stderr)
        return 2
    missing = [t for t in ("ip", "tc", "ffmpeg") if not shutil.which(t)]
    if missing:
        print(f"lab.py needs {', '.join(missing)} (iproute2, ffmpeg)", file=sys.stderr)
        return 2
    if args.cleanup:
        cleanup_leftovers()
        return 0
    binary = find_binary(args.bin)
    if not binary:
        print("no livecdn binary: build it (cargo build --release -p livecdn) or pass --bin",
              file=sys.stderr)
        return 2
    if labnet.lab_namespaces():
        print(f"lab namespaces exist ({', '.join(labnet.lab_namespaces())}): another run is "
              "active, or one crashed; run lab.py --cleanup", file=sys.stderr)
        return 1
    impair = args.impair
    if impair != "userspace" and not labnet.netem_available():
        if impair == "netem":
            print("this kernel has no sch_netem (tc qdisc netem); use --impair userspace",
                  file=sys.stderr)
            return 2
        say("this kernel has no sch_netem: links get delay and loss from the userspace router")
        impair = "userspace"
    elif impair == "auto":
        impair = "netem"
    duration = max(10, min(600, args.duration))
    if args.readme_section and not re.fullmatch(r"[a-z0-9-]{1,32}", args.readme_section):
        print("--readme-section: lowercase letters, digits and '-' only", file=sys.stderr)
        return 2

    def marker(base):
        return f"{base}-{args.readme_section}" if args.readme_section else base

    def interrupted(signum, _frame):
        raise Interrupted(signal.Signals(signum).name)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupted)

    lab = Lab(binary, impair, args.run_note.replace("|", "/").replace("\n", " "))
    status = 1
    try:
        if args.pre_encode:
            say(f"pre-encoding {max(1, min(60, args.pre_encode))} s of the test stream")
            lab.pre_encode(max(1, min(60, args.pre_encode)))
        say(f"building regions {list(REGIONS)} ({impair}) in {labnet.PREFIX}-* namespaces")
        lab.net.build()
        say("starting control plane, origin, edges, chat relays")
        lab.start_cluster()
        lab.publish()
        lab.wait_live()
        say("stream live in every region")
        if args.scenario in ("measure", "all"):
            report = measure(lab, duration)
            print("\n" + report + "\n", flush=True)
            if not args.no_readme:
                update_readme(marker("lab-report"), report)
        if args.scenario in ("faults", "all"):
            report = faults(lab)
            print("\n" + report + "\n", flush=True)
            if not args.no_readme:
                update_readme(marker("lab-faults"), report)
        status = 0
    except Interrupted as e:
        say(f"interrupted ({e})")
        status = 130
    except Exception as e:
        say(f"error: {type(e).__name__}: {e}")
        for proc in lab.procs.values():
            if not proc.alive() and proc.name != "ffmpeg":
                say(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.log_tail()}")
    finally:
        lab.close(args.keep_logs)
    return status


if __name__ == "__main__":
    sys.exit(main())
