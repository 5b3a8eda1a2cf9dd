#!/usr/bin/env python3
"""HTTP serving on livecdn's edge: requests/s and latency against nginx serving the same bytes,
and memory and answer spread of 10 000 held blocking playlist requests.

Run through edge_http.sh (which checks the tools, builds livecdn and raises the open-file
limit). It starts `livecdn dev` (origin, edge A fed over QUIC, edge B) on --port-base, then:

1. held test (before anything else loads the process): opens --held keep-alive connections to
   edge A, reads edge A's RSS, sends on each `GET .../index.m3u8?_HLS_msn=M&_HLS_part=0` for a
   part 1.2-2 s in the future (M = newest part's msn + 2), reads the RSS again once edge A's
   `livecdn_hls_held_requests` gauge shows them all held, then times every answer (epoll,
   first byte) against the first one;
2. throughput: pushes a ~2.4 Mb/s 720p file to the cluster's `cam` stream (ffmpeg -re -c copy),
   then for each object (demo playlist, demo part, demo segment, cam part nearest 64 KiB, cam
   segment) and each --connections value: picks a fresh object on edge A, writes its exact
   bytes under the same path into nginx's root, runs `wrk --latency` against edge A, then
   against nginx (2 workers, sendfile, keepalive, no access log).

Everything listens on and connects to 127.0.0.1. Every loop is bounded in count and time; every
process is started here, tracked by PID and stopped by PID at exit and on SIGINT/SIGTERM/SIGHUP.
"""

from __future__ import annotations

import argparse
import atexit
import os
import re
import resource
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux; SCM_TIMESTAMPNS is the same

# ---------------------------------------------------------------------------------------------
# Processes we start: tracked by PID, stopped by PID, on exit and on SIGINT/SIGTERM/SIGHUP.

_started: list[subprocess.Popen] = []


def spawn(argv: list[str], log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
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
# Small helpers


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def cpu_ticks(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return 0
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


def listen_overflows() -> int:
    """TcpExt ListenOverflows (accept queue full, SYN dropped), machine-wide."""
    lines = Path("/proc/net/netstat").read_text().splitlines()
    for head, vals in zip(lines[::2], lines[1::2]):
        if head.startswith("TcpExt:"):
            return int(dict(zip(head.split()[1:], vals.split()[1:])).get("ListenOverflows", 0))
    return 0


def loadavg1() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_free(port: int, kind: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as tokio's listeners do
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, b""
    except OSError:
        return 0, b""


def metric(base: str, name: str) -> float | None:
    status, body = http_get(f"{base}/metrics", timeout=2.0)
    if status != 200:
        return None
    for line in body.decode("utf-8", "replace").splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.split()[-1])
    return None


def metrics_text(base: str) -> str:
    return http_get(f"{base}/metrics", timeout=2.0)[1].decode("utf-8", "replace")


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


# ---------------------------------------------------------------------------------------------
# Playlists


class Playlist:
    """Just what we pick objects from: closed segments and parts, in order."""

    def __init__(self, text: str):
        self.segments: list[tuple[int, str]] = []  # (msn, uri)
        self.parts: list[tuple[int, int, str]] = []  # (msn, index, uri)
        for line in text.splitlines():
            m = re.match(r"seg(\d+)\.m4s$", line.strip())
            if m:
                self.segments.append((int(m.group(1)), line.strip()))
            m = re.match(r'#EXT-X-PART:.*URI="(part(\d+)\.(\d+)\.m4s)"', line)
            if m:
                self.parts.append((int(m.group(2)), int(m.group(3)), m.group(1)))


def fetch_playlist(base: str, stream: str, query: str = "") -> Playlist | None:
    status, body = http_get(f"{base}/live/{stream}/source/index.m3u8{query}", timeout=6.0)
    if status != 200:
        return None
    return Playlist(body.decode("utf-8", "replace"))


def wait_stream(base: str, stream: str, min_segments: int, deadline_s: float) -> Playlist:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        pl = fetch_playlist(base, stream)
        if pl and pl.parts and len(pl.segments) >= min_segments:
            return pl
        time.sleep(0.5)
    raise RuntimeError(f"{base}: /live/{stream} has no {min_segments} segments after {deadline_s}s")


# ---------------------------------------------------------------------------------------------
# The cluster, the publisher, nginx


def start_cluster(args, tmp: Path) -> subprocess.Popen:
    pb = args.port_base
    tcp = [pb, pb + 80, pb + 81, pb + 82, pb + 91, pb + 92, pb - 6065]
    udp = [pb + 80, pb + 81]
    busy = [p for p in tcp if not port_free(p, socket.SOCK_STREAM)]
    busy += [p for p in udp if not port_free(p, socket.SOCK_DGRAM)]
    if busy:
        raise RuntimeError(f"--port-base {pb}: ports in use: {busy}")
    env_clean = {k: v for k, v in os.environ.items() if not k.startswith("LIVECDN_")}
    log = tmp / "livecdn.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [args.livecdn, "dev", "--port-base", str(pb), "--data-dir", str(tmp / "dev")],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env_clean,
        )
    _started.append(proc)
    return proc


def make_input(args, tmp: Path) -> Path:
    if args.input:
        return Path(args.input)
    out = tmp / "cam.mp4"
    v = args.cam_video_kbps
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
         "-t", str(args.input_seconds),
         "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-pix_fmt", "yuv420p",
         "-b:v", f"{v}k", "-maxrate", f"{v}k", "-bufsize", f"{v}k",
         "-g", "30", "-keyint_min", "30", "-sc_threshold", "0",
         "-c:a", "aac", "-b:a", "128k", "-ac", "2", str(out)],
        check=True, timeout=900,
    )
    return out


