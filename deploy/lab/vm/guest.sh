#!/bin/sh
# Runs inside the lab VM (init.sh starts it): loads sch_netem, runs lab.py with
# `--impair netem` for each scenario, optionally checks the lab's cleanup (an interrupt, a
# SIGKILL of lab.py followed by `lab.py --cleanup`), and compares the VM's own network namespace
# before and after. Parameters come from the output share's `params` file (written by run.sh);
# results go to the output share: lab-<scenario>.log, logs-<scenario>/, cleanup-*.log,
# hostns-*.txt and result.txt (one line per check). Every wait is bounded.
set -u
OUT=/mnt/out
REPO=/mnt/repo
SCENARIOS="measure faults"
DURATION=60
CHECK_CLEANUP=1
README_SECTION=vm
RUN_NOTE="in a VM"
PRE_ENCODE=0
PROBE=0
# shellcheck disable=SC1091
[ -f "$OUT/params" ] && . "$OUT/params"
if [ "$PROBE" = 1 ]; then  # run.sh's KVM probe: the guest got this far
    echo "labvm: probe ok"
    exit 0
fi
LAB="$REPO/deploy/lab/lab.py"
BIN="$OUT/bin/livecdn"
PUBLISHER=""
[ "$PRE_ENCODE" -gt 0 ] && PUBLISHER="--pre-encode $PRE_ENCODE"
README="--no-readme"
[ -n "$README_SECTION" ] && README="--readme-section $README_SECTION"

say() { echo "labvm: $*"; }
result() { echo "$*" | tee -a "$OUT/result.txt"; }
: > "$OUT/result.txt"

say "kernel $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) MiB"
for m in sch_netem sch_htb cls_u32 veth; do
    modprobe "$m" || result "modprobe $m: FAILED"
done

# Can this VM encode the lab's test stream in real time? (speed < 1x distorts every latency)
speed=$(ffmpeg -hide_banner -nostats -benchmark -f lavfi -i testsrc2=size=640x360:rate=25 \
    -f lavfi -i sine=frequency=440:sample_rate=48000 -t 10 -c:v libx264 -preset veryfast \
    -tune zerolatency -g 25 -b:v 800k -c:a aac -b:a 96k -f null - 2>&1 \
    | grep -o 'rtime=[0-9.]*s' | tail -1 | tr -dc '0-9.')
result "publisher encode check: 10 s of the test stream encoded in ${speed:-?} s (real time needs < 10)"

# The VM's own namespace plays the host: the lab must leave it exactly as it was.
hostns_state() {
    ip -d link show; ip addr show; ip route show table all; ip -6 route show table all
    tc qdisc show; sysctl net.ipv4.ip_forward net.ipv6.conf.all.forwarding
    ls /run/netns 2>/dev/null
}
hostns_state > "$OUT/hostns-before.txt" 2>&1

# lab.py's own bound is its loops'; timeout(1) is the outer one (SIGINT: lab.py cleans up).
run_lab() {  # run_lab NAME SECONDS ARGS...: output to the console and $OUT/NAME.log
    name=$1; secs=$2; shift 2
    { timeout --signal=INT --kill-after=60 "$secs" python3 "$LAB" "$@"; echo $? > "$OUT/.rc"; } \
        2>&1 | tee "$OUT/$name.log"
    return "$(cat "$OUT/.rc")"
}

for s in $SCENARIOS; do
    case $s in measure) secs=$((DURATION + 300)) ;; faults) secs=900 ;; *) secs=$((DURATION + 1200)) ;; esac
    rm -rf "$OUT/logs-$s"
    say "lab.py $s --impair netem (at most $secs s)"
    # shellcheck disable=SC2086
    run_lab "lab-$s" "$secs" "$s" --impair netem --bin "$BIN" --duration "$DURATION" $PUBLISHER \
        $README --run-note "$RUN_NOTE" --keep-logs "$OUT/logs-$s"
    rc=$?
    [ $rc -eq 0 ] && result "lab.py $s: ok" || result "lab.py $s: FAILED (exit $rc)"
done

leftovers() {  # prints what a lab run may leave behind; nothing when clean
    ip netns list 2>/dev/null | grep '^lvlab-'
    ls -d /tmp/lvlab-* 2>/dev/null
    pgrep -a -x livecdn; pgrep -a -x ffmpeg
}

# start_lab LOG: lab.py measure in the background; waits (bounded) until it measures.
start_lab() {
    # shellcheck disable=SC2086
    python3 "$LAB" measure --impair netem --bin "$BIN" --duration 600 --no-readme $PUBLISHER \
        > "$OUT/$1" 2>&1 &
    LAB_PID=$!
    i=0
    while [ $i -lt 300 ] && ! grep -q "measuring for" "$OUT/$1"; do
        kill -0 "$LAB_PID" 2>/dev/null || break
        sleep 1; i=$((i + 1))
    done
    grep -q "measuring for" "$OUT/$1"
}

wait_gone() {  # wait_gone PID SECONDS
    i=0
    while [ $i -lt "$2" ] && kill -0 "$1" 2>/dev/null; do sleep 1; i=$((i + 1)); done
    ! kill -0 "$1" 2>/dev/null
}

if [ "$CHECK_CLEANUP" = 1 ]; then
    say "cleanup check 1: SIGINT to lab.py while it measures"
    if start_lab cleanup-sigint.log; then
        kill -INT "$LAB_PID"
        if wait_gone "$LAB_PID" 60; then
            left=$(leftovers)
            [ -z "$left" ] && result "cleanup after SIGINT: ok (nothing left)" \
                || result "cleanup after SIGINT: FAILED, left: $left"
        else
            result "cleanup after SIGINT: FAILED (lab.py still running after 60 s)"
            kill -KILL "$LAB_PID" 2>/dev/null
        fi
    else
        result "cleanup after SIGINT: FAILED (lab.py never reached the measurement)"
        kill -INT "$LAB_PID" 2>/dev/null; wait_gone "$LAB_PID" 60
    fi

    say "cleanup check 2: SIGKILL to lab.py, then lab.py --cleanup"
    if start_lab cleanup-sigkill.log; then
        kill -KILL "$LAB_PID"
        wait_gone "$LAB_PID" 10
        sleep 2
        procs=$(pgrep -a -x livecdn; pgrep -a -x ffmpeg)
        [ -z "$procs" ] && result "children after SIGKILL of lab.py: ok (all gone)" \
            || result "children after SIGKILL of lab.py: FAILED, still running: $procs"
        python3 "$LAB" --cleanup > "$OUT/cleanup-leftovers.log" 2>&1
        left=$(leftovers)
        [ -z "$left" ] && result "lab.py --cleanup after SIGKILL: ok (nothing left)" \
            || result "lab.py --cleanup after SIGKILL: FAILED, left: $left"
    else
        result "cleanup after SIGKILL: FAILED (lab.py never reached the measurement)"
        kill -INT "$LAB_PID" 2>/dev/null; wait_gone "$LAB_PID" 60
    fi
fi

hostns_state > "$OUT/hostns-after.txt" 2>&1
if cmp -s "$OUT/hostns-before.txt" "$OUT/hostns-after.txt"; then
    result "VM's own namespace unchanged by the lab: ok"
else
    result "VM's own namespace unchanged by the lab: FAILED (diff hostns-before.txt hostns-after.txt)"
fi
say "done"
