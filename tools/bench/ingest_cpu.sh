#!/usr/bin/env bash
# CPU per ingested RTMP stream, livecdn origin vs nginx-rtmp. See tools/bench/README.md.
#
#   tools/bench/ingest_cpu.sh [--streams 1,10,20] [--warmup 5] [--window 20] [--repeats 1] ...
#
# Checks the tools (installs nginx-light + libnginx-mod-rtmp with apt-get when missing and
# running as root), builds the release binary, then runs ingest_cpu.py, which starts and stops
# (by PID) every process it uses. Everything is on 127.0.0.1.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$repo"

need() { command -v "$1" >/dev/null 2>&1; }

for tool in ffmpeg python3; do
    need "$tool" || { echo "ingest_cpu.sh: $tool is required" >&2; exit 2; }
done
if ! need nginx || [ ! -f /usr/lib/nginx/modules/ngx_rtmp_module.so ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "installing nginx-light and libnginx-mod-rtmp" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light libnginx-mod-rtmp >/dev/null
    else
        echo "ingest_cpu.sh: needs nginx with libnginx-mod-rtmp (apt-get install nginx-light libnginx-mod-rtmp)" >&2
        exit 2
    fi
fi

if [ -z "${LIVECDN_BIN:-}" ]; then
    cargo build --release -p livecdn --locked
    LIVECDN_BIN="$repo/target/release/livecdn"
fi

# The Python driver tracks its children by PID and stops them on exit, SIGINT, SIGTERM and
# SIGHUP; exec keeps signals going straight to it.
exec python3 "$here/ingest_cpu.py" --livecdn "$LIVECDN_BIN" "$@"