NGINX_CONF = """\
daemon off;
worker_processes 2;
worker_rlimit_nofile {nofile};
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush {nopush};
    tcp_nodelay on;
    keepalive_timeout 65s;
    keepalive_requests 1000000;
    types {{
        application/vnd.apple.mpegurl m3u8;
        video/mp4 mp4 m4s;
    }}
    default_type application/octet-stream;
    client_body_temp_path {tmp}/nginx-tmp;
    server {{
        listen 127.0.0.1:{port};
        root {tmp}/www;
        location ~ \\.m3u8$ {{ add_header Cache-Control no-cache; }}
        location / {{ add_header Cache-Control "public, max-age=31536000, immutable"; }}
    }}
}}
"""


def start_nginx(tmp: Path, nopush: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    (tmp / "www").mkdir(exist_ok=True)
    (tmp / "nginx-tmp").mkdir(exist_ok=True)
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, port=port, nofile=nofile, nopush=nopush))
    proc = spawn(["nginx", "-p", str(tmp), "-e", str(tmp / "nginx-error.log"), "-c", str(conf)],
                 tmp / "nginx.out")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"nginx exited with {proc.returncode}; see {tmp}/nginx-error.log")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, port
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("nginx is not listening after 15 s")


# ---------------------------------------------------------------------------------------------
# wrk

_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    if not m:
        return float("nan")
    return float(m.group(1)) * _UNIT_MS[m.group(2)]


