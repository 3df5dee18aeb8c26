"""Libvirt XML of the driver: domains, disks, snapshots, copy targets.

Small value objects build and parse the few elements the driver needs, as
Nova's ``LibvirtConfig*`` classes do, with ``xml.etree`` underneath.
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Iterator
import urllib.parse
from xml.etree import ElementTree as ET

DISK_BUS = 'virtio'
NBD_DEFAULT_PORT = 10809
_ALIAS_INVALID = re.compile(r'[^A-Za-z0-9_-]')


def volume_alias(device_name: str) -> str:
    """User alias of the disk of ``device_name`` (``/dev/vdb`` -> ua-vol-vdb).

    It names the QEMU device, so HMP ``qemu-io -d
    /machine/peripheral/<alias>/virtio-backend`` reaches the guest's disk;
    it depends only on the device name, so it survives a migration.
    """
    return 'ua-vol-' + _ALIAS_INVALID.sub('-', target_dev(device_name))


def target_dev(device_name: str) -> str:
    """``/dev/vdb`` -> ``vdb``."""
    return os.path.basename(device_name.rstrip('/'))


def qdev_backend_path(device_name: str) -> str:
    """The QOM path HMP ``qemu-io -d`` takes for the disk of a volume."""
    return '/machine/peripheral/%s/virtio-backend' % volume_alias(device_name)


@dataclasses.dataclass(frozen=True)
class DiskSource:
    """Where one layer of a disk lives, and its format.

    ``kind`` is the libvirt disk type: ``file``, ``block`` or ``network``
    (NBD: ``host``, ``port``, ``name``).
    """

    kind: str
    format: str = 'raw'
    path: str | None = None
    protocol: str | None = None
    host: str | None = None
    port: int | None = None
    name: str | None = None
    backing: DiskSource | None = None

    @property
    def uri(self) -> str:
        """The name qemu-img and qcow2 backing files use for this layer."""
        if self.kind == 'network':
            return '%s://%s:%s/%s' % (self.protocol, self.host, self.port,
                                      self.name)
        return self.path

    @classmethod
    def from_uri(cls, uri: str, fmt: str = 'raw') -> DiskSource:
        """Parse ``nbd://HOST:PORT/EXPORT`` (or a plain path)."""
        parsed = urllib.parse.urlsplit(uri)
        if not parsed.scheme:
            return cls('file', fmt, path=uri)
        return cls('network', fmt, protocol=parsed.scheme,
                   host=parsed.hostname, port=parsed.port,
                   name=parsed.path.lstrip('/'))

    def same_location(self, other: DiskSource | None) -> bool:
        """True when both name the same storage (format and chain aside)."""
        return other is not None and self.uri == other.uri

    def chain(self) -> list[DiskSource]:
        """This layer and its backing layers, active first."""
        layers, layer = [], self
        while layer is not None:
            layers.append(layer)
            layer = layer.backing
        return layers

    def with_backing(self, backing: DiskSource | None) -> DiskSource:
        return dataclasses.replace(self, backing=backing)

    def describe(self) -> str:
        return ' -> '.join('%s (%s)' % (layer.uri, layer.format)
                           for layer in self.chain())

    # XML

    def _source_element(self) -> ET.Element:
        source = ET.Element('source')
        if self.kind == 'file':
            source.set('file', self.path)
        elif self.kind == 'block':
            source.set('dev', self.path)
        else:
            source.set('protocol', self.protocol)
            source.set('name', self.name)
            ET.SubElement(source, 'host', name=self.host, port=str(self.port))
        return source

    def _backing_element(self) -> ET.Element:
        if self.backing is None:
            return ET.Element('backingStore')
        elem = ET.Element('backingStore', type=self.backing.kind)
        ET.SubElement(elem, 'format', type=self.backing.format)
        elem.append(self.backing._source_element())
        elem.append(self.backing._backing_element())
        return elem

    def driver_element(self) -> ET.Element:
        attrs = {'name': 'qemu', 'type': self.format, 'cache': 'none'}
        if self.kind in ('file', 'block'):
            attrs['io'] = 'native'
        return ET.Element('driver', attrs)

    def disk_element(self, device_name: str,
                     serial: str | None = None) -> ET.Element:
        """A full ``<disk>`` of a volume at ``device_name``.

        ``serial`` is the volume id, as Nova's ``LibvirtConfigGuestDisk
        .serial``: the guest finds the disk as
        ``/dev/disk/by-id/virtio-<serial>`` (first 20 characters).
        """
        disk = ET.Element('disk', type=self.kind, device='disk')
        disk.append(self.driver_element())
        disk.append(self._source_element())
        if self.backing is not None:
            disk.append(self._backing_element())
        ET.SubElement(disk, 'target', dev=target_dev(device_name),
                      bus=DISK_BUS)
        if serial:
            ET.SubElement(disk, 'serial').text = serial
        ET.SubElement(disk, 'alias', name=volume_alias(device_name))
        return disk

    def disk_xml(self, device_name: str, serial: str | None = None) -> str:
        return to_xml(self.disk_element(device_name, serial))

    def copy_target_xml(self) -> str:
        """The ``<disk>`` destination of ``virDomainBlockCopy``."""
        disk = ET.Element('disk', type=self.kind)
        ET.SubElement(disk, 'driver', type=self.format)
        disk.append(self._source_element())
        return to_xml(disk)

    @classmethod
    def from_element(cls, elem: ET.Element) -> DiskSource | None:
        """Parse a ``<disk>``, ``<backingStore>`` or ``<mirror>``.

        Returns None for the empty ``<backingStore/>`` closing a chain.
        """
        kind = elem.get('type')
        source = elem.find('source')
        if kind is None or source is None:
            return None
        driver = elem.find('driver')
        fmt_elem = elem.find('format')
        fmt = (driver.get('type') if driver is not None else
               fmt_elem.get('type') if fmt_elem is not None else 'raw')
        backing_elem = elem.find('backingStore')
        backing = (cls.from_element(backing_elem)
                   if backing_elem is not None else None)
        if kind == 'file':
            return cls(kind, fmt, path=source.get('file'), backing=backing)
        if kind == 'block':
            return cls(kind, fmt, path=source.get('dev'), backing=backing)
        host = source.find('host')
        return cls(kind, fmt, protocol=source.get('protocol'),
                   name=source.get('name'),
                   host=host.get('name') if host is not None else None,
                   port=int(host.get('port', NBD_DEFAULT_PORT))
                   if host is not None else None,
                   backing=backing)


