#!/usr/bin/env bash
# Control-plane load: routing decisions/s with 1 000 edges, and the CPU of heartbeat ingestion
# from 1 000 nodes. See tools/bench/README.md.
#
#   tools/bench/control_plane.sh [--edges 1000] [--connections 64] [--duration 10]
#                                [--window 20] [--keep-tmp]
#   LIVECDN_BIN=... CP_BENCH_BIN=... tools/bench/control_plane.sh   # skip the cargo build
#
# Builds the release binaries (honours CARGO_TARGET_DIR), starts `livecdn control-plane` on a
# free 127.0.0.1 port with SQLite in a temp dir, pinned to core 0, runs the generator
# (livecdn-cp-bench) pinned to core 1 (`heartbeat`, then `route`), stops the control plane by
# PID and prints the results.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$repo"

edges=1000 connections=64 duration=10 window=20 keep_tmp=0
while [ $# -gt 0 ]; do
    case "$1" in
        --edges) edges="$2"; shift 2 ;;
        --connections) connections="$2"; shift 2 ;;
        --duration) duration="$2"; shift 2 ;;
        --window) window="$2"; shift 2 ;;
        --keep-tmp) keep_tmp=1; shift ;;
        *) echo "control_plane.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

for tool in taskset curl; do
    command -v "$tool" >/dev/null 2>&1 || { echo "control_plane.sh: $tool is required" >&2; exit 2; }
done
if [ "$(nproc --all)" -lt 2 ]; then
    echo "control_plane.sh: needs 2 cores (control plane on 0, generator on 1)" >&2
    exit 2
fi

if [ -z "${LIVECDN_BIN:-}" ] || [ -z "${CP_BENCH_BIN:-}" ]; then
    cargo build --release --locked -p livecdn -p livecdn-cp-bench
    target="${CARGO_TARGET_DIR:-$repo/target}"
    LIVECDN_BIN="${LIVECDN_BIN:-$target/release/livecdn}"
    CP_BENCH_BIN="${CP_BENCH_BIN:-$target/release/livecdn-cp-bench}"
fi

tmp="$(mktemp -d -t livecdn-cp-bench.XXXXXX)"
cp_pid=""
cleanup() {
    if [ -n "$cp_pid" ] && kill -0 "$cp_pid" 2>/dev/null; then
        kill -TERM "$cp_pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$cp_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$cp_pid" 2>/dev/null || true
        wait "$cp_pid" 2>/dev/null || true
    fi
    if [ "$keep_tmp" = 1 ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

token() { od -An -tx1 -N16 /dev/urandom | tr -d ' \n'; }
admin_token="$(token)"
node_token="$(token)"
port="$("$CP_BENCH_BIN" free-port)"
base="http://127.0.0.1:$port"

# Distances between the generator's 5 regions (eu us ap sa af), as in the directory's
# criterion bench: 50 per step in the list, plus 10 per index of the first.
{
    printf '[http]\nlisten = "127.0.0.1:%s"\n' "$port"
    printf '[database]\nurl = "sqlite://%s/cp.db"\n' "$tmp"
    printf '[auth]\nadmin_tokens = ["%s"]\nnode_tokens = ["%s"]\n' "$admin_token" "$node_token"
    printf '[shutdown]\ndrain_deadline = "1s"\n'
    regions=(eu us ap sa af)
    for i in 0 1 2 3 4; do
        for j in $(seq $((i + 1)) 4); do
            printf '[[routing.distances]]\na = "%s"\nb = "%s"\ndistance = %d\n' \
                "${regions[$i]}" "${regions[$j]}" $((50 * (j - i) + 10 * i))
        done
    done
} >"$tmp/cp.toml"

# No LIVECDN_* override from the caller's environment.
unset_livecdn=()
while IFS= read -r name; do unset_livecdn+=(-u "$name"); done \
    < <(env | sed -n 's/^\(LIVECDN_[A-Za-z0-9_]*\)=.*/\1/p')

env "${unset_livecdn[@]}" taskset -c 0 "$LIVECDN_BIN" control-plane --config "$tmp/cp.toml" \
    >"$tmp/cp.log" 2>&1 &
cp_pid=$!
for _ in $(seq 150); do
    curl -fsS -o /dev/null "$base/readyz" 2>/dev/null && break
    kill -0 "$cp_pid" 2>/dev/null || { cat "$tmp/cp.log" >&2; echo "control plane exited" >&2; exit 1; }
    sleep 0.1
done
curl -fsS -o /dev/null "$base/readyz" || { echo "control plane not ready after 15 s" >&2; exit 1; }
echo "control plane pid $cp_pid on $base (core 0); generator on core 1; temp dir $tmp"

load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
bench() {
    CP_BENCH_NODE_TOKEN="$node_token" taskset -c 1 "$CP_BENCH_BIN" --base "$base" \
        --edges "$edges" "$@" | tee -a "$tmp/out.txt"
}
bench heartbeat --pid "$cp_pid" --window "$window"
kill -0 "$cp_pid" || { echo "control plane died" >&2; exit 1; }
bench route --pid "$cp_pid" --connections "$connections" --duration "$duration"
kill -0 "$cp_pid" || { echo "control plane died" >&2; exit 1; }
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"
rss_kib="$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$cp_pid/status")"
warnings="$(grep -cE ' (WARN|ERROR) ' "$tmp/cp.log" || true)"

echo
echo "== results, $(date -u '+%Y-%m-%d %H:%M UTC') =="
echo "machine: $(nproc --all) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
    "shared with other work), Linux $(uname -r); load average before $load_before, after $load_after"
echo "control plane on core 0 (RSS at end $((rss_kib / 1024)) MiB, $warnings WARN/ERROR log lines);" \
    "generator on core 1; $edges edges + 1 origin"
grep '^RESULT' "$tmp/out.txt"
