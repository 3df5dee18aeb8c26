#!/bin/busybox sh
# /init of the volmig-bench guest (PID 1 of a busybox initramfs).
# Loads the virtio modules, then runs volmig-writer with the volmig.* words
# of the kernel command line as its options; the writer reports on the
# virtio console (hvc0), this script on the serial console.
/bin/busybox mkdir -p /proc /sys /dev /tmp
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

say() { echo "volmig-guest: $*" > /dev/ttyS0; }

while read -r mod; do
    insmod "/lib/modules/$mod" || say "insmod $mod failed"
done < /etc/volmig-modules

out=/dev/ttyS0
i=0
while [ "$i" -lt 50 ]; do
    if [ -c /dev/hvc0 ]; then out=/dev/hvc0; break; fi
    sleep 0.1
    i=$((i + 1))
done
stty -F "$out" raw -echo 2>/dev/null

set --
for word in $(cat /proc/cmdline); do
    case "$word" in
        volmig.*=*) key=${word%%=*}; set -- "$@" "--${key#volmig.}" "${word#*=}" ;;
    esac
done

say "booted in $(cut -d' ' -f1 /proc/uptime) s; writer reports on $out"
/bin/volmig-writer "$@" > "$out" 2> /dev/ttyS0
say "writer exited with status $?"
sync
poweroff -f
