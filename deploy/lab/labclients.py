"""The lab's clients, stdlib only: HTTP, a Prometheus text parser, an LL-HLS viewer that measures
latency, and a minimal RFC 6455 WebSocket client for chat.

Each client runs in its own thread, which first moves into its region's network namespace
(`labnet.setns`), so its sockets are made there and its traffic crosses the lab's links like a
real viewer's would. One process, one clock: delays are differences of time.time() readings.
"""

import base64
import calendar
import hashlib
import http.client
import json
import os
import re
import socket
import struct
import threading
import time
import urllib.parse

import labnet


def in_ns(ns, fn, *args, timeout=30):
    """Runs fn(*args) in a short-lived thread inside namespace `ns`; returns or raises its result."""
    box = {}

    def body():
        try:
            labnet.setns(ns)
            box["value"] = fn(*args)
        except BaseException as e:  # handed to the caller
            box["error"] = e

    t = threading.Thread(target=body, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise TimeoutError(f"{fn.__name__} in {ns} took over {timeout}s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def http_get(url, timeout=5.0, headers=None):
    """One GET on a fresh connection: (status, headers dict, body bytes)."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
    try:
        path = u.path + ("?" + u.query if u.query else "")
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


class KeepAlive:
    """GETs over one kept-alive connection per host, reopened after any failure."""

    def __init__(self, timeout):
        self.timeout = timeout
        self.conns = {}

    def get(self, url):
        u = urllib.parse.urlsplit(url)
        key = (u.hostname, u.port or 80)
        conn = self.conns.get(key)
        if conn is None:
            conn = http.client.HTTPConnection(*key, timeout=self.timeout)
            self.conns[key] = conn
        try:
            conn.request("GET", u.path + ("?" + u.query if u.query else ""))
            resp = conn.getresponse()
            return resp.status, resp.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            del self.conns[key]
            raise

    def close(self):
        for conn in self.conns.values():
            conn.close()
        self.conns = {}


# --- Prometheus text ---

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)')


def parse_metrics(text):
    """{(name, labels-string): value} from the Prometheus text format."""
    out = {}
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if m and not line.startswith("#"):
            try:
                out[(m.group(1), m.group(2) or "")] = float(m.group(3))
            except ValueError:
                pass
    return out


def histogram(samples, name):
    """(buckets [(le, cumulative count)], count, sum) of an unlabelled histogram."""
    buckets = []
    for (n, labels), v in samples.items():
        if n == f"{name}_bucket":
            le = re.search(r'le="([^"]+)"', labels).group(1)
            buckets.append((float("inf") if le == "+Inf" else float(le), v))
    buckets.sort()
    return buckets, samples.get((f"{name}_count", ""), 0.0), samples.get((f"{name}_sum", ""), 0.0)


def histogram_delta(after, before):
    """after - before, bucket by bucket (the observations made between two scrapes)."""
    b_before = dict(before[0])
    buckets = [(le, c - b_before.get(le, 0.0)) for le, c in after[0]]
    return buckets, after[1] - before[1], after[2] - before[2]


def histogram_quantile(q, buckets):
    """Like PromQL's histogram_quantile: linear inside the bucket; None without data."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    total = buckets[-1][1]
    rank = q * total
    prev_le, prev_c = 0.0, 0.0
    for le, c in buckets:
        if c >= rank:
            if le == float("inf"):
                return prev_le
            if c == prev_c:
                return le
            return prev_le + (le - prev_le) * (rank - prev_c) / (c - prev_c)
        prev_le, prev_c = le, c
    return buckets[-1][0]


def percentile(values, q):
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


# --- LL-HLS ---

_HINT = re.compile(r'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="[^"]*?part(\d+)\.(\d+)\.m4s"')


def _pdt(value):
    """EXT-X-PROGRAM-DATE-TIME (ISO 8601 with Z or +00:00) to Unix seconds."""
    m = re.match(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?", value)
    y, mo, d, h, mi, s = (int(x) for x in m.groups()[:6])
    frac = float(m.group(7) or 0)
    return calendar.timegm((y, mo, d, h, mi, s)) + frac


def newest_part(playlist):
    """The newest complete part of a media playlist: its URI and the wall-clock time its media
    ends (the segment's EXT-X-PROGRAM-DATE-TIME, or the previous segment's end, plus the durations
    of the parts before it and its own), the hint (msn, part), PART-HOLD-BACK and whether the
    playlist holds a discontinuity."""
    segs, cur = [], {"pdt": None, "parts": []}
    hold_back, disc = None, False
    for line in playlist.splitlines():
        if line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            cur["pdt"] = _pdt(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-PART:"):
            dur = float(re.search(r"DURATION=([\d.]+)", line).group(1))
            uri = re.search(r'URI="([^"]+)"', line).group(1)
            cur["parts"].append((dur, uri))
        elif line.startswith("#EXTINF:"):
            cur["dur"] = float(line.split(":", 1)[1].split(",")[0])
        elif line.startswith("#EXT-X-DISCONTINUITY") and not line.startswith(
                "#EXT-X-DISCONTINUITY-SEQUENCE"):
            disc = True
        elif line.startswith("#EXT-X-SERVER-CONTROL:"):
            m = re.search(r"PART-HOLD-BACK=([\d.]+)", line)
            hold_back = float(m.group(1)) if m else None
        elif line and not line.startswith("#"):
            segs.append(cur)
            cur = {"pdt": None, "parts": []}
    start = None
    for seg in segs:
        start = seg["pdt"] if seg["pdt"] is not None else (
            None if start is None else start + prev_dur)
        seg["start"] = start
        prev_dur = seg.get("dur", 0.0)
    if cur["parts"]:
        cur["start"] = cur["pdt"] if cur["pdt"] is not None else (
            None if not segs or segs[-1]["start"] is None else segs[-1]["start"] + prev_dur)
        last = cur
    elif segs and segs[-1]["parts"]:
        last = segs[-1]
    else:
        return None
    hint = _HINT.search(playlist)
    if last["start"] is None:
        return None
    end = last["start"] + sum(d for d, _ in last["parts"])
    return {"uri": last["parts"][-1][1], "end": end,
            "hint": (int(hint.group(1)), int(hint.group(2))) if hint else None,
            "hold_back": hold_back, "discontinuity": disc}


class Viewer(threading.Thread):
    """An LL-HLS client in one region: asks the control plane where to play (`/v1/play`, JSON),
    then follows the live edge with blocking playlist reloads, downloading each newest part.
    Latency sample = time the part's bytes are in minus the wall-clock end of its media (from
    EXT-X-PROGRAM-DATE-TIME, stamped at the origin's ingest). A part counts as new only if its
    media ends after everything this viewer already had (so a stale window on another edge is
    not progress). On an error, no new part for `stall_s`, or a request taking over
    `stall_s` + 0.5 s, the edge counts as failed for FAILED_FOR seconds and the viewer asks `/v1/play` again
    with `avoid=` the edges that failed recently, taking the answer's first edge (chosen, then
    alternatives) that has not failed recently."""

    FAILED_FOR = 10.0

    def __init__(self, region, ns, control_url, stream, stop, stall_s=2.0):
        super().__init__(daemon=True, name=f"viewer-{region}")
        self.region, self.ns, self.cp, self.stream, self.stop = region, ns, control_url, stream, stop
        self.stall_s = stall_s
        self.samples = []      # (t, latency_s, edge_id)
        self.parts = []        # (t, part end wall clock, edge_id) per new part
        self.events = []       # (t, text)
        self.hold_back = None
        self.disc_seen_at = []  # times a playlist showed EXT-X-DISCONTINUITY
        self.edge = None
        self.failed = {}       # edge id -> time it failed
        self.newest_end = None

    def log(self, text):
        self.events.append((time.time(), text))

    def resolve(self):
        # Edges this viewer just failed on go in `avoid`: the control plane leaves them out, and
        # the edges they feed, before its failure detector has noticed anything.
        now = time.time()
        avoid = ",".join(e for e, t in self.failed.items() if now - t <= self.FAILED_FOR)
        query = f"?avoid={avoid}" if avoid else ""
        status, _, body = http_get(f"{self.cp}/v1/play/{self.stream}{query}",
                                   headers={"accept": "application/json"}, timeout=3)
        if status != 200:
            raise RuntimeError(f"/v1/play {status}: {body[:120]!r}")
        answer = json.loads(body)
        now = time.time()
        for target in [answer["chosen"]] + answer.get("alternatives", []):
            if now - self.failed.get(target["id"], 0) > self.FAILED_FOR:
                return target["id"], f"{target['url'].rstrip('/')}/live/{self.stream}/index.m3u8"
        return answer["chosen"]["id"], answer["url"]

    def run(self):
        labnet.setns(self.ns)
        # Requests may take a TCP retransmission (~1 s initial RTO) on lossy cross-region paths.
        client = KeepAlive(timeout=self.stall_s + 0.5)
        last_progress = time.time()
        while not self.stop.is_set():
            try:
                edge, master_url = self.resolve()
                if edge != self.edge:
                    self.log(f"playing from {edge}")
                self.edge = edge
                status, body = client.get(master_url)
                if status != 200:
                    raise RuntimeError(f"multivariant {status}")
                media = next(l for l in body.decode().splitlines() if l and not l.startswith("#"))
                media_url = urllib.parse.urljoin(master_url, media)
                query = ""
                while not self.stop.is_set():
                    status, body = client.get(media_url + query)
                    if status != 200:
                        raise RuntimeError(f"playlist {status}")
                    info = newest_part(body.decode())
                    if info is None:
                        raise RuntimeError("playlist without parts or PROGRAM-DATE-TIME")
                    self.hold_back = info["hold_back"]
                    if info["discontinuity"]:
                        self.disc_seen_at.append(time.time())
                    if self.newest_end is None or info["end"] > self.newest_end + 1e-6:
                        status, _ = client.get(urllib.parse.urljoin(media_url, info["uri"]))
                        if status != 200:
                            raise RuntimeError(f"part {status}")
                        now = time.time()
                        self.samples.append((now, now - info["end"], edge))
                        self.parts.append((now, info["end"], edge))
                        self.newest_end, last_progress = info["end"], now
                    elif time.time() - last_progress > self.stall_s:
                        raise RuntimeError(f"no new part for {self.stall_s:g}s")
                    if info["hint"]:
                        msn, part = info["hint"]
                        query = f"?_HLS_msn={msn}&_HLS_part={part}"
                    else:
                        query = ""
                        time.sleep(0.1)
            except Exception as e:  # any failure: log it, re-ask the control plane
                self.log(f"{self.edge}: {type(e).__name__}: {str(e)[:100]}")
                if self.edge:
                    self.failed[self.edge] = time.time()
                client.close()
                last_progress = time.time()
                self.stop.wait(0.1)


# --- WebSocket (RFC 6455, client side, text frames) ---

class WebSocket:
    def __init__(self, url, timeout=10.0):
        u = urllib.parse.urlsplit(url)
        self.sock = socket.create_connection((u.hostname, u.port or 80), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        path = u.path + ("?" + u.query if u.query else "")
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
                          .encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed during the handshake")
            head += chunk
        head, self.buf = head.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        if " 101 " not in lines[0] + " ":
            raise ConnectionError(f"upgrade refused: {lines[0]}")
        accept = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        if not any(l.lower() == f"sec-websocket-accept: {accept}".lower() for l in lines):
            raise ConnectionError("bad Sec-WebSocket-Accept")
        self.sock.settimeout(None)
        self.send_lock = threading.Lock()
        self.close_code = None

    def _frame(self, opcode, payload):
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        with self.send_lock:
            self.sock.sendall(head + mask + masked)

    def send_text(self, text):
        self._frame(0x1, text.encode())

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv_text(self):
        """The next text message; None once the server closed. Answers pings."""
        message = b""
        while True:
            b0, b1 = self._read(2)
            opcode, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            payload = self._read(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x8:
                self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                return None
            if opcode == 0x9:
                self._frame(0xA, payload)
                continue
            if opcode in (0x1, 0x0):
                message += payload
                if b0 & 0x80:
                    return message.decode()
            # pong and binary frames are ignored

    def close(self):
        try:
            self._frame(0x8, struct.pack("!H", 1000))
        except OSError:
            pass
        self.sock.close()


class ChatClient(threading.Thread):
    """A chatter in one region: gets a relay and a guest token from the control plane
    (`/v1/chat/{room}`, routed by the client's address), connects, records every sequenced
    event's arrival time, and sends chats on request (retrying `unavailable` with the same
    client_id, which the home deduplicates)."""

    def __init__(self, region, ns, control_url, room, stop):
        super().__init__(daemon=True, name=f"chat-{region}")
        self.region, self.ns, self.cp, self.room, self.stop = region, ns, control_url, room, stop
        self.ready = threading.Event()
        self.events = {}       # seq -> (arrival time, client_id)
        self.order = []        # seqs in arrival order
        self.acks = {}         # client_id -> seq
        self.unavailable = {}  # client_id -> count of `unavailable` errors
        self.errors = []
        self.relay = None
        self.ws = None
        self.outbox = []
        self.texts = {}        # client_id -> text, for retries
        self.lock = threading.Lock()

    def send(self, client_id, text, delay=0.0):
        with self.lock:
            self.texts[client_id] = text
            self.outbox.append((time.time() + delay, client_id, text))

    def _connect(self):
        status, _, body = http_get(f"{self.cp}/v1/chat/{self.room}?name=lab-{self.region}",
                                   timeout=5)
        if status != 200:
            raise RuntimeError(f"/v1/chat {status}: {body[:120]!r}")
        a = json.loads(body)
        self.relay = a["relay"]
        since = f"&since={self.order[-1]}" if self.order else ""
        q = urllib.parse.urlencode({"room": self.room, "token": a["token"]})
        return WebSocket(f"{a['ws_url']}?{q}{since}")

    def run(self):
        labnet.setns(self.ns)
        for _ in range(20):
            if self.stop.is_set():
                return
            try:
                self.ws = self._connect()
                break
            except Exception as e:
                self.errors.append(f"connect: {e}")
                self.stop.wait(1)
        else:
            return
        writer = threading.Thread(target=self._writer, daemon=True)
        writer.start()
        try:
            while not self.stop.is_set():
                text = self.ws.recv_text()
                if text is None:
                    self.errors.append(f"closed {self.ws.close_code}")
                    return
                self._handle(json.loads(text), time.time())
        except Exception as e:
            if not self.stop.is_set():
                self.errors.append(f"read: {e}")
        finally:
            self.ws.close()

    def _writer(self):
        # Runs in a thread that inherited nothing: it only writes on an existing socket.
        while not self.stop.is_set():
            now = time.time()
            with self.lock:
                batch = [m for m in self.outbox if m[0] <= now]
                self.outbox = [m for m in self.outbox if m[0] > now]
            for _, client_id, text in batch:
                try:
                    self.ws.send_text(json.dumps({"type": "chat", "text": text,
                                                  "client_id": client_id}))
                except OSError as e:
                    self.errors.append(f"send: {e}")
            self.stop.wait(0.02)

    def _handle(self, frame, now):
        kind = frame.get("type")
        if kind == "welcome":
            self.ready.set()
            for ev in frame.get("history", []):
                if frame.get("resumed"):
                    self._event(ev, now)
        elif kind in ("chat", "gift", "system") and "seq" in frame:
            self._event(frame, now)
        elif kind == "ack" and "client_id" in frame:
            self.acks[frame["client_id"]] = frame["seq"]
        elif kind == "error":
            cid = frame.get("client_id")
            if frame.get("code") == "unavailable" and cid:
                self.unavailable[cid] = self.unavailable.get(cid, 0) + 1
                # A retry with the same client_id: the home deduplicates it (§6.3).
                self.send(cid, self.texts.get(cid, cid), delay=1.0)
            else:
                self.errors.append(f"error {frame.get('code')}: {frame.get('message')}")

    def _event(self, ev, now):
        seq = ev["seq"]
        if seq in self.events:
            self.errors.append(f"duplicate seq {seq}")
            return
        self.events[seq] = (now, ev.get("client_id"))
        self.order.append(seq)
