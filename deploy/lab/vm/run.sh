#!/usr/bin/env bash
# Runs the multi-region lab with real `tc netem` inside a QEMU virtual machine, for machines whose
# kernel has no sch_netem. As root:
#
#     deploy/lab/vm/run.sh                      # measure + faults + cleanup checks
#     deploy/lab/vm/run.sh --scenarios measure --duration 30 --no-cleanup-check
#
# Steps (each skipped when its result is already there, so a second run starts at the VM):
#   1. apt-get installs qemu-system-x86, debootstrap and e2fsprogs if missing;
#   2. debootstrap builds a Debian root file system in $WORK/rootfs with the distribution's
#      kernel (whose sch_netem, sch_htb, cls_u32 and veth are modules), python3, iproute2,
#      ffmpeg and kmod, and mkfs.ext4 -d turns it into $WORK/rootfs.img (the VM boots it with
#      snapshot=on: the image never changes);
#   3. cargo builds the release binary (or --bin);
#   4. QEMU boots the distribution's vmlinuz and initrd with the image as root and
#      deploy/lab/vm/init.sh as init, the repository and the run's output directory shared over
#      virtio-9p, no network device; guest.sh runs `lab.py <scenario> --impair netem` (the
#      tables go to the README's `lab-report-vm` / `lab-faults-vm` sections), then checks the
#      cleanup, and the VM powers itself off.
# Everything it makes is under $WORK (default /var/tmp/livecdn-labvm), never in the repository.
# Every wait is bounded; the QEMU process it started is stopped by its PID on every exit path.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
WORK=/var/tmp/livecdn-labvm
SCENARIOS="measure faults"
DURATION=60
CHECK_CLEANUP=1
ACCEL=auto
CPUS=2
MEM_MIB=6144
BIN=""
README_SECTION=vm
PRE_ENCODE=""
TIMEOUT=3600
SUITE=bookworm
MIRROR=http://deb.debian.org/debian
GUEST_PACKAGES="linux-image-amd64 python3 iproute2 ffmpeg kmod procps"

usage() {
    cat <<EOF
usage: $0 [options]   (as root)
  --work DIR            where the root file system, image and runs go ($WORK)
  --scenarios "A B"     lab.py scenarios to run, in order: measure faults all ("$SCENARIOS")
  --duration S          lab.py measure --duration ($DURATION)
  --no-cleanup-check    skip the interrupt / SIGKILL + --cleanup checks
  --no-readme           print the tables only (default: the README's "vm" sections)
  --accel auto|kvm|tcg  auto: KVM if a probe boot works, else TCG software emulation ($ACCEL)
  --cpus N --mem MIB    the VM's size ($CPUS, $MEM_MIB)
  --pre-encode S        lab.py --pre-encode (default: 10 under TCG, 0 under KVM)
  --bin PATH            livecdn binary (default: cargo build --release -p livecdn --locked)
  --timeout S           bound on the VM run ($TIMEOUT)
  --suite NAME          Debian release of the VM; must have a glibc as new as the binary's ($SUITE)
  --mirror URL          Debian mirror for debootstrap ($MIRROR)
EOF
}

while [ $# -gt 0 ]; do
    case $1 in
        --work) WORK=$2; shift ;;
        --scenarios) SCENARIOS=$2; shift ;;
        --duration) DURATION=$2; shift ;;
        --no-cleanup-check) CHECK_CLEANUP=0 ;;
        --no-readme) README_SECTION="" ;;
        --accel) ACCEL=$2; shift ;;
        --cpus) CPUS=$2; shift ;;
        --mem) MEM_MIB=$2; shift ;;
        --pre-encode) PRE_ENCODE=$2; shift ;;
        --bin) BIN=$2; shift ;;
        --timeout) TIMEOUT=$2; shift ;;
        --suite) SUITE=$2; shift ;;
        --mirror) MIRROR=$2; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

say() { echo "[labvm $(date -u +%H:%M:%S)] $*"; }
die() { echo "[labvm] error: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (debootstrap, chroot, QEMU's 9p shares)"
case $ACCEL in auto|kvm|tcg) ;; *) die "--accel: auto, kvm or tcg" ;; esac
for s in $SCENARIOS; do
    case $s in measure|faults|all) ;; *) die "--scenarios: measure, faults or all, not $s" ;; esac
