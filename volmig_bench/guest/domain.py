"""Boot the tiny guest on libvirt without Nova (tests, ``guest-check``).

The same shape as the libvirt driver's instances: a transient ``qemu``
(TCG) domain booting ``kernel``/``initrd``/``cmdline`` directly, a serial
console logged to a file, a virtio console (hvc0) logged to another file,
ACPI on (the power button is how the host stops the writer), and the data
disk as virtio-blk.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from typing import Iterator
import uuid
import xml.etree.ElementTree as ET

from volmig_bench import exception
from volmig_bench.guest import builder
from volmig_bench.guest import protocol

DOMAIN_PREFIX = 'volmig-bench-'


def domain_xml(name: str, image: builder.GuestImage, disk_path: str,
               console_log: str, virtio_log: str, memory_mb: int = 128,
               disk_format: str = 'raw', serial: str | None = None,
               decoys: tuple[str, ...] = ()) -> str:
    """The domain; ``disk_path`` is its data disk, after any ``decoys``.

    ``serial`` is the data disk's ``<serial>`` (Nova sets the volume id;
    the guest sees its first 20 characters). The decoys, raw disks without
    a serial, come first (vdb, vdc...) so that a writer that picked the
    first disk instead of the serial one would write to a decoy.
    """
    dom = ET.Element('domain', type='qemu')
    ET.SubElement(dom, 'name').text = name
    ET.SubElement(dom, 'uuid').text = str(uuid.uuid4())
    ET.SubElement(dom, 'memory', unit='MiB').text = str(memory_mb)
    ET.SubElement(dom, 'vcpu').text = '1'
    os_elem = ET.SubElement(dom, 'os')
    ET.SubElement(os_elem, 'type', arch='x86_64', machine='pc').text = 'hvm'
    ET.SubElement(os_elem, 'kernel').text = image.kernel
    ET.SubElement(os_elem, 'initrd').text = image.initrd
    ET.SubElement(os_elem, 'cmdline').text = image.cmdline
    ET.SubElement(ET.SubElement(dom, 'features'), 'acpi')
    ET.SubElement(dom, 'on_poweroff').text = 'destroy'
    ET.SubElement(dom, 'on_reboot').text = 'destroy'
    ET.SubElement(dom, 'on_crash').text = 'destroy'
    devices = ET.SubElement(dom, 'devices')
    disks = [(p, 'raw', None) for p in decoys]
    for i, (path, fmt, disk_serial) in enumerate(
            disks + [(disk_path, disk_format, serial)]):
        disk = ET.SubElement(devices, 'disk', type='file', device='disk')
        ET.SubElement(disk, 'driver', name='qemu', type=fmt,
                      cache='none', io='native')
        ET.SubElement(disk, 'source', file=path)
        ET.SubElement(disk, 'target', dev='vd' + chr(ord('b') + i),
                      bus='virtio')
        if disk_serial:
            ET.SubElement(disk, 'serial').text = disk_serial
    serial = ET.SubElement(devices, 'serial', type='file')
    ET.SubElement(serial, 'source', path=console_log, append='on')
    ET.SubElement(serial, 'target', port='0')
    console = ET.SubElement(devices, 'console', type='file')
    ET.SubElement(console, 'source', path=virtio_log, append='on')
    ET.SubElement(console, 'target', type='virtio')
    ET.SubElement(devices, 'controller', type='usb', model='none')
    ET.SubElement(devices, 'memballoon', model='none')
    return ET.tostring(dom, encoding='unicode')


@dataclasses.dataclass
class GuestRun:
    """A booted guest whose writer reports into ``reader``."""

    domain: object
    reader: protocol.WriterLogReader
    console_log: str
    created_at: float
    boot_s: float | None = None

    def wait_started(self, timeout: float = 120.0) -> float:
        """Seconds from domain creation until the writer's first line."""
        log = self.reader.wait_for(lambda log: log.t0_us is not None,
                                   timeout)
        self.boot_s = log.started_at - self.created_at
        return self.boot_s

    def stop(self, timeout: float = 60.0) -> protocol.WriterLog:
        """Press the ACPI power button; wait for the writer's D line."""
        import libvirt

        self.domain.shutdownFlags(libvirt.VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN)
        log = self.reader.wait_for(lambda log: log.done is not None,
                                   timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if not self.domain.isActive():
                    break
            except libvirt.libvirtError:
                break  # transient domain gone
            time.sleep(0.05)
        return log

    def console(self) -> str:
        with contextlib.suppress(FileNotFoundError):
            with open(self.console_log, errors='replace') as f:
                return f.read()
        return ''


@contextlib.contextmanager
def running_guest(image: builder.GuestImage, disk_path: str, log_dir: str,
                  uri: str = 'qemu:///system', memory_mb: int = 128,
                  disk_format: str = 'raw', serial: str | None = None,
                  decoys: tuple[str, ...] = ()) -> Iterator[GuestRun]:
    """A transient domain on ``disk_path``; destroyed on leaving."""
    import libvirt

    # Lookups of a transient domain that just powered off are expected to
    # fail; keep libvirt's default handler from printing them.
    libvirt.registerErrorHandler(lambda ctx, err: None, None)
    name = '%s%d-%s' % (DOMAIN_PREFIX, os.getpid(), uuid.uuid4().hex[:8])
    console_log = os.path.join(log_dir, name + '.console.log')
    virtio_log = os.path.join(log_dir, name + '.virtio-console.log')
    conn = libvirt.open(uri)
    domain = None
    try:
        xml = domain_xml(name, image, os.path.abspath(disk_path),
                         console_log, virtio_log, memory_mb, disk_format,
                         serial, tuple(os.path.abspath(d) for d in decoys))
        created_at = time.monotonic()
        try:
            domain = conn.createXML(xml, 0)
        except libvirt.libvirtError as exc:
            raise exception.BenchError('cannot boot the guest: %s' % exc)
        yield GuestRun(domain, protocol.WriterLogReader(virtio_log),
                       console_log, created_at)
    finally:
        if domain is not None:
            with contextlib.suppress(libvirt.libvirtError):
                domain.destroy()
        conn.close()
