"""Volumes that are block devices on the compute host (``block``)."""

from __future__ import annotations

from nova_volmig.virt.libvirt.volume import file


class LibvirtBlockVolumeDriver(file.LibvirtFileVolumeDriver):
    """Same connection_info as ``file``; the disk is ``type='block'``."""

    driver_volume_type = 'block'
    disk_kind = 'block'
