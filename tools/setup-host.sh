#!/usr/bin/env bash
# Prepare a fresh Debian 12 host: system packages, libvirtd and its QEMU
# settings.  Idempotent: every step checks first and does nothing twice.
set -euo pipefail

APT_OPTS=(-y -o DPkg::Lock::Timeout=900)
# curl and jq: the walkthroughs of README.md and doc/source/admin/distributed.rst;
# strace: the fault scenario holds a service's syscall (volmig_bench.faults)
SYSTEM_PACKAGES=(
    libvirt-daemon-system libvirt-daemon-driver-qemu qemu-system-x86
    qemu-utils qemu-block-extra libvirt-dev pkg-config python3-venv
    iproute2 xfsprogs util-linux procps psmisc cpio gcc libc6-dev make
    python3-dev curl jq strace
)
SERVICE_PACKAGES=(rabbitmq-server postgresql)

want=("${SYSTEM_PACKAGES[@]}")
if [ "${VOLMIG_WITH_SERVICES:-0}" = "1" ]; then
    want+=("${SERVICE_PACKAGES[@]}")
fi

missing=()
for pkg in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" \
        || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup-host: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    stamp=/var/lib/apt/periodic/volmig-update-stamp
    if [ ! -f "$stamp" ]; then
        apt-get update -o DPkg::Lock::Timeout=900
        mkdir -p "$(dirname "$stamp")" && touch "$stamp"
    fi
    apt-get install "${APT_OPTS[@]}" --no-install-recommends "${missing[@]}"
fi

# libvirt's QEMU driver must run QEMU as root here, or /dev/kvm and the
# project's state directories are refused.
conf=/etc/libvirt/qemu.conf
if ! grep -qE '^user = "root"' "$conf"; then
    printf '\n# nova-volmig: run QEMU as root\nuser = "root"\ngroup = "root"\n' >> "$conf"
    restart_libvirtd=1
fi

if ! pgrep -x virtlogd >/dev/null; then
    virtlogd -d
fi
if [ "${restart_libvirtd:-0}" = "1" ] && pgrep -x libvirtd >/dev/null; then
    pkill -x libvirtd
    for _ in $(seq 50); do pgrep -x libvirtd >/dev/null || break; sleep 0.1; done
fi
if ! pgrep -x libvirtd >/dev/null; then
    libvirtd -d
fi
for _ in $(seq 100); do
    virsh -c qemu:///system version >/dev/null 2>&1 && break
    sleep 0.1
done
virsh -c qemu:///system version >/dev/null
echo "setup-host: libvirtd ready"
