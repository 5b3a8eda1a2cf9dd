"""The lab's network: namespaces, links and per-pair delay and loss.

Everything here lives in network namespaces named with PREFIX; the host's own namespace gets
no interface, address or route. Two ways to impair the links between regions:

- "netem": a router namespace (PREFIX-core) with one veth pair per region (the region end is
  created directly in the region's namespace), IP forwarding in the router only, and on each
  router-side veth an htb root with one class per source region, each with a `tc netem` leaf
  (one-way delay = RTT/2, loss). Needs the kernel's sch_netem.
- "userspace": for kernels without sch_netem. A small router process (`python3 labnet.py
  router`, started inside PREFIX-core) creates one TUN device directly inside each region's
  namespace (it enters the namespace with setns(2) only to create it) and forwards IPv4 packets
  between them, holding each for the pair's one-way delay and dropping the pair's loss rate.

Both give the same addressing: region i has 10.77.i.2/24 in its namespace, and 10.77.0.0/16 is
reached through the lab link. Traffic inside one region (one namespace) is not impaired.
"""

import ctypes
import fcntl
import heapq
import json
import os
import random
import re
import selectors
import signal
import struct
import subprocess
import sys
import time

PREFIX = "lvlab"
CORE = f"{PREFIX}-core"
NET = "10.77"
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1

_libc = ctypes.CDLL(None, use_errno=True)


def ns_name(region):
    return f"{PREFIX}-{region}"


def node_addr(index):
    return f"{NET}.{index}.2"