@dataclasses.dataclass(frozen=True)
class DiskState:
    """One disk of a domain as its XML shows it."""

    target: str
    alias: str | None
    source: DiskSource | None
    #: the ``<mirror>`` of a running copy or active-commit job
    mirror: DiskSource | None = None
    mirror_job: str | None = None
    mirror_ready: bool = False
    #: ``<serial>``: the volume id the guest sees
    serial: str | None = None


#: Live metadata naming disks whose backing node was switched over QMP.
REBASED_NS = 'http://openstack.org/xmlns/nova-volmig/rebased/1.0'
REBASED_PREFIX = 'volmig'


def rebased_targets(domain_xml: str) -> set[str]:
    """Targets the live metadata marks as rebased (``rebase.py``)."""
    root = ET.fromstring(domain_xml)
    return {disk.get('target') for disk in root.findall(
        './metadata/{%s}rebased/{%s}disk' % (REBASED_NS, REBASED_NS))}


def rebased_metadata(targets: set[str]) -> str:
    root = ET.Element('rebased')
    for target in sorted(targets):
        ET.SubElement(root, 'disk', target=target)
    return ET.tostring(root, encoding='unicode')


def parse_disks(domain_xml: str) -> Iterator[DiskState]:
    root = ET.fromstring(domain_xml)
    for disk in root.findall('./devices/disk'):
        target = disk.find('target')
        alias = disk.find('alias')
        serial = disk.findtext('serial')
        mirror = disk.find('mirror')
        mirror_source = mirror_job = None
        ready = False
        if mirror is not None:
            mirror_job = mirror.get('job', 'copy')
            ready = mirror.get('ready') == 'yes'
            mirror_source = DiskSource.from_element(mirror)
        yield DiskState(target=target.get('dev'),
                        alias=alias.get('name') if alias is not None
                        else None,
                        source=DiskSource.from_element(disk),
                        mirror=mirror_source, mirror_job=mirror_job,
                        mirror_ready=ready, serial=serial or None)


