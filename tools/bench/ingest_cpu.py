#!/usr/bin/env python3
"""CPU per ingested RTMP stream: livecdn origin vs nginx-rtmp (hls on), same input, same run.

Run through ingest_cpu.sh (which checks the tools and builds livecdn). For each N in --streams,
and for each server in turn (livecdn first, then nginx, back to back), it starts a fresh server
on free loopback ports, pushes the same file N times with `ffmpeg -re -stream_loop -1 -c copy`,
waits --warmup seconds, then measures the server's CPU seconds (utime+stime from /proc/<pid>/stat;
nginx: master + workers) over --window seconds, and stops everything it started, by PID.

Everything listens on and connects to 127.0.0.1. Every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import atexit
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
NGINX_RTMP_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so"
DELAY_METRIC = "livecdn_origin_part_delay_seconds"
# The server name of a second livecdn build measured in the same run (--baseline).
BASELINE = "livecdn-before"

# ---------------------------------------------------------------------------------------------
# Processes we start: tracked by PID, stopped by PID, on exit and on SIGINT/SIGTERM/SIGHUP.

_started: list[subprocess.Popen] = []


def spawn(argv: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env
        )
    _started.append(proc)
    return proc


def stop(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """SIGTERM, wait up to `grace` seconds, then SIGKILL. Only ever this one PID."""
    if proc.poll() is None:
        try:
            os.kill(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            try:
                os.kill(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=5)
    if proc in _started:
        _started.remove(proc)


def stop_all() -> None:
    for proc in list(reversed(_started)):
        try:
            stop(proc, grace=3.0)
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


def _on_signal(signum, _frame):
    stop_all()
    sys.exit(128 + signum)


# ---------------------------------------------------------------------------------------------
# /proc readings


def cpu_ticks(pid: int) -> int:
    """utime + stime of one process, in clock ticks (0 if it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of stat(5)


def children(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(k) for k in (task / "children").read_text().split()]
        except FileNotFoundError:
            pass
    return kids


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs from /proc/stat."""
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = parts[3] + parts[4]
    return sum(parts) - idle, sum(parts)


def loadavg1() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def http_get(url: str, timeout: float = 5.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, ""
    except OSError:
        return 0, ""


# ---------------------------------------------------------------------------------------------
# Prometheus text parsing (just what we need)

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


def parse_metrics(text: str) -> list[tuple[str, dict[str, str], float]]:
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            continue
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        try:
            out.append((m.group(1), labels, float(m.group(3))))
        except ValueError:
            pass
    return out


def histogram(samples, name: str) -> tuple[list[tuple[float, float]], float, float]:
    """Cumulative (le, count) buckets, sum and count of an unlabelled histogram."""
    buckets, total_sum, total_count = [], 0.0, 0.0
    for metric, labels, value in samples:
        if metric == f"{name}_bucket":
            le = labels.get("le", "")
            buckets.append((math.inf if le == "+Inf" else float(le), value))
        elif metric == f"{name}_sum":
            total_sum = value
        elif metric == f"{name}_count":
            total_count = value
    buckets.sort()
    return buckets, total_sum, total_count


def hist_delta(after, before):
    b_after, s_after, c_after = after
    b_before = dict(before[0])
    buckets = [(le, c - b_before.get(le, 0.0)) for le, c in b_after]
    return buckets, s_after - before[1], c_after - before[2]


def quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """histogram_quantile(): linear interpolation inside the bucket that holds rank q*count."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    prev_le, prev_c = 0.0, 0.0
    for le, c in buckets:
        if c >= rank:
            if math.isinf(le):
                return prev_le  # beyond the largest finite bucket: report its bound
            if c == prev_c:
                return le
            return prev_le + (le - prev_le) * (rank - prev_c) / (c - prev_c)
        prev_le, prev_c = le, c
    return None


def metric_sum(samples, name: str, **want) -> float:
    return sum(
        v for n, l, v in samples if n == name and all(l.get(k) == x for k, x in want.items())
    )


# ---------------------------------------------------------------------------------------------


@dataclass
class Result:
    server: str
    streams: int
    cpu_s: float
    window_s: float
    rss_start_kib: int
    rss_end_kib: int
    machine_busy_pct: float
    publishers_alive: int
    load_before: float
    notes: list[str] = field(default_factory=list)
    delay: tuple | None = None  # histogram delta over the window (livecdn only)
    rss_trace: list[int] = field(default_factory=list)  # KiB, about once a second

    @property
    def cpu_pct(self) -> float:
        return 100.0 * self.cpu_s / self.window_s


def make_input(tmp: Path, seconds: int) -> Path:
    path = tmp / "input.mp4"
    argv = [
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=30:duration={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
        "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-pix_fmt", "yuv420p",
        "-b:v", "3M", "-maxrate", "3M", "-bufsize", "6M",
        "-g", "30", "-keyint_min", "30", "-sc_threshold", "0",
        "-c:a", "aac", "-b:a", "128k", "-ac", "2",
        "-movflags", "+faststart", "-shortest", str(path),
    ]
    t0 = time.monotonic()
    subprocess.run(argv, check=True, timeout=900, stdin=subprocess.DEVNULL)
    size = path.stat().st_size
    print(
        f"input: {path} ({size / 1e6:.1f} MB, {8 * size / seconds / 1e6:.2f} Mb/s overall, "
        f"made in {time.monotonic() - t0:.0f}s)",
        flush=True,
    )
    return path


def start_livecdn(binary: str, tmp: Path, n: int, tag: str):
    http, rtmp = free_port(), free_port()
    conf = tmp / f"livecdn-{tag}.toml"
    lines = [
        '[node]\nid = "bench-origin"\n',
        f'[http]\nlisten = "127.0.0.1:{http}"\n',
        f'[rtmp]\nlisten = "127.0.0.1:{rtmp}"\napp = "live"\n',
        '[log]\nformat = "text"\nlevel = "info"\n',
        '[shutdown]\ndrain_deadline = "2s"\n',
    ]
    for i in range(n):
        lines.append(f'[[streams]]\nname = "bench-{i}"\nkey = "bench-key-{i}"\n')
    conf.write_text("\n".join(lines))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVECDN_")}
    log = tmp / f"livecdn-{tag}.log"
    proc = spawn([binary, "origin", "--config", str(conf)], log, env=env)
    wait_port(rtmp, proc)
    wait_port(http, proc)
    urls = [f"rtmp://127.0.0.1:{rtmp}/live/bench-key-{i}" for i in range(n)]
    return proc, urls, http, log


def start_nginx(tmp: Path, n: int, tag: str):
    rtmp = free_port()
    prefix = tmp / f"nginx-{tag}"
    hls = prefix / "hls"
    hls.mkdir(parents=True)
    # nginx's worker drops to an unprivileged user (www-data/nobody) when started as root: it
    # must be able to reach and write hls_path inside our 0700 temp dir.
    for d in (tmp, prefix):
        d.chmod(0o711)
    hls.chmod(0o777)
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"""load_module {NGINX_RTMP_MODULE};
daemon off;
master_process on;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
rtmp {{
    server {{
        listen 127.0.0.1:{rtmp};
        chunk_size 4096;
        application live {{
            live on;
            hls on;
            hls_path {hls};
            hls_fragment 1s;
            hls_playlist_length 6s;
        }}
    }}
}}
"""
    )
    log = prefix / "stdout.log"
    proc = spawn(["nginx", "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(conf)], log)
    wait_port(rtmp, proc)
    urls = [f"rtmp://127.0.0.1:{rtmp}/live/bench-{i}" for i in range(n)]
    return proc, urls, hls, prefix / "error.log"


def start_publishers(inp: Path, urls: list[str], tmp: Path, tag: str) -> list[subprocess.Popen]:
    pubs = []
    for i, url in enumerate(urls):
        argv = [
            "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "warning",
            "-re", "-stream_loop", "-1", "-i", str(inp),
            "-c", "copy", "-f", "flv", url,
        ]
        pubs.append(spawn(argv, tmp / f"ffmpeg-{tag}-{i}.log"))
    return pubs


def measure(server: str, n: int, args, inp: Path, tmp: Path, rep: int) -> Result:
    tag = f"{server}-{n}-{rep}"
    load_before = loadavg1()
    notes: list[str] = []
    is_livecdn = server != "nginx"
    if is_livecdn:
        binary = args.baseline if server == BASELINE else args.livecdn
        proc, urls, http, log = start_livecdn(binary, tmp, n, tag)
    else:
        proc, urls, hls, log = start_nginx(tmp, n, tag)
    pubs = start_publishers(inp, urls, tmp, tag)
    try:
        time.sleep(args.warmup)
        pids = lambda: [proc.pid] + (children(proc.pid) if server == "nginx" else [])  # noqa: E731
        before_metrics = None
        if is_livecdn:
            _, text = http_get(f"http://127.0.0.1:{http}/metrics")
            before_metrics = histogram(parse_metrics(text), DELAY_METRIC)
        pids0 = pids()
        rss0 = sum(rss_kib(p) for p in pids0)
        busy0, total0 = machine_busy()
        t0 = time.monotonic()
        c0 = {p: cpu_ticks(p) for p in pids0}
        # Sleep through the window in steps of at most 1 s, sampling RSS (rising memory).
        rss_trace = []
        while (left := t0 + args.window - time.monotonic()) > 0:
            time.sleep(min(1.0, left))
            rss_trace.append(sum(rss_kib(p) for p in [proc.pid] + children(proc.pid)))
        pids1 = pids()
        c1 = {p: cpu_ticks(p) for p in pids1}
        t1 = time.monotonic()
        busy1, total1 = machine_busy()
        rss1 = sum(rss_kib(p) for p in pids1)
        if rss_trace:
            half = rss_trace[: max(1, len(rss_trace) // 2)]
            if rss_trace[-1] > 1.1 * max(half) and rss_trace[-1] - max(half) > 2048:
                notes.append(
                    f"RSS still rising in the second half of the window: "
                    f"{max(half) / 1024:.1f} -> {rss_trace[-1] / 1024:.1f} MiB"
                )
        if set(pids0) != set(pids1):
            notes.append(f"process set changed during window: {sorted(pids0)} -> {sorted(pids1)}")
        ticks = sum(c1[p] - c0.get(p, 0) for p in pids1)
        alive = sum(1 for p in pubs if p.poll() is None)
        log_bytes = log.stat().st_size if log.exists() else 0
        delay = None
        if is_livecdn:
            _, text = http_get(f"http://127.0.0.1:{http}/metrics")
            samples = parse_metrics(text)
            delay = hist_delta(histogram(samples, DELAY_METRIC), before_metrics)
            live = metric_sum(samples, "livecdn_origin_live_streams")
            streams_with_parts = sum(
                1 for name, labels, v in samples
                if name == "livecdn_origin_parts_total" and v > 0
            )
            if live != n or streams_with_parts != n:
                notes.append(f"live_streams={live:g}, streams with parts={streams_with_parts}")
            for name in (
                "livecdn_origin_rtmp_errors_total",
                "livecdn_origin_media_rejected_total",
                "livecdn_origin_publish_rejected_total",
            ):
                bad = [(l, v) for nm, l, v in samples if nm == name and v > 0]
                if bad:
                    notes.append(f"{name}: {bad}")
            status, body = http_get(f"http://127.0.0.1:{http}/live/bench-0/index.m3u8")
            if status != 200 or "#EXTM3U" not in body:
                notes.append(f"/live/bench-0/index.m3u8 -> {status}")
        else:
            playlists = len(list(hls.glob("*.m3u8")))
            if playlists != n:
                notes.append(f"nginx wrote {playlists} playlists for {n} streams")
    finally:
        for p in pubs:
            stop(p, grace=3.0)
        stop(proc, grace=5.0)
    # Server log up to the end of the window (stopping the publishers logs dropped connections):
    # count warnings/errors (livecdn text log level words; nginx error_log).
    with open(log, "rb") as f:
        text = f.read(log_bytes).decode("utf-8", "replace")
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    if is_livecdn:
        bad_lines = [l for l in text.splitlines() if re.search(r"\b(WARN|ERROR)\b", l)]
    else:
        bad_lines = [l for l in text.splitlines() if re.search(r"\[(warn|error|crit|alert|emerg)\]", l)]
    if bad_lines:
        notes.append(f"{len(bad_lines)} warn/error log lines, first: {bad_lines[0][:200]}")
    if alive != n:
        notes.append(f"only {alive}/{n} publishers still running at end of window")
    return Result(
        server=server,
        streams=n,
        cpu_s=ticks / CLK_TCK,
        window_s=t1 - t0,
        rss_start_kib=rss0,
        rss_end_kib=rss1,
        machine_busy_pct=100.0 * (busy1 - busy0) / max(1, total1 - total0) * os.cpu_count(),
        publishers_alive=alive,
        load_before=load_before,
        notes=notes,
        delay=delay,
        rss_trace=rss_trace,
    )


def wait_quiet(max_load: float, max_wait: float) -> float:
    """Waits (bounded) for the 1-minute load average to drop to max_load; returns it."""
    deadline = time.monotonic() + max_wait
    load = loadavg1()
    while load > max_load and time.monotonic() < deadline:
        time.sleep(5)
        load = loadavg1()
    return load


def fmt_ms(x: float | None) -> str:
    return "n/a" if x is None else f"{1000 * x:.2f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--livecdn", default="target/release/livecdn", help="livecdn binary")
    ap.add_argument("--baseline", help="another livecdn binary (e.g. the build before a change), "
                    "measured in the same run as 'livecdn-before' and reported against the same nginx")
    ap.add_argument("--streams", default="1,10,20", help="comma-separated stream counts")
    ap.add_argument("--warmup", type=float, default=5.0, help="seconds before measuring")
    ap.add_argument("--window", type=float, default=20.0, help="measurement window, seconds")
    ap.add_argument("--repeats", type=int, default=1, help="runs per (N, server); medians reported")
    ap.add_argument("--input-seconds", type=int, default=60, help="length of the input file")
    ap.add_argument("--input", help="reuse this input file instead of making one")
    ap.add_argument("--max-load", type=float, default=1.0,
                    help="wait (at most --max-wait s) for the 1-min load average to drop to this before each N")
    ap.add_argument("--max-wait", type=float, default=60.0)
    ap.add_argument("--rss-trace", action="store_true", help="print RSS every 5 s of the window")
    ap.add_argument("--keep-tmp", action="store_true", help="keep the temp dir (logs, HLS output)")
    args = ap.parse_args()
    counts = [int(x) for x in args.streams.split(",") if x.strip()]
    if args.baseline and not os.path.exists(args.baseline):
        print(f"no livecdn binary at {args.baseline}", file=sys.stderr)
        return 2
    if not os.path.exists(args.livecdn):
        print(f"no livecdn binary at {args.livecdn}", file=sys.stderr)
        return 2

    atexit.register(stop_all)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)

    tmp = Path(tempfile.mkdtemp(prefix="livecdn-bench-"))
    if not args.keep_tmp:
        atexit.register(shutil.rmtree, tmp, True)
    print(f"temp dir: {tmp}", flush=True)
    inp = Path(args.input) if args.input else make_input(tmp, args.input_seconds)

    results: dict[tuple[str, int], list[Result]] = {}
    for n in counts:
        for rep in range(args.repeats):
            load = wait_quiet(args.max_load, args.max_wait)
            # Alternate the order between repeats so neither server always goes first.
            servers = ("livecdn", "nginx") + ((BASELINE,) if args.baseline else ())
            order = servers if rep % 2 == 0 else tuple(reversed(servers))
            for server in order:
                r = measure(server, n, args, inp, tmp, rep)
                results.setdefault((server, n), []).append(r)
                print(
                    f"N={n:<3} rep={rep} {server:<14} cpu={r.cpu_pct:6.1f}%  "
                    f"rss={r.rss_end_kib / 1024:7.1f} MiB (start {r.rss_start_kib / 1024:.1f})  "
                    f"machine busy={r.machine_busy_pct:5.1f}% (of one core; {os.cpu_count()} cores)  "
                    f"load1 before={r.load_before:.2f} (waited to {load:.2f})  "
                    f"publishers alive={r.publishers_alive}/{n}"
                    + ("".join(f"\n      note: {x}" for x in r.notes))
                    + (
                        "\n      RSS MiB every 5 s: "
                        + " ".join(f"{k / 1024:.0f}" for k in r.rss_trace[4::5])
                        if args.rss_trace else ""
                    ),
                    flush=True,
                )

    def med(server, n, f):
        return statistics.median(f(r) for r in results[(server, n)])

    print()
    print(f"CPU over a {args.window:g}s window after {args.warmup:g}s warm-up; "
          f"% of one core; median of {args.repeats} run(s)")
    print("| streams | livecdn CPU % | nginx-rtmp CPU % | ratio livecdn/nginx | livecdn CPU %/stream | livecdn RSS MiB | nginx RSS MiB | machine busy % of one core (livecdn run / nginx run) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in counts:
        lc = med("livecdn", n, lambda r: r.cpu_pct)
        ng = med("nginx", n, lambda r: r.cpu_pct)
        ratio = lc / ng if ng > 0 else float("inf")
        print(
            f"| {n} | {lc:.1f} | {ng:.1f} | {ratio:.2f} | {lc / n:.2f} | "
            f"{med('livecdn', n, lambda r: r.rss_end_kib) / 1024:.1f} | "
            f"{med('nginx', n, lambda r: r.rss_end_kib) / 1024:.1f} | "
            f"{med('livecdn', n, lambda r: r.machine_busy_pct):.0f} / {med('nginx', n, lambda r: r.machine_busy_pct):.0f} |"
        )
    if args.baseline:
        print()
        print(f"Same run, the baseline build ({args.baseline}) against the same nginx runs:")
        print("| streams | before CPU % | after CPU % | nginx-rtmp CPU % | ratio before/nginx | ratio after/nginx | after/before |")
        print("|---:|---:|---:|---:|---:|---:|---:|")
        for n in counts:
            b = med(BASELINE, n, lambda r: r.cpu_pct)
            a = med("livecdn", n, lambda r: r.cpu_pct)
            ng = med("nginx", n, lambda r: r.cpu_pct)
            print(
                f"| {n} | {b:.2f} | {a:.2f} | {ng:.2f} | {b / ng if ng else float('inf'):.2f} | "
                f"{a / ng if ng else float('inf'):.2f} | {a / b if b else float('inf'):.2f} |"
            )
    print()
    print(f"livecdn part delay ({DELAY_METRIC}, parts completed inside the window, all runs pooled;")
    print("p50/p99 interpolated linearly inside buckets 0.5/1/2/5/10 ms, like histogram_quantile)")
    print("| streams | parts | mean ms | p50 ms | p99 ms | <=0.5ms | <=1ms | <=2ms | <=5ms |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in counts:
        pooled: dict[float, float] = {}
        s = c = 0.0
        for r in results[("livecdn", n)]:
            if r.delay is None:
                continue
            for le, v in r.delay[0]:
                pooled[le] = pooled.get(le, 0.0) + v
            s += r.delay[1]
            c += r.delay[2]
        buckets = sorted(pooled.items())
        frac = lambda bound: next((v / c for le, v in buckets if abs(le - bound) < 1e-9), float("nan")) if c else float("nan")  # noqa: E731
        print(
            f"| {n} | {c:.0f} | {fmt_ms(s / c if c else None)} | {fmt_ms(quantile(0.5, buckets))} | "
            f"{fmt_ms(quantile(0.99, buckets))} | {100 * frac(0.0005):.1f}% | {100 * frac(0.001):.1f}% | "
            f"{100 * frac(0.002):.1f}% | {100 * frac(0.005):.1f}% |"
        )
    if args.keep_tmp:
        print(f"\nkept {tmp}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
