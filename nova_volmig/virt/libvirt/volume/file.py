"""Volumes that are files on the compute host (``driver_volume_type`` file).
"""

from __future__ import annotations

import os

from nova_volmig.virt.libvirt import config
from nova_volmig.virt.libvirt.volume import base


class LibvirtFileVolumeDriver(base.LibvirtVolumeDriver):
    driver_volume_type = 'file'
    disk_kind = 'file'

    def get_source(self, connection_info: dict) -> config.DiskSource:
        data = self._data(connection_info)
        path = data.get('device_path')
        if not isinstance(path, str) or not os.path.isabs(path):
            self._invalid('"device_path" must be an absolute path, got %r'
                          % (path,))
        return config.DiskSource(self.disk_kind, self._format(data),
                                 path=os.path.normpath(path))
