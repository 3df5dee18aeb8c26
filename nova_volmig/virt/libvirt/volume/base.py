"""The interface of a libvirt volume driver."""

from __future__ import annotations

import abc

from nova_volmig.virt.libvirt import config
from nova_volmig.virt.libvirt import exception as lv_exc

SUPPORTED_FORMATS = ('raw', 'qcow2')


class LibvirtVolumeDriver(abc.ABC):
    """Turns one kind of ``connection_info`` into libvirt disk XML."""

    #: the ``driver_volume_type`` this driver serves
    driver_volume_type: str = ''

    @abc.abstractmethod
    def get_source(self, connection_info: dict) -> config.DiskSource:
        """The validated source of the volume.

        :raises InvalidConnectionInfo: a field is missing or malformed.
        """

    def get_config(self, connection_info: dict, device_name: str) -> str:
        """The ``<disk>`` XML attaching the volume at ``device_name``.

        Its ``<serial>`` is ``connection_info['serial']``, the volume id
        the compute manager puts there, as in Nova.
        """
        return self.get_source(connection_info).disk_xml(
            device_name, serial=connection_info.get('serial'))

    # helpers for subclasses

    def _data(self, connection_info: dict) -> dict:
        data = connection_info.get('data')
        if not isinstance(data, dict):
            self._invalid('"data" must be an object')
        return data

    def _format(self, data: dict) -> str:
        fmt = data.get('format', 'raw')
        if fmt not in SUPPORTED_FORMATS:
            self._invalid('format %r is not one of %s'
                          % (fmt, ', '.join(SUPPORTED_FORMATS)))
        return fmt

    def _invalid(self, reason: str):
        raise lv_exc.InvalidConnectionInfo(
            driver_volume_type=self.driver_volume_type, reason=reason)
