#!/usr/bin/env bash
# HTTP serving on the edge: livecdn edge A vs nginx serving the same bytes, and 10 000 held
# blocking playlist requests. See tools/bench/README.md.
#
#   tools/bench/edge_http.sh [--connections 50,200,1000] [--duration 12] [--held 10000] ...
#
# Checks the tools (installs wrk and nginx-light with apt-get when missing and running as
# root), builds the release binary, raises the open-file limit (inherited by livecdn, nginx and
# the client), then runs edge_http.py, which starts and stops (by PID) every process it uses.
# Everything is on 127.0.0.1.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$repo"

need() { command -v "$1" >/dev/null 2>&1; }

for tool in ffmpeg python3; do
    need "$tool" || { echo "edge_http.sh: $tool is required" >&2; exit 2; }
done
missing=()
need wrk || missing+=(wrk)
need nginx || missing+=(nginx-light)
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "installing ${missing[*]}" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "edge_http.sh: needs ${missing[*]} (apt-get install ${missing[*]})" >&2
        exit 2
    fi
fi

if [ -z "${LIVECDN_BIN:-}" ]; then
    cargo build --release -p livecdn --locked
    LIVECDN_BIN="$repo/target/release/livecdn"
fi

# 10 000 held requests need 10 000 sockets in the client and as many in livecdn. Ask for
# 65536; a container without CAP_SYS_RESOURCE may cap the hard limit lower, then take that
# (the driver refuses to run the held test if it is too low).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# The Python driver tracks its children by PID and stops them on exit, SIGINT, SIGTERM and
# SIGHUP; exec keeps signals going straight to it.
exec python3 "$here/edge_http.py" --livecdn "$LIVECDN_BIN" "$@"