def setns(name_or_path):
    """Moves the calling thread (only it) into a network namespace."""
    path = name_or_path if name_or_path.startswith("/") else f"/run/netns/{name_or_path}"
    fd = os.open(path, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns {path}: {os.strerror(err)}")
    finally:
        os.close(fd)


def die_with_parent():
    """preexec_fn: the child gets SIGKILL if the lab process dies (even by SIGKILL)."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def run(*args, check=True):
    """Runs one command (ip, tc); returns its stdout."""
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=20)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {done.stderr.strip() or done.returncode}")
    return done.stdout


def ns_run(ns, *args, check=True):
    return run("ip", "netns", "exec", ns, *args, check=check)


def lab_namespaces():
    """Namespaces that carry the lab's prefix (leftovers included)."""
    out = run("ip", "netns", "list", check=False)
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    return [n for n in names if n.startswith(f"{PREFIX}-")]


def netem_available():
    """Probes sch_netem inside a throwaway lab namespace (never on the host's interfaces)."""
    probe = f"{PREFIX}-probe"
    try:
        run("ip", "netns", "add", probe)
        ns_run(probe, "ip", "link", "add", "lvp0", "type", "veth", "peer", "name", "lvp1")
        done = subprocess.run(
            ["ip", "netns", "exec", probe, "tc", "qdisc", "add", "dev", "lvp0", "root",
             "netem", "delay", "1ms"], capture_output=True, timeout=20)
        return done.returncode == 0
    finally:
        run("ip", "netns", "del", probe, check=False)


class Network:
    """Builds the namespaces and links; `set_pair` changes one direction's delay and loss."""

    def __init__(self, regions, matrix, mode, lab):
        self.regions = regions          # {"eu": 1, ...}
        self.matrix = matrix            # {(a, b): (rtt_ms, loss_fraction)}, a < b
        self.mode = mode
        self.lab = lab                  # owner of processes (for the userspace router)
        self.router = None
        self.created = []

    def pair(self, src, dst):
        key = (src, dst) if (src, dst) in self.matrix else (dst, src)
        rtt, loss = self.matrix[key]
        return rtt / 2.0, loss

    def build(self):
        for name in [CORE] + [ns_name(r) for r in self.regions]:
            run("ip", "netns", "add", name)
            self.created.append(name)
            ns_run(name, "ip", "link", "set", "lo", "up")
        if self.mode == "netem":
            self._build_netem()
        else:
            self._build_userspace()

    def destroy(self):
        for name in reversed(self.created):
            run("ip", "netns", "del", name, check=False)
        self.created = []

    # netem: veths to a router namespace, netem per (source region, destination region).
    def _build_netem(self):
        ns_run(CORE, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        for region, i in self.regions.items():
            core_if, reg_if = f"lvc-{region}", f"lvr-{region}"
            # gso_max_segs 1: the stack hands each packet to the link separately. Otherwise a
            # GSO burst (QUIC's UDP_SEGMENT sends, TCP's TSO) crosses the veth as one skb, and
            # netem drops or keeps it whole: fewer, burstier losses than the matrix says.
            ns_run(CORE, "ip", "link", "add", core_if, "gso_max_segs", "1", "type", "veth",
                   "peer", "name", reg_if, "gso_max_segs", "1", "netns", ns_name(region))
            ns_run(CORE, "ip", "addr", "add", f"{NET}.{i}.1/24", "dev", core_if)
            ns_run(CORE, "ip", "link", "set", core_if, "up")
            ns = ns_name(region)
            ns_run(ns, "ip", "addr", "add", f"{node_addr(i)}/24", "dev", reg_if)
            ns_run(ns, "ip", "link", "set", reg_if, "up")
            ns_run(ns, "ip", "route", "add", f"{NET}.0.0/16", "via", f"{NET}.{i}.1")
            # Egress toward `region`: one class per source region, each with its netem leaf.
            ns_run(CORE, "tc", "qdisc", "add", "dev", core_if, "root", "handle", "1:", "htb")
            for src, j in self.regions.items():
                if src == region:
                    continue
                ns_run(CORE, "tc", "class", "add", "dev", core_if, "parent", "1:",
                       "classid", f"1:{10 + j}", "htb", "rate", "1gbit")
                delay, loss = self.pair(src, region)
                ns_run(CORE, "tc", "qdisc", "add", "dev", core_if, "parent", f"1:{10 + j}",
                       "handle", f"{10 + j}:", *_netem_args(delay, loss))
                ns_run(CORE, "tc", "filter", "add", "dev", core_if, "parent", "1:",
                       "protocol", "ip", "prio", "1", "u32", "match", "ip", "src",
                       f"{NET}.{j}.0/24", "flowid", f"1:{10 + j}")

    # userspace: TUN devices in each region, a forwarding router in the core namespace.
    def _build_userspace(self):
        spec = {"regions": self.regions,
                "pairs": {f"{a}>{b}": list(self.pair(a, b))
                          for a in self.regions for b in self.regions if a != b}}
        self.router = self.lab.spawn(
            "router", CORE, [sys.executable, os.path.abspath(__file__), "router",
                             json.dumps(spec)], stdin=subprocess.PIPE)
        line = self.router.stdout_line(timeout=10)
        if line != "ready":
            raise RuntimeError(f"the userspace router did not start: {line!r}")
        for region, i in self.regions.items():
            ns = ns_name(region)
            ns_run(ns, "ip", "addr", "add", f"{node_addr(i)}/24", "dev", f"lvt-{region}")
            ns_run(ns, "ip", "link", "set", f"lvt-{region}", "up")
            ns_run(ns, "ip", "route", "add", f"{NET}.0.0/16", "dev", f"lvt-{region}")

    def set_pair(self, src, dst, delay_ms, loss):
        """One direction, src -> dst: one-way delay and loss fraction."""
        if self.mode == "netem":
            j = self.regions[src]
            ns_run(CORE, "tc", "qdisc", "change", "dev", f"lvc-{dst}", "parent",
                   f"1:{10 + j}", "handle", f"{10 + j}:", *_netem_args(delay_ms, loss))
        else:
            self.router.send_line(json.dumps({"pair": f"{src}>{dst}",
                                              "delay_ms": delay_ms, "loss": loss}))

    def link_counters(self):
        """netem only: {(src, dst): (packets sent, bytes sent, packets dropped)} from the netem
        leaves' statistics (`tc -s qdisc` in the router namespace); {} for the userspace router."""
        if self.mode != "netem":
            return {}
        leaf = {f"{10 + j}": src for src, j in self.regions.items()}  # handles, as tc prints them
        out = {}
        for dst in self.regions:
            text = ns_run(CORE, "tc", "-s", "qdisc", "show", "dev", f"lvc-{dst}", check=False)
            for m in re.finditer(r"qdisc netem (\w+): [^\n]*\n\s*Sent (\d+) bytes (\d+) pkt "
                                 r"\(dropped (\d+)", text):
                if m.group(1) in leaf:
                    out[(leaf[m.group(1)], dst)] = (int(m.group(3)), int(m.group(2)),
                                                    int(m.group(4)))
        return out

    def cut(self, region):
        """100 % loss on every pair to and from `region` (a silent blackhole, not link down)."""
        for other in self.regions:
            if other != region:
                self.set_pair(region, other, self.pair(region, other)[0], 1.0)
                self.set_pair(other, region, self.pair(other, region)[0], 1.0)

    def restore(self, region):
        for other in self.regions:
            if other != region:
                self.set_pair(region, other, *self.pair(region, other))
                self.set_pair(other, region, *self.pair(other, region))


def _netem_args(delay_ms, loss):
    return ["netem", "delay", f"{delay_ms:g}ms", "loss", f"{loss * 100:g}%", "limit", "10000"]


# --- the userspace router (runs as its own process inside PREFIX-core) ---

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
MAX_QUEUED = 20000


def _open_tun(ns, name):
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        setns(ns)
        fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", name.encode(), IFF_TUN | IFF_NO_PI))
        return fd
    finally:
        if _libc.setns(home, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns back")
        os.close(home)


def router_main(spec_json):
    spec = json.loads(spec_json)
    regions = spec["regions"]
    pairs = {k: (v[0] / 1000.0, v[1]) for k, v in spec["pairs"].items()}
    by_octet = {i: r for r, i in regions.items()}
    fds = {r: _open_tun(ns_name(r), f"lvt-{r}") for r in regions}
    sel = selectors.DefaultSelector()
    for region, fd in fds.items():
        sel.register(fd, selectors.EVENT_READ, region)
    os.set_blocking(sys.stdin.fileno(), False)
    sel.register(sys.stdin.fileno(), selectors.EVENT_READ, None)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("ready", flush=True)
    queue, seq, pending = [], 0, ""
    counts = {"forwarded": 0, "dropped": 0}
    while True:
        timeout = max(0.0, queue[0][0] - time.monotonic()) if queue else 1.0
        for key, _ in sel.select(timeout):
            if key.data is None:  # a command from the lab: {"pair","delay_ms","loss"}
                chunk = os.read(key.fd, 65536).decode()
                if not chunk:
                    return  # the lab closed our stdin: it is going away
                pending += chunk
                while "\n" in pending:
                    line, pending = pending.split("\n", 1)
                    cmd = json.loads(line)
                    pairs[cmd["pair"]] = (cmd["delay_ms"] / 1000.0, cmd["loss"])
                continue
            for _ in range(256):
                try:
                    pkt = os.read(key.fd, 65536)
                except BlockingIOError:
                    break
                if len(pkt) < 20 or pkt[0] >> 4 != 4 or pkt[16] != 10 or pkt[17] != 77:
                    continue  # only IPv4 inside 10.77/16 crosses the lab
                dst = by_octet.get(pkt[18])
                if dst is None or dst == key.data:
                    continue
                delay, loss = pairs[f"{key.data}>{dst}"]
                if loss > 0 and random.random() < loss or len(queue) >= MAX_QUEUED:
                    counts["dropped"] += 1
                    continue
                seq += 1
                heapq.heappush(queue, (time.monotonic() + delay, seq, fds[dst], pkt))
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, fd, pkt = heapq.heappop(queue)
            try:
                os.write(fd, pkt)
                counts["forwarded"] += 1
            except OSError:
                counts["dropped"] += 1


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "router":
    router_main(sys.argv[2])
