#!/bin/sh
# PID 1 of the lab VM (installed into the image as /sbin/labvm-init by run.sh): mounts what the
# lab needs, the two 9p shares (the repository, the run's output directory), runs
# deploy/lab/vm/guest.sh from the repository, then powers the VM off. Kept small and stable:
# the logic lives in guest.sh, so changing it needs no new image.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
mountpoint -q /proc || mount -t proc proc /proc
mountpoint -q /sys || mount -t sysfs sysfs /sys
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mountpoint -q /dev/pts || mount -t devpts devpts /dev/pts
mountpoint -q /dev/shm || mount -t tmpfs tmpfs /dev/shm
mountpoint -q /run || mount -t tmpfs tmpfs /run
mountpoint -q /tmp || mount -t tmpfs tmpfs /tmp
hostname labvm
ip link set lo up
modprobe 9pnet_virtio && modprobe 9p
mkdir -p /mnt/repo /mnt/out
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=none repo /mnt/repo
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=none out /mnt/out
if [ -f /mnt/repo/deploy/lab/vm/guest.sh ]; then
    sh /mnt/repo/deploy/lab/vm/guest.sh
    echo "labvm: guest.sh exited with $?"
else
    echo "labvm: /mnt/repo/deploy/lab/vm/guest.sh not found (is the repository shared?)"
fi
sync
echo "labvm: powering off"
echo o > /proc/sysrq-trigger
sleep 30
