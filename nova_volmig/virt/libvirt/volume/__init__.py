"""Volume drivers of the libvirt driver, one module per protocol.

As in os-brick and Nova's ``nova.virt.libvirt.volume``: the factory picks
the driver by ``connection_info['driver_volume_type']`` and the driver turns
the connection_info into the disk's source (``config.DiskSource``), from
which the disk XML, snapshot and copy targets and qemu-img names follow.
"""

from __future__ import annotations

from oslo_utils import importutils

from nova_volmig.virt.libvirt import config
from nova_volmig.virt.libvirt import exception as lv_exc
from nova_volmig.virt.libvirt.volume import base

VOLUME_DRIVERS = {
    'file': 'nova_volmig.virt.libvirt.volume.file.LibvirtFileVolumeDriver',
    'block':
        'nova_volmig.virt.libvirt.volume.block.LibvirtBlockVolumeDriver',
    'nbd': 'nova_volmig.virt.libvirt.volume.nbd.LibvirtNBDVolumeDriver',
}


def get_volume_driver(connection_info: dict) -> base.LibvirtVolumeDriver:
    """The driver for ``connection_info``; raises UnsupportedVolumeType."""
    volume_type = (connection_info or {}).get('driver_volume_type')
    try:
        path = VOLUME_DRIVERS[volume_type]
    except KeyError:
        raise lv_exc.UnsupportedVolumeType(
            driver_volume_type=volume_type,
            supported=', '.join(sorted(VOLUME_DRIVERS)))
    return importutils.import_object(path)


def disk_source(connection_info: dict) -> config.DiskSource:
    """Shortcut: the validated disk source of ``connection_info``."""
    return get_volume_driver(connection_info).get_source(connection_info)