done
case $WORK in /*) ;; *) die "--work must be an absolute path" ;; esac
[ "$WORK" != / ] || die "--work must not be /"
case $WORK/ in "$REPO"/*) die "--work must be outside the repository (it holds an image)" ;; esac
mkdir -p "$WORK"

# --- 1. host tools ---
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
if [ ${#need[@]} -gt 0 ]; then
    say "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi

# --- 2. the VM's root file system and image ---
ROOT=$WORK/rootfs
IMG=$WORK/rootfs.img
STAMP=$ROOT/.labvm-complete
chroot_mounts=()
unmount_chroot() {
    local m
    for m in "${chroot_mounts[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" || true; done
    chroot_mounts=()
}
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$SUITE $GUEST_PACKAGES" ]; then
    say "building the VM's root file system in $ROOT (Debian $SUITE; takes minutes)"
    if [ -e "$ROOT" ]; then
        mountpoint -q "$ROOT/proc" && die "$ROOT/proc is mounted: unmount it first"
        rm -rf --one-file-system "$ROOT"
    fi
    debootstrap --variant=minbase "$SUITE" "$ROOT" "$MIRROR" > "$WORK/debootstrap.log" 2>&1 \
        || die "debootstrap failed: see $WORK/debootstrap.log"
    printf '#!/bin/sh\nexit 101\n' > "$ROOT/usr/sbin/policy-rc.d"  # start no services
    chmod +x "$ROOT/usr/sbin/policy-rc.d"
    mkdir -p "$ROOT/etc/initramfs-tools/conf.d"
    echo COMPRESS=gzip > "$ROOT/etc/initramfs-tools/conf.d/labvm"
    trap unmount_chroot EXIT
    mount -t proc proc "$ROOT/proc" && chroot_mounts=("$ROOT/proc" "${chroot_mounts[@]}")
    mount -t sysfs sysfs "$ROOT/sys" && chroot_mounts=("$ROOT/sys" "${chroot_mounts[@]}")
    mount --bind /dev "$ROOT/dev" && chroot_mounts=("$ROOT/dev" "${chroot_mounts[@]}")
    # shellcheck disable=SC2086
    chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends $GUEST_PACKAGES > "$WORK/chroot-apt.log" 2>&1 \
        || { unmount_chroot; die "apt-get in the root file system failed: see $WORK/chroot-apt.log"; }
    chroot "$ROOT" apt-get clean
    unmount_chroot
    trap - EXIT
    echo "$SUITE $GUEST_PACKAGES" > "$STAMP"
fi
KERNEL=$(ls "$ROOT"/boot/vmlinuz-* | sort -V | tail -1)
INITRD=$(ls "$ROOT"/boot/initrd.img-* | sort -V | tail -1)
[ -f "$KERNEL" ] && [ -f "$INITRD" ] || die "no kernel or initrd in $ROOT/boot"
find "$ROOT/lib/modules" -name 'sch_netem.ko*' | grep -q . || die "the VM's kernel has no sch_netem"
if ! cmp -s "$HERE/init.sh" "$ROOT/sbin/labvm-init"; then
    install -m 755 "$HERE/init.sh" "$ROOT/sbin/labvm-init"
fi
if [ ! -f "$IMG" ] || [ "$STAMP" -nt "$IMG" ] || [ "$ROOT/sbin/labvm-init" -nt "$IMG" ]; then
    say "making $IMG from $ROOT"
    rm -f "$IMG.new"
    mkfs.ext4 -q -F -L labvm-root -d "$ROOT" "$IMG.new" 3G
    mv "$IMG.new" "$IMG"
fi

# --- 3. the binary ---
if [ -z "$BIN" ]; then
    say "cargo build --release -p livecdn --locked"
    (cd "$REPO" && cargo build --release -p livecdn --locked)
    BIN=${CARGO_TARGET_DIR:-$REPO/target}/release/livecdn
fi
[ -x "$BIN" ] || die "no livecdn binary at $BIN"
host_glibc=$(getconf GNU_LIBC_VERSION | awk '{print $2}')
guest_glibc=$(chroot "$ROOT" getconf GNU_LIBC_VERSION | awk '{print $2}')
if [ "$(printf '%s\n%s\n' "$host_glibc" "$guest_glibc" | sort -V | tail -1)" != "$guest_glibc" ]; then
    say "warning: the binary was built against glibc $host_glibc, the VM has $guest_glibc" \
        "(a newer --suite may be needed)"
fi

# --- 4. the VM ---
RUN=$WORK/runs/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$RUN/bin"
ln -sfn "$RUN" "$WORK/runs/latest"
cp "$BIN" "$RUN/bin/livecdn"

QEMU_PID=""
stop_qemu() {
    if [ -n "$QEMU_PID" ] && kill -0 "$QEMU_PID" 2>/dev/null; then
        say "stopping QEMU (PID $QEMU_PID)"
        kill -TERM "$QEMU_PID" 2>/dev/null || true
        for _ in $(seq 20); do kill -0 "$QEMU_PID" 2>/dev/null || break; sleep 0.5; done
        kill -KILL "$QEMU_PID" 2>/dev/null || true
        wait "$QEMU_PID" 2>/dev/null || true
    fi
    QEMU_PID=""
}
trap stop_qemu EXIT
trap 'stop_qemu; exit 130' INT TERM HUP

# boot_vm ACCEL CONSOLE: starts QEMU in the background (QEMU_PID).
boot_vm() {
    local accel_args
    case $1 in
        kvm) accel_args=(-accel kvm -cpu host) ;;
        tcg) accel_args=(-accel tcg,thread=multi -cpu max) ;;
    esac
    qemu-system-x86_64 "${accel_args[@]}" -smp "$CPUS" -m "$MEM_MIB" \
        -display none -nodefaults -no-reboot -serial "file:$2" \
        -kernel "$KERNEL" -initrd "$INITRD" \
        -append "console=ttyS0 root=LABEL=labvm-root rw init=/sbin/labvm-init panic=-1 quiet" \
        -drive "file=$IMG,if=virtio,format=raw,snapshot=on" \
        -virtfs "local,path=$REPO,mount_tag=repo,security_model=none" \
        -virtfs "local,path=$RUN,mount_tag=out,security_model=none" \
        > "$RUN/qemu.log" 2>&1 < /dev/null &
    QEMU_PID=$!
}

# wait_vm SECONDS: until QEMU exits (0) or the time is up (1).
wait_vm() {
    local deadline=$((SECONDS + $1))
    while kill -0 "$QEMU_PID" 2>/dev/null; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 1
    done
    wait "$QEMU_PID" 2>/dev/null || true
    QEMU_PID=""
}

if [ "$ACCEL" = auto ]; then
    ACCEL=tcg
    if [ -w /dev/kvm ]; then
        say "probing KVM (a boot that must reach the guest within 60 s)"
        echo "PROBE=1" > "$RUN/params"
        boot_vm kvm "$RUN/probe-console.log"
        wait_vm 60 || true
        stop_qemu
        if grep -q "labvm: probe ok" "$RUN/probe-console.log" 2>/dev/null; then
            ACCEL=kvm
        else
            say "KVM does not boot this kernel here (see $RUN/probe-console.log, $RUN/qemu.log):" \
                "using TCG software emulation"
        fi
    fi
fi
[ -n "$PRE_ENCODE" ] || { [ "$ACCEL" = tcg ] && PRE_ENCODE=10 || PRE_ENCODE=0; }

qemu_version=$(qemu-system-x86_64 --version | awk 'NR == 1 {print $4}')
accel_text=$([ "$ACCEL" = kvm ] && echo "KVM" || echo "TCG software emulation")
note="in a QEMU $qemu_version VM: $accel_text, $CPUS vCPUs, $MEM_MIB MiB"
note="$note; host: $(nproc) CPUs, kernel $(uname -r), no sch_netem"
grep -q sch_netem /proc/modules 2>/dev/null && note=${note%, no sch_netem}
cat > "$RUN/params" <<EOF
SCENARIOS="$SCENARIOS"
DURATION=$DURATION
CHECK_CLEANUP=$CHECK_CLEANUP
PRE_ENCODE=$PRE_ENCODE
README_SECTION="$README_SECTION"
RUN_NOTE="$note"
EOF

say "booting the VM ($accel_text, $CPUS vCPUs, $MEM_MIB MiB); console: $RUN/console.log"
boot_vm "$ACCEL" "$RUN/console.log"
# Show the guest's progress while waiting (bounded by --timeout).
timeout "$TIMEOUT" tail -n +1 -F --pid="$QEMU_PID" "$RUN/console.log" 2>/dev/null \
    | grep --line-buffered -E '^(labvm:|\[lab |Run:|\||\*\*|[a-z].*: (ok|FAILED))' || true
status=0
if ! wait_vm 5; then
    say "the VM did not finish within $TIMEOUT s"
    status=1
fi
stop_qemu

echo
say "results ($RUN/result.txt):"
if [ -s "$RUN/result.txt" ]; then
    sed 's/^/  /' "$RUN/result.txt"
    grep -q FAILED "$RUN/result.txt" && status=1
else
    echo "  none: the guest did not get to run the lab (see $RUN/console.log)"
    status=1
fi
say "console: $RUN/console.log; lab output: $RUN/lab-*.log; node logs: $RUN/logs-*/"
if [ -n "$README_SECTION" ]; then
    say "report: the \"with tc netem, in a VM\" sections of $REPO/deploy/lab/README.md"
fi
exit $status
