"""Volumes exported over NBD by the storage array (``nbd``).

``data``: ``host``, ``port``, ``export`` and ``format``. The disk is
``<disk type='network'><source protocol='nbd' name=EXPORT><host .../>``
and qemu-img names it ``nbd://HOST:PORT/EXPORT``.
"""

from __future__ import annotations

from nova_volmig.virt.libvirt import config
from nova_volmig.virt.libvirt.volume import base

NBD_DEFAULT_PORT = config.NBD_DEFAULT_PORT


class LibvirtNBDVolumeDriver(base.LibvirtVolumeDriver):
    driver_volume_type = 'nbd'

    def get_source(self, connection_info: dict) -> config.DiskSource:
        data = self._data(connection_info)
        host = data.get('host')
        export = data.get('export')
        port = data.get('port', NBD_DEFAULT_PORT)
        if not isinstance(host, str) or not host:
            self._invalid('"host" must be a host name or address')
        if not isinstance(export, str) or not export or '/' in export:
            self._invalid('"export" must be a non-empty name without "/"')
        try:
            port = int(port)
        except (TypeError, ValueError):
            port = 0
        if not 0 < port < 65536:
            self._invalid('"port" must be a TCP port, got %r'
                          % (data.get('port'),))
        return config.DiskSource('network', self._format(data),
                                 protocol='nbd', host=host, port=port,
                                 name=export)