def snapshot_xml(disk_targets: list[str], target: str,
                 overlay: DiskSource) -> str:
    """Disk-only external snapshot of ``target`` onto ``overlay`` alone."""
    snap = ET.Element('domainsnapshot')
    disks = ET.SubElement(snap, 'disks')
    for name in disk_targets:
        if name != target:
            ET.SubElement(disks, 'disk', name=name, snapshot='no')
            continue
        disk = ET.SubElement(disks, 'disk', name=name, snapshot='external',
                             type=overlay.kind)
        ET.SubElement(disk, 'driver', type=overlay.format)
        disk.append(overlay._source_element())
    return to_xml(snap)


@dataclasses.dataclass(frozen=True)
class DirectKernelBoot:
    kernel: str
    initrd: str | None = None
    cmdline: str | None = None


@dataclasses.dataclass(frozen=True)
class DomainConfig:
    """A persistent domain of one instance, with no NIC."""

    name: str
    uuid: str
    virt_type: str
    memory_mb: int
    vcpus: int
    console_log: str
    virtio_console_log: str
    disks: tuple[ET.Element, ...] = ()
    kernel_boot: DirectKernelBoot | None = None

    def to_xml(self) -> str:
        dom = ET.Element('domain', type=self.virt_type)
        ET.SubElement(dom, 'name').text = self.name
        ET.SubElement(dom, 'uuid').text = self.uuid
        ET.SubElement(dom, 'memory', unit='MiB').text = str(self.memory_mb)
        ET.SubElement(dom, 'vcpu').text = str(self.vcpus)
        os_elem = ET.SubElement(dom, 'os')
        ET.SubElement(os_elem, 'type', arch='x86_64', machine='pc').text = \
            'hvm'
        if self.kernel_boot:
            ET.SubElement(os_elem, 'kernel').text = self.kernel_boot.kernel
            if self.kernel_boot.initrd:
                ET.SubElement(os_elem, 'initrd').text = \
                    self.kernel_boot.initrd
            if self.kernel_boot.cmdline:
                ET.SubElement(os_elem, 'cmdline').text = \
                    self.kernel_boot.cmdline
        else:
            ET.SubElement(os_elem, 'boot', dev='hd')
        # ACPI: PCI hot-plug of volumes into a running domain needs it.
        features = ET.SubElement(dom, 'features')
        ET.SubElement(features, 'acpi')
        ET.SubElement(dom, 'on_poweroff').text = 'destroy'
        ET.SubElement(dom, 'on_reboot').text = 'restart'
        ET.SubElement(dom, 'on_crash').text = 'destroy'
        devices = ET.SubElement(dom, 'devices')
        for disk in self.disks:
            devices.append(disk)
        serial = ET.SubElement(devices, 'serial', type='file')
        ET.SubElement(serial, 'source', path=self.console_log, append='on')
        ET.SubElement(serial, 'target', port='0')
        console = ET.SubElement(devices, 'console', type='file')
        ET.SubElement(console, 'source', path=self.virtio_console_log,
                      append='on')
        ET.SubElement(console, 'target', type='virtio')
        ET.SubElement(devices, 'controller', type='usb', model='none')
        ET.SubElement(devices, 'memballoon', model='none')
        return to_xml(dom)


def to_xml(elem: ET.Element) -> str:
    return ET.tostring(elem, encoding='unicode')