def run_wrk(url: str, conns: int, args, log: Path) -> dict:
    argv = ["wrk", f"-t{args.threads}", f"-c{conns}", f"-d{args.duration}s", "--latency",
            "--timeout", "10s", url]
    proc = spawn(argv, log)
    try:
        proc.wait(timeout=args.duration + 60)
    finally:
        stop(proc)
    out = log.read_text()
    res = {"rps": float("nan"), "p50": float("nan"), "p99": float("nan"), "non2xx": 0,
           "errors": 0, "requests": 0}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if m:
        res["rps"] = float(m.group(1))
    for q in ("50", "99"):
        m = re.search(rf"^\s+{q}%\s+(\S+)", out, re.M)
        if m:
            res[f"p{q}"] = _ms(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        res["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        res["errors"] = sum(int(x) for x in m.groups())
    m = re.search(r"(\d+) requests in", out)
    if m:
        res["requests"] = int(m.group(1))
    return res


# ---------------------------------------------------------------------------------------------
# Throughput: edge A vs nginx, same bytes, same path


def pick_object(edge: str, kind: str) -> tuple[str, bytes]:
    """Returns (path, bytes) of a fresh object on edge A."""
    stream = "demo" if kind.startswith("demo") else "cam"
    base_path = f"/live/{stream}/source/"
    if kind == "demo-playlist":
        status, body = http_get(edge + base_path + "index.m3u8")
        if status != 200:
            raise RuntimeError(f"playlist: {status}")
        return base_path + "index.m3u8", body
    pl = fetch_playlist(edge, stream)
    if not pl or not pl.segments or not pl.parts:
        raise RuntimeError(f"no playlist for {stream}")
    if kind.endswith("segment"):
        uri = pl.segments[-1][1]  # the newest closed segment stays longest (~13 s)
    elif kind == "demo-part":
        uri = pl.parts[-1][2]
    else:  # cam-part: of the newest parts (open segment and the one before), nearest 64 KiB
        newest = pl.parts[-1][0]
        candidates = [p for p in pl.parts if p[0] >= newest - 1]
        best = None
        for _msn, _idx, u in candidates:
            status, body = http_get(edge + base_path + u)
            if status == 200 and (best is None or abs(len(body) - 65536) < abs(len(best[1]) - 65536)):
                best = (u, body)
        if best is None:
            raise RuntimeError("no cam part")
        return base_path + best[0], best[1]
    status, body = http_get(edge + base_path + uri)
    if status != 200:
        raise RuntimeError(f"{uri}: {status}")
    return base_path + uri, body


def throughput(args, tmp: Path, edge: str, nginx_port: int) -> list[dict]:
    rows = []
    kinds = [k for k in args.objects.split(",") if k]
    for kind in kinds:
        for conns in args.conn_list:
            path, body = pick_object(edge, kind)
            target = tmp / "www" / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(body)
            for parent in [target] + list(target.parents):
                if parent == tmp.parent:
                    break
                os.chmod(parent, 0o755 if parent.is_dir() else 0o644)
            status, nbody = http_get(f"http://127.0.0.1:{nginx_port}{path}")
            if status != 200 or nbody != body:
                raise RuntimeError(f"nginx does not serve {path} byte for byte ({status})")
            row = {"kind": kind, "conns": conns, "path": path, "bytes": len(body)}
            for server, url in (("edge", edge + path), ("nginx", f"http://127.0.0.1:{nginx_port}{path}")):
                load = loadavg1()
                log = tmp / f"wrk-{kind}-{conns}-{server}.log"
                res = run_wrk(url, conns, args, log)
                row[server] = res | {"load": load}
                print(f"  {kind:14} {len(body):>7} B c={conns:<5} {server:5} "
                      f"{res['rps']:>10.0f} req/s  p50 {res['p50']:.2f} ms  p99 {res['p99']:.2f} ms"
                      f"  non-2xx {res['non2xx']}  sock-err {res['errors']}  load {load:.2f}",
                      flush=True)
                time.sleep(1)
            rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------------
# Held blocking playlist requests


def open_connections(n: int, port: int, deadline_s: float):
    """Opens up to n connections one by one (bounded by deadline_s); returns the sockets, the
    number that failed and each successful connect's duration in seconds."""
    socks, failed, took = [], 0, []
    deadline = time.monotonic() + deadline_s
    for _ in range(n):
        if time.monotonic() > deadline:
            break
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # Kernel receive timestamps: the spread of the answers without the client's own lag.
        s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        s.settimeout(5.0)
        t = time.monotonic()
        try:
            s.connect(("127.0.0.1", port))
        except OSError:
            failed += 1
            s.close()
            continue
        took.append(time.monotonic() - t)
        s.setblocking(False)
        socks.append(s)
    return socks, failed, took


def held_test(args, n: int, lc_pid: int, edge: str, edge_port: int) -> dict:
    res: dict = {"n": n}
    held_before = metric(edge, "livecdn_hls_held_requests") or 0.0
    rss0 = rss_kib(lc_pid)
    t0 = time.monotonic()
    overflows0 = listen_overflows()
    socks, failed, took = open_connections(n, edge_port, deadline_s=120.0)
    res["listen_overflows"] = listen_overflows() - overflows0
    res["connect_s"] = time.monotonic() - t0
    res["connect_failed"] = failed
    if took:
        res["connect_p99_ms"] = pct(took, 99) * 1000
        res["connect_max_ms"] = max(took) * 1000
        res["connect_over_500ms"] = sum(1 for t in took if t > 0.5)
    res["open"] = len(socks)
    time.sleep(1.0)
    rss1 = rss_kib(lc_pid)
    # Sync on a part arrival (a blocking request for the hinted part), then aim 1.2-2 s ahead:
    # part 0 of segment (newest msn + 2), inside the 2-segment advance limit and the 3 s
    # blocking timeout, far enough for the client to send all its requests first.
    pl = fetch_playlist(edge, "demo")
    if not pl or not pl.parts:
        raise RuntimeError("held: no demo playlist")
    msn, idx, _ = pl.parts[-1]
    pl = fetch_playlist(edge, "demo", f"?_HLS_msn={msn}&_HLS_part={idx + 1}") or pl
    msn = pl.parts[-1][0]
    target = (msn + 2, 0)
    res["target"] = f"{target[0]}.{target[1]}"
    req = (f"GET /live/demo/source/index.m3u8?_HLS_msn={target[0]}&_HLS_part={target[1]} HTTP/1.1\r\n"
           f"Host: 127.0.0.1:{edge_port}\r\n\r\n").encode()
    ep = select.epoll(max(1, len(socks)))
    # fd -> [sock, buffer, first byte (client clock), done, status, first byte (kernel clock)]
    state: dict[int, list] = {}
    cpu0 = cpu_ticks(lc_pid)
    t_send0 = time.monotonic()
    send_failed = 0
    for s in socks:
        try:
            s.send(req)
        except OSError:
            send_failed += 1
            continue
        state[s.fileno()] = [s, bytearray(), None, None, None, None]
        ep.register(s.fileno(), select.EPOLLIN)
    t_sent = time.monotonic()
    res["send_s"] = t_sent - t_send0
    res["send_failed"] = send_failed
    # Wait for the server to hold them all (or the first answer), polling the gauge and RSS.
    peak_held, rss2, first = 0.0, rss_kib(lc_pid), None
    done = 0
    deadline = t_sent + 8.0
    next_poll = 0.0
    events_budget = 10 * n + 1000
    while done < len(state) and time.monotonic() < deadline and events_budget > 0:
        if first is None and time.monotonic() >= next_poll:
            held = (metric(edge, "livecdn_hls_held_requests") or 0.0) - held_before
            if held > peak_held:
                peak_held = held
                rss2 = rss_kib(lc_pid)
            next_poll = time.monotonic() + 0.1
        for fd, _ev in ep.poll(0.05 if first is None else 0.5, 4096):
            events_budget -= 1
            now = time.monotonic()
            st = state[fd]
            try:
                chunk, anc, _flags, _addr = st[0].recvmsg(65536, socket.CMSG_SPACE(16))
            except BlockingIOError:
                continue
            except OSError:
                chunk, anc = b"", []
            if st[2] is None:
                st[2] = now
                if first is None:
                    first = now
                for level, kind, data in anc:
                    if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
                        sec, nsec = struct.unpack("qq", data[:16])
                        st[5] = sec + nsec / 1e9
            if not chunk:
                st[3], st[4] = now, st[4] or 0
                ep.unregister(fd)
                done += 1
                continue
            st[1] += chunk
            head_end = st[1].find(b"\r\n\r\n")
            if head_end < 0:
                continue
            head = bytes(st[1][:head_end]).decode("latin-1")
            st[4] = int(head.split()[1])
            m = re.search(r"(?im)^content-length:\s*(\d+)", head)
            if m and len(st[1]) >= head_end + 4 + int(m.group(1)):
                st[3] = now
                ep.unregister(fd)
                done += 1
    cpu1 = cpu_ticks(lc_pid)
    ep.close()
    statuses: dict[int, int] = {}
    firsts, dones, kernel = [], [], []
    for st in state.values():
        if st[5] is not None and st[4] == 200:
            kernel.append(st[5])
        statuses[st[4] or 0] = statuses.get(st[4] or 0, 0) + 1
        if st[2] is not None and st[4] == 200:
            firsts.append(st[2])
        if st[3] is not None and st[4] == 200:
            dones.append(st[3])
    res.update(rss0=rss0, rss1=rss1, rss2=rss2, peak_held=peak_held, statuses=statuses,
               answered=len(firsts), cpu_s=(cpu1 - cpu0) / CLK_TCK)
    if firsts and first is not None:
        lat = [(t - first) * 1000 for t in firsts]
        res.update(wait_s=first - t_sent, p50=pct(lat, 50), p99=pct(lat, 99), spread=max(lat),
                   done_spread=(max(dones) - first) * 1000 if dones else float("nan"),
                   within_50=sum(1 for x in lat if x <= 50.0))
    if kernel:
        k0 = min(kernel)
        klat = [(t - k0) * 1000 for t in kernel]
        res.update(k_n=len(klat), k_p50=pct(klat, 50), k_p99=pct(klat, 99), k_spread=max(klat),
                   k_within_50=sum(1 for x in klat if x <= 50.0))
    for s in socks:
        s.close()
    time.sleep(1.5)
    res["rss3"] = rss_kib(lc_pid)
    res["held_after"] = (metric(edge, "livecdn_hls_held_requests") or 0.0) - held_before
    return res


# ---------------------------------------------------------------------------------------------
# Held blocking playlist requests multiplexed over HTTP/2 (h2c with prior knowledge), the way
# LL-HLS players (Apple's, hls.js in a browser over TLS) send them. A minimal client: HEADERS
# with HPACK literals (no Huffman, no dynamic table), windows opened wide at the start so flow
# control never holds an answer back, SETTINGS and PING acknowledged. A response's status is
# read from its first header field: hyper's encoder sends `:status 200` as the static index 8
# (0x88); anything else is counted as "not 200".

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
H2_DATA, H2_HEADERS, H2_RST, H2_SETTINGS, H2_PING, H2_GOAWAY, H2_WINDOW = 0, 1, 3, 4, 6, 7, 8


def h2_frame(kind: int, flags: int, stream: int, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def hpack_str(value: bytes) -> bytes:
    assert len(value) < 127
    return bytes([len(value)]) + value


def h2_request_block(path: str, authority: str) -> bytes:
    # :method GET (static 2), :scheme http (static 6), :path and :authority as literals
    # without indexing with an indexed name (4 and 1).
    return (b"\x82\x86" + b"\x04" + hpack_str(path.encode()) + b"\x01" + hpack_str(authority.encode()))


def held_test_h2(args, n: int, per_conn: int, lc_pid: int, edge: str, edge_port: int) -> dict:
    res: dict = {"n": n, "h2": True, "streams_per_conn": per_conn}
    held_before = metric(edge, "livecdn_hls_held_requests") or 0.0
    conns = -(-n // per_conn)
    rss0 = rss_kib(lc_pid)
    socks, failed, _took = open_connections(conns, edge_port, deadline_s=60.0)
    res["connect_failed"] = failed
    res["open"] = len(socks)
    settings = h2_frame(H2_SETTINGS, 0, 0, struct.pack(">HI", 4, 1 << 30) + struct.pack(">HI", 2, 0))
    window = h2_frame(H2_WINDOW, 0, 0, struct.pack(">I", (1 << 30)))
    for s in socks:
        s.setblocking(True)
        s.sendall(H2_PREFACE + settings + window)
    time.sleep(1.0)
    # Read (and acknowledge) the server's SETTINGS before counting the connection's memory.
    for s in socks:
        s.setblocking(False)
        try:
            while s.recv(65536):
                pass
        except BlockingIOError:
            pass
        s.setblocking(True)
        s.sendall(h2_frame(H2_SETTINGS, 1, 0, b""))
        s.setblocking(False)
    time.sleep(0.5)
    rss1 = rss_kib(lc_pid)
    pl = fetch_playlist(edge, "demo")
    if not pl or not pl.parts:
        raise RuntimeError("held: no demo playlist")
    msn, idx, _ = pl.parts[-1]
    pl = fetch_playlist(edge, "demo", f"?_HLS_msn={msn}&_HLS_part={idx + 1}") or pl
    msn = pl.parts[-1][0]
    target = (msn + 2, 0)
    res["target"] = f"{target[0]}.{target[1]}"
    block = h2_request_block(f"/live/demo/source/index.m3u8?_HLS_msn={target[0]}&_HLS_part={target[1]}",
                             f"127.0.0.1:{edge_port}")
    ep = select.epoll(max(1, len(socks)))
    # fd -> [sock, buffer, {stream: [first (client), first (kernel), status, done]}]
    state: dict[int, list] = {}
    cpu0 = cpu_ticks(lc_pid)
    t_send0 = time.monotonic()
    sent = 0
    for s in socks:
        streams = {}
        out = bytearray()
        for i in range(per_conn):
            if sent >= n:
                break
            sid = 1 + 2 * i
            out += h2_frame(H2_HEADERS, 0x5, sid, block)  # END_STREAM | END_HEADERS
            streams[sid] = [None, None, None, None]
            sent += 1
        s.setblocking(True)
        s.sendall(out)
        s.setblocking(False)
        state[s.fileno()] = [s, bytearray(), streams]
        ep.register(s.fileno(), select.EPOLLIN)
    t_sent = time.monotonic()
    res["send_s"] = t_sent - t_send0
    peak_held, rss2, first = 0.0, rss_kib(lc_pid), None
    done, deadline, next_poll = 0, t_sent + 8.0, 0.0
    events_budget = 20 * n + 1000
    goaways = 0
    while done < sent and time.monotonic() < deadline and events_budget > 0:
        if first is None and time.monotonic() >= next_poll:
            held = (metric(edge, "livecdn_hls_held_requests") or 0.0) - held_before
            if held > peak_held:
                peak_held = held
                rss2 = rss_kib(lc_pid)
            next_poll = time.monotonic() + 0.1
        for fd, _ev in ep.poll(0.05 if first is None else 0.5, 4096):
            events_budget -= 1
            now = time.monotonic()
            st = state[fd]
            try:
                chunk, anc, _flags, _addr = st[0].recvmsg(1 << 18, socket.CMSG_SPACE(16))
            except BlockingIOError:
                continue
            except OSError:
                chunk, anc = b"", []
            if not chunk:
                ep.unregister(fd)
                continue
            kts = None
            for level, kind, data in anc:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
                    sec, nsec = struct.unpack("qq", data[:16])
                    kts = sec + nsec / 1e9
            buf = st[1]
            buf += chunk
            pos = 0
            while len(buf) - pos >= 9:
                length = int.from_bytes(buf[pos:pos + 3], "big")
                if len(buf) - pos < 9 + length:
                    break
                kind, flags = buf[pos + 3], buf[pos + 4]
                sid = int.from_bytes(buf[pos + 5:pos + 9], "big") & 0x7FFFFFFF
                payload = bytes(buf[pos + 9:pos + 9 + length])
                pos += 9 + length
                stream = st[2].get(sid)
                if kind == H2_HEADERS and stream is not None:
                    if stream[0] is None:
                        stream[0], stream[1] = now, kts
                        if first is None:
                            first = now
                    stream[2] = 200 if payload[:1] == b"\x88" else 0
                    if flags & 0x1 and stream[3] is None:
                        stream[3] = now
                        done += 1
                elif kind == H2_DATA and stream is not None:
                    if flags & 0x1 and stream[3] is None:
                        stream[3] = now
                        done += 1
                elif kind == H2_RST and stream is not None and stream[3] is None:
                    stream[2], stream[3] = -1, now
                    done += 1
                elif kind == H2_SETTINGS and not flags & 0x1:
                    st[0].send(h2_frame(H2_SETTINGS, 1, 0, b""))
                elif kind == H2_PING and not flags & 0x1:
                    st[0].send(h2_frame(H2_PING, 1, 0, payload))
                elif kind == H2_GOAWAY:
                    goaways += 1
            del buf[:pos]
    cpu1 = cpu_ticks(lc_pid)
    ep.close()
    statuses: dict[int, int] = {}
    firsts, kernel = [], []
    for st in state.values():
        for stream in st[2].values():
            statuses[stream[2] or 0] = statuses.get(stream[2] or 0, 0) + 1
            if stream[2] == 200 and stream[0] is not None:
                firsts.append(stream[0])
                if stream[1] is not None:
                    kernel.append(stream[1])
    res.update(rss0=rss0, rss1=rss1, rss2=rss2, peak_held=peak_held, statuses=statuses,
               answered=len(firsts), cpu_s=(cpu1 - cpu0) / CLK_TCK, sent=sent, goaways=goaways)
    if firsts and first is not None:
        lat = [(t - first) * 1000 for t in firsts]
        res.update(wait_s=first - t_sent, p50=pct(lat, 50), p99=pct(lat, 99), spread=max(lat),
                   done_spread=float("nan"), within_50=sum(1 for x in lat if x <= 50.0))
    if kernel:
        k0 = min(kernel)
        klat = [(t - k0) * 1000 for t in kernel]
        res.update(k_n=len(klat), k_p50=pct(klat, 50), k_p99=pct(klat, 99), k_spread=max(klat),
                   k_within_50=sum(1 for x in klat if x <= 50.0))
    for s in socks:
        s.close()
    time.sleep(1.5)
    res["rss3"] = rss_kib(lc_pid)
    res["held_after"] = (metric(edge, "livecdn_hls_held_requests") or 0.0) - held_before
    return res


# ---------------------------------------------------------------------------------------------


def log_problems(log: Path) -> list[str]:
    if not log.exists():
        return []
    return [ln for ln in log.read_text(errors="replace").splitlines()
            if re.search(r"\b(WARN|ERROR)\b", ln)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--livecdn", required=True)
    ap.add_argument("--port-base", type=int, default=23000)
    ap.add_argument("--connections", default="50,200,1000")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--duration", type=int, default=12,
                    help="seconds per wrk run; the newest segment stays servable ~13 s")
    ap.add_argument("--objects", default="demo-playlist,demo-part,demo-segment,cam-part,cam-segment")
    ap.add_argument("--held", default="10000", help="comma list of held-request counts; '' skips")
    ap.add_argument("--held-repeats", type=int, default=1)
    ap.add_argument("--held-h2", default="", help="comma list of held-request counts over h2c "
                    "(--h2-streams per connection); '' skips")
    ap.add_argument("--h2-streams", type=int, default=100,
                    help="held requests per HTTP/2 connection (hyper allows 200 at once)")
    ap.add_argument("--serve-bench", metavar="PATH",
                    help="instead of `livecdn dev`, start serve's serve_bench example (the edge's "
                    "HTTP stack and one synthetic `demo` stream, nothing else in the process) on "
                    "port-base + 81; held tests only")
    ap.add_argument("--warmup", type=float, default=15.0, help="seconds after edge A serves demo")
    ap.add_argument("--cam-video-kbps", type=int, default=1900)
    ap.add_argument("--input", help="reuse this mp4 for the cam stream instead of encoding one")
    ap.add_argument("--input-seconds", type=int, default=30)
    ap.add_argument("--nginx-tcp-nopush", choices=("on", "off"), default="on",
                    help="nginx tcp_nopush (TCP_CORK with sendfile); 'on' gives nginx ~40 ms p99 "
                    "on 64 KiB objects (delayed ACK), 'off' is nginx's default")
    ap.add_argument("--keep-tmp", action="store_true")
    args = ap.parse_args()
    args.conn_list = [int(c) for c in args.connections.split(",") if c]
    held_list = [int(c) for c in args.held.split(",") if c]
    h2_list = [int(c) for c in args.held_h2.split(",") if c]
    if args.serve_bench:
        args.objects = ""

    atexit.register(stop_all)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)

    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if held_list and max(held_list) + 200 > nofile:
        print(f"open-file limit {nofile} is too low for {max(held_list)} held requests", file=sys.stderr)
        return 2

    tmp = Path(tempfile.mkdtemp(prefix="edge-http-"))
    os.chmod(tmp, 0o755)  # nginx's worker runs unprivileged
    if not args.keep_tmp:
        atexit.register(shutil.rmtree, tmp, True)
    print(f"temp dir {tmp}; open-file limit {nofile}; load {loadavg1():.2f}", flush=True)

    edge_port = args.port_base + 81
    if args.serve_bench:
        if not port_free(edge_port, socket.SOCK_STREAM):
            raise RuntimeError(f"port {edge_port} in use")
        lc = spawn([args.serve_bench, "--port", str(edge_port)], tmp / "livecdn.log")
    else:
        lc = start_cluster(args, tmp)
    edge = f"http://127.0.0.1:{edge_port}"
    wait_stream(edge, "demo", 2, 90.0)
    print(f"edge A serves demo; warming up {args.warmup:.0f} s", flush=True)
    time.sleep(args.warmup)

    held_results = []
    for n in held_list:
        for _ in range(args.held_repeats):
            r = held_test(args, n, lc.pid, edge, edge_port)
            held_results.append(r)
            print(f"held {r}", flush=True)
            time.sleep(3)
    for n in h2_list:
        for _ in range(args.held_repeats):
            r = held_test_h2(args, n, args.h2_streams, lc.pid, edge, edge_port)
            held_results.append(r)
            print(f"held h2 {r}", flush=True)
            time.sleep(3)

    rows = []
    if args.objects:
        inp = make_input(args, tmp)
        spawn(["ffmpeg", "-nostdin", "-loglevel", "warning", "-re", "-stream_loop", "-1",
               "-i", str(inp), "-c", "copy", "-f", "flv",
               f"rtmp://127.0.0.1:{args.port_base - 6065}/live/cam-key"], tmp / "ffmpeg-cam.log")
        wait_stream(edge, "cam", 7, 90.0)
        nginx, nginx_port = start_nginx(tmp, args.nginx_tcp_nopush)
        print(f"nginx on {nginx_port} (pid {nginx.pid})", flush=True)
        rows = throughput(args, tmp, edge, nginx_port)

    # Report
    print("\n| object | bytes | conns | edge req/s | nginx req/s | edge/nginx | edge p50 ms | "
          "nginx p50 ms | edge p99 ms | nginx p99 ms | load (edge/nginx run) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        e, g = r["edge"], r["nginx"]
        print(f"| {r['kind']} | {r['bytes']} | {r['conns']} | {e['rps']:.0f} | {g['rps']:.0f} | "
              f"{e['rps'] / g['rps']:.2f} | {e['p50']:.2f} | {g['p50']:.2f} | {e['p99']:.2f} | "
              f"{g['p99']:.2f} | {e['load']:.1f}/{g['load']:.1f} |")
        for server in ("edge", "nginx"):
            if r[server]["non2xx"] or r[server]["errors"]:
                print(f"note: {r['kind']} c={r['conns']} {server}: non-2xx {r[server]['non2xx']}, "
                      f"socket errors {r[server]['errors']}")
    for r in held_results:
        if r.get("h2"):
            sent = max(1, r["sent"])
            print(f"\nheld h2 n={r['n']}: {r['open']} connections x {r['streams_per_conn']} "
                  f"streams (failed {r['connect_failed']}), sent in {r['send_s'] * 1000:.0f} ms, "
                  f"peak held gauge {r['peak_held']:.0f}, statuses {r['statuses']}, "
                  f"GOAWAYs {r['goaways']}")
            print(f"  RSS KiB: before {r['rss0']}, connections open {r['rss1']}, requests held "
                  f"{r['rss2']}, after close {r['rss3']}; per held request "
                  f"{(r['rss2'] - r['rss1']) / sent:.1f} KiB, per connection "
                  f"{(r['rss1'] - r['rss0']) / max(1, r['open']):.1f} KiB, both per request "
                  f"{(r['rss2'] - r['rss0']) / sent:.1f} KiB")
            if "p99" in r:
                print(f"  first answer {r['wait_s']:.2f} s after the last send; from the first: "
                      f"p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms, last {r['spread']:.1f} ms; "
                      f"within 50 ms {r['within_50']}/{r['answered']}; livecdn CPU "
                      f"{r['cpu_s']:.2f} s; held gauge after {r['held_after']:.0f}")
            if "k_p99" in r:
                print(f"  kernel receive timestamps ({r['k_n']}): p50 {r['k_p50']:.1f} ms, p99 "
                      f"{r['k_p99']:.1f} ms, last {r['k_spread']:.1f} ms; within 50 ms "
                      f"{r['k_within_50']}")
            continue
        per = (r["rss2"] - r["rss0"]) / max(1, r["open"])
        per_conn = (r["rss1"] - r["rss0"]) / max(1, r["open"])
        print(f"\nheld n={r['n']}: opened {r['open']} (failed {r['connect_failed']}) in "
              f"{r['connect_s']:.2f} s, sent in {r['send_s'] * 1000:.0f} ms, peak held gauge "
              f"{r['peak_held']:.0f}, statuses {r['statuses']}")
        print(f"  RSS KiB: before {r['rss0']}, connections open {r['rss1']}, requests held "
              f"{r['rss2']}, after close {r['rss3']}; per connection+held request "
              f"{per:.1f} KiB (idle connection {per_conn:.1f} KiB)")
        if "p99" in r:
            print(f"  first answer {r['wait_s']:.2f} s after the last send; from the first answer:"
                  f" p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms, last {r['spread']:.1f} ms"
                  f" (last complete {r['done_spread']:.1f} ms); within 50 ms {r['within_50']}"
                  f"/{r['answered']}; livecdn CPU {r['cpu_s']:.2f} s; held gauge after {r['held_after']:.0f}")
        if "k_p99" in r:
            print(f"  kernel receive timestamps ({r['k_n']}): p50 {r['k_p50']:.1f} ms, p99 "
                  f"{r['k_p99']:.1f} ms, last {r['k_spread']:.1f} ms; within 50 ms {r['k_within_50']}")
        if "connect_p99_ms" in r:
            print(f"  connect: p99 {r['connect_p99_ms']:.1f} ms, max {r['connect_max_ms']:.0f} ms,"
                  f" over 500 ms {r['connect_over_500ms']}; TcpExt ListenOverflows +{r['listen_overflows']}")
    problems = log_problems(tmp / "livecdn.log")
    print(f"\nlivecdn log WARN/ERROR lines: {len(problems)}")
    for ln in problems[:20]:
        print("  " + ln[:300])
    mt = metrics_text(edge)
    print("edge A responses by status: " + ", ".join(
        ln for ln in mt.splitlines() if "status=" in ln and not ln.startswith("#")))
    if (tmp / "nginx-error.log").exists():
        errs = (tmp / "nginx-error.log").read_text(errors="replace").strip().splitlines()
        print(f"nginx error log lines: {len(errs)}")
        for ln in errs[:10]:
            print("  " + ln[:300])
    return 0


if __name__ == "__main__":
    sys.exit(main())
