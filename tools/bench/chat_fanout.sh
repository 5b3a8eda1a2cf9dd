#!/usr/bin/env bash
# Chat relay speed, against a plain Node `ws` broadcast server in the same run: fan-out of one
# room of 10 000 WebSocket clients with 200 chats/s sent in (deliveries/s per server core,
# send-to-receive delay), memory per idle connection (one room, and many rooms), and
# optionally gift commits/s. See tools/bench/README.md.
#
#   tools/bench/chat_fanout.sh [--clients 10000] [--senders 4] [--rate 200] [--window 20]
#                              [--sample 500] [--connect-rate 2000] [--rooms 100]
#                              [--repeats 1] [--servers relay,peer] [--gifts]
#                              [--gift-clients 64] [--gift-rooms 16] [--keep-tmp]
#                              [--db-sync full|normal]
#   LIVECDN_BIN=... CHAT_BENCH_BIN=... tools/bench/chat_fanout.sh   # skip the cargo build
#
# Builds the release binaries (honours CARGO_TARGET_DIR), installs the peer's `ws` with
# `npm ci`, then for each repeat and server (the order alternates between repeats) starts a
# fresh server on a free 127.0.0.1 port pinned to core 0, runs the generator
# (livecdn-chat-bench) pinned to core 1, stops the server by PID, and prints the RESULT lines
# and a table. Every started process is stopped by PID on exit or interrupt.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$repo"

clients=10000 senders=4 rate=200 window=20 sample=500 connect_rate=2000 rooms=100
repeats=1 servers="relay,peer" gifts=0 gift_clients=64 gift_rooms=16 keep_tmp=0 db_sync=full
while [ $# -gt 0 ]; do
    case "$1" in
        --clients) clients="$2"; shift 2 ;;
        --senders) senders="$2"; shift 2 ;;
        --rate) rate="$2"; shift 2 ;;
        --window) window="$2"; shift 2 ;;
        --sample) sample="$2"; shift 2 ;;
        --connect-rate) connect_rate="$2"; shift 2 ;;
        --rooms) rooms="$2"; shift 2 ;;
        --repeats) repeats="$2"; shift 2 ;;
        --servers) servers="$2"; shift 2 ;;
        --gifts) gifts=1; shift ;;
        --gift-clients) gift_clients="$2"; shift 2 ;;
        --gift-rooms) gift_rooms="$2"; shift 2 ;;
        --keep-tmp) keep_tmp=1; shift ;;
        # SQLite `synchronous` of the relay's chat log: full (the default, an fsync per commit)
        # or normal (WAL without fsync per commit: survives kill -9, not power loss).
        --db-sync) db_sync="$2"; shift 2 ;;
        *) echo "chat_fanout.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

for tool in taskset curl node npm; do
    command -v "$tool" >/dev/null 2>&1 || { echo "chat_fanout.sh: $tool is required" >&2; exit 2; }
done
if [ "$(nproc --all)" -lt 2 ]; then
    echo "chat_fanout.sh: needs 2 cores (server on 0, generator on 1)" >&2
    exit 2
fi

if [ -z "${LIVECDN_BIN:-}" ] || [ -z "${CHAT_BENCH_BIN:-}" ]; then
    cargo build --release --locked -p livecdn -p livecdn-chat-bench
    target="${CARGO_TARGET_DIR:-$repo/target}"
    LIVECDN_BIN="${LIVECDN_BIN:-$target/release/livecdn}"
    CHAT_BENCH_BIN="${CHAT_BENCH_BIN:-$target/release/livecdn-chat-bench}"
fi
peer_dir="$here/ws-peer"
(cd "$peer_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

# Each side holds one socket per client (the server and the generator are separate
# processes), plus a margin. 10 000 clients to one port need 10 000 loopback source ports
# (ip_local_port_range is usually 28 000 wide).
hard="$(ulimit -Hn)"
want=65536
if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ]; then want="$hard"; fi
ulimit -n "$want"
need=$((clients > gift_clients ? clients + 1000 : gift_clients + 1000))
if [ "$(ulimit -n)" -lt "$need" ]; then
    echo "chat_fanout.sh: ulimit -n is $(ulimit -n) (hard $hard), $need needed" >&2
    exit 2
fi

tmp="$(mktemp -d -t livecdn-chat-bench.XXXXXX)"
server_pid="" gen_pid=""
stop_pid() {
    local pid="$1"
    [ -n "$pid" ] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    stop_pid "$gen_pid"
    stop_pid "$server_pid"
    if [ "$keep_tmp" = 1 ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

secret="$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
export CHAT_BENCH_SECRET="$secret"

# No LIVECDN_* override from the caller's environment.
unset_livecdn=()
while IFS= read -r name; do unset_livecdn+=(-u "$name"); done \
    < <(env | sed -n 's/^\(LIVECDN_[A-Za-z0-9_]*\)=.*/\1/p')

run_no=0
port="" base=""

# A fresh relay: SQLite in the temp dir, rate limits far above what the senders send, idle
# connections kept (the generator's receivers never send; the default idle_timeout is 60 s).
start_relay() {
    run_no=$((run_no + 1))
    port="$("$CHAT_BENCH_BIN" free-port)"
    base="http://127.0.0.1:$port"
    local config="$tmp/relay-$run_no.toml"
    cat >"$config" <<TOML
[node]
id = "chat-bench-$run_no"
[http]
listen = "127.0.0.1:$port"
[chat]
token_secret = "$secret"
user_rate = 100000
user_burst = 100000
connection_rate = 100000
connection_burst = 100000
idle_timeout = "10m"
[database]
url = "sqlite://$tmp/relay-$run_no.db?synchronous=$db_sync"
[gifts]
demo_topup = true
[[gifts.catalog]]
id = "rose"
name = "Rose"
price = 1
[log]
level = "warn"
[shutdown]
drain_deadline = "2s"
TOML
    env "${unset_livecdn[@]}" taskset -c 0 "$LIVECDN_BIN" chat-relay --config "$config" \
        >"$tmp/relay-$run_no.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 150); do
        curl -fsS -o /dev/null "$base/readyz" 2>/dev/null && break
        kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/relay-$run_no.log" >&2; echo "relay exited" >&2; exit 1; }
        sleep 0.1
    done
    curl -fsS -o /dev/null "$base/readyz" || { echo "relay not ready after 15 s" >&2; exit 1; }
}

start_peer() {
    run_no=$((run_no + 1))
    port="$("$CHAT_BENCH_BIN" free-port)"
    base="http://127.0.0.1:$port"
    taskset -c 0 node "$peer_dir/server.js" "$port" >"$tmp/peer-$run_no.log" 2>&1 &
    server_pid=$!
    local code=000
    for _ in $(seq 150); do
        # ws answers a plain GET with 426 Upgrade Required once it listens.
        code="$(curl -s -o /dev/null -w '%{http_code}' "$base/" 2>/dev/null || true)"
        [ "$code" != 000 ] && break
        kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/peer-$run_no.log" >&2; echo "peer exited" >&2; exit 1; }
        sleep 0.1
    done
    [ "$code" != 000 ] || { echo "peer not listening after 15 s" >&2; exit 1; }
}

stop_server() {
    local kind="$1"
    if [ "$kind" = relay ]; then
        # The relay's own view of the run: slow consumers, closes, refusals, and where an
        # event's delay goes inside it (sequencing -> durable, sequencing -> socket write).
        curl -fsS "$base/metrics" >"$tmp/relay-$run_no.metrics" 2>/dev/null || true
        grep -E '^livecdn_chat_(slow_consumers|ws_closes|rejected|rate_limited|log_errors)[a-z_]*[{ ]' \
            "$tmp/relay-$run_no.metrics" | sed "s/^/  relay metric (run $run_no): /" >&2 || true
        for h in durable_wait fanout_delay; do
            awk -v h="livecdn_chat_${h}_seconds" -v run="$run_no" '
                index($0, h "_bucket{le=") == 1 {
                    le = $0; sub(/.*le="/, "", le); sub(/".*/, "", le); n++; les[n] = le; cs[n] = $NF
                }
                END {
                    if (!n || cs[n] == 0) exit
                    line = ""
                    for (q = 1; q <= 3; q++) {
                        p = (q == 1 ? 0.5 : q == 2 ? 0.9 : 0.99)
                        for (i = 1; i <= n; i++) if (cs[i] >= p * cs[n]) break
                        line = line sprintf(" p%d<=%ss", p * 100, les[i])
                    }
                    printf "  relay %s (run %s): %d events%s\n", h, run, cs[n], line
                }' "$tmp/relay-$run_no.metrics" >&2
        done
        local warnings
        warnings="$(grep -cE ' (WARN|ERROR) ' "$tmp/relay-$run_no.log" || true)"
        echo "  relay log (run $run_no): $warnings WARN/ERROR lines" >&2
        grep -E ' (WARN|ERROR) ' "$tmp/relay-$run_no.log" | head -3 | sed 's/^/    /' >&2 || true
    fi
    stop_pid "$server_pid"
    server_pid=""
}

# Runs the generator on core 1 against the server started last; RESULT lines go to out.txt.
gen() {
    local kind="$1" label="$2"
    shift 2
    taskset -c 1 "$CHAT_BENCH_BIN" --url "ws://127.0.0.1:$port/ws" --server "$kind" \
        --label "$label" "$@" >"$tmp/gen.out" &
    gen_pid=$!
    local status=0
    wait "$gen_pid" || status=$?
    gen_pid=""
    cat "$tmp/gen.out"
    cat "$tmp/gen.out" >>"$tmp/out.txt"
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "chat_fanout.sh: the $kind server died during the run" >&2
        return 1
    fi
    return "$status"
}

fanout_args=(fanout --clients "$clients" --senders "$senders" --rate "$rate" --window "$window"
    --sample "$sample" --connect-rate "$connect_rate")
IFS=, read -r -a server_list <<<"$servers"
echo "temp dir $tmp; server on core 0, generator on core 1; ulimit -n $(ulimit -n);" \
    "load average $(cut -d' ' -f1-3 /proc/loadavg)"
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$repeats"); do
    order=("${server_list[@]}")
    if [ $((r % 2)) = 0 ]; then
        order=()
        for ((i = ${#server_list[@]} - 1; i >= 0; i--)); do order+=("${server_list[$i]}"); done
    fi
    for kind in "${order[@]}"; do
        case "$kind" in
            relay)
                echo "== run $r: relay fan-out ==" >&2
                start_relay
                gen relay "$r" "${fanout_args[@]}" --pid "$server_pid"
                stop_server relay
                echo "== run $r: relay idle, $rooms rooms ==" >&2
                start_relay
                gen relay "$r" idle --clients "$clients" --rooms "$rooms" \
                    --connect-rate "$connect_rate" --pid "$server_pid"
                stop_server relay
                if [ "$gifts" = 1 ]; then
                    echo "== run $r: relay gifts ==" >&2
                    start_relay
                    gen relay "$r" gifts --clients "$gift_clients" --rooms "$gift_rooms" \
                        --pid "$server_pid"
                    stop_server relay
                fi
                ;;
            peer)
                echo "== run $r: peer fan-out ==" >&2
                start_peer
                gen peer "$r" "${fanout_args[@]}" --pid "$server_pid"
                stop_server peer
                ;;
            *) echo "chat_fanout.sh: unknown server $kind" >&2; exit 2 ;;
        esac
    done
done
load_end="$(cut -d' ' -f1-3 /proc/loadavg)"

echo
echo "== results, $(date -u '+%Y-%m-%d %H:%M UTC') =="
echo "machine: $(nproc --all) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
    "shared with other work), Linux $(uname -r), node $(node --version)," \
    "ws $(node -p "require('$peer_dir/node_modules/ws/package.json').version");" \
    "load average at start $load_start, at end $load_end"
grep '^RESULT' "$tmp/out.txt" || true
echo
awk '
function kv(key,   i, n, parts) {
    for (i = 3; i <= NF; i++) { n = index($i, "="); if (substr($i, 1, n - 1) == key) return substr($i, n + 1) }
    return "?"
}
$1 == "RESULT" && $2 == "fanout" {
    if (!head) {
        printf "%-4s %-6s %9s %10s %8s %12s %8s %8s %9s %8s %8s %11s %7s %7s %6s\n", "run", "server", "connected", "deliv/s", "cpu%", "deliv/cpu-s", "p50 ms", "p99 ms", "deliv %", "resyncs", "closes", "KiB/idle", "gen%", "core0%", "load"
        head = 1
    }
    printf "%-4s %-6s %9s %10s %8s %12s %8s %8s %9s %8s %8s %11s %7s %7s %6s\n", kv("label"), kv("server"), kv("connected"), kv("deliveries_per_s"), kv("server_cpu_pct"), kv("deliveries_per_cpu_s"), kv("p50_ms"), kv("p99_ms"), kv("delivered_pct"), kv("resyncs"), kv("closes"), kv("idle_kib_per_conn"), kv("gen_cpu_pct"), kv("core0_busy_pct"), kv("load_after")
    per[kv("label"), kv("server")] = kv("deliveries_per_cpu_s"); labels[kv("label")] = 1
}
$1 == "RESULT" && $2 == "idle" {
    idle[++nidle] = sprintf("%-4s %-6s %6s rooms %6s clients: %s KiB per idle connection (RSS %s -> %s MiB), idle CPU %s%%", kv("label"), kv("server"), kv("rooms"), kv("connected"), kv("idle_kib_per_conn"), kv("rss_base_mib"), kv("rss_idle_mib"), kv("idle_cpu_pct"))
}
$1 == "RESULT" && $2 == "gifts" {
    gift[++ngift] = sprintf("%-4s relay %s clients in %s rooms: %s acks/s, p50 %s ms, p99 %s ms, relay CPU %s%%, %s acks per CPU-s, errors %s, lost %s, balance mismatches %s", kv("label"), kv("clients"), kv("rooms"), kv("acks_per_s"), kv("p50_ms"), kv("p99_ms"), kv("server_cpu_pct"), kv("acks_per_cpu_s"), kv("errors"), kv("lost"), kv("balance_mismatches"))
}
END {
    for (l in labels) if ((l, "relay") in per && (l, "peer") in per && per[l, "peer"] > 0)
        printf "run %s: relay/peer deliveries per CPU-second = %.2f (target >= 3)\n", l, per[l, "relay"] / per[l, "peer"]
    if (nidle) print "memory per idle connection (target <= 16 KiB):"
    for (i = 1; i <= nidle; i++) print "  " idle[i]
    if (ngift) print "gift commits:"
    for (i = 1; i <= ngift; i++) print "  " gift[i]
}' "$tmp/out.txt"
