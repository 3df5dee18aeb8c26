"""Which array and pool hold a volume, a host or a volume type.

The lookup every part of the volume service shares (manager, volume API,
migration flows); upstream Cinder spreads it over the scheduler's host
manager and ``volume_utils.extract_host``.
"""

from __future__ import annotations

from oslo_config import cfg

from cinder_driver_side.db import api as db_api
from cinder_driver_side.db import models
from cinder_driver_side import exception
from cinder_driver_side.volume import backend_array
from cinder_driver_side.volume import utils


class Placement:
    """The arrays of this service, looked up by host name or volume."""

    def __init__(self, conf: cfg.ConfigOpts,
                 arrays: dict[str, backend_array.Array]):
        self.conf = conf
        #: name -> Array, shared with (not copied from) the manager.
        self.arrays = arrays

    def _find_pool(self, host: str
                   ) -> tuple[backend_array.Array | None, str]:
        """The array (None if not one of ours) and pool of ``host``."""
        loc = utils.parse_host(host)
        arr = self.arrays.get(loc.backend)
        if arr is None or loc.host != self.conf.host \
                or loc.pool not in arr.pools:
            return None, loc.pool
        return arr, loc.pool

    def locate(self, volume: models.Volume
               ) -> tuple[backend_array.Array, str]:
        """The array and pool holding ``volume``'s data."""
        arr, pool = self._find_pool(volume.host)
        if arr is None:
            raise exception.BackendNotFound(host=volume.host)
        return arr, pool

    def array_for_host(self, host: str) -> tuple[backend_array.Array, str]:
        """The array and pool of ``host@backend#pool``; InvalidHost if none."""
        arr, pool = self._find_pool(host)
        if arr is None:
            known = ', '.join(h for a in self.arrays.values()
                              for h in a.pool_hosts())
            raise exception.InvalidHost(
                reason='no pool named %s; known pools: %s' % (host, known))
        return arr, pool

    def array_for_type(self, ctx, db: db_api.Connection,
                       volume_type: models.VolumeType | None
                       ) -> backend_array.Array | None:
        """First array matching the type's volume_backend_name, if any."""
        if volume_type is None:
            return None
        wanted = db.extra_specs_get(ctx, volume_type.id).get(
            'volume_backend_name')
        if not wanted:
            return None
        for arr in self.arrays.values():
            if arr.volume_backend_name == wanted:
                return arr
        raise exception.InvalidVolumeType(
            reason='no backend has volume_backend_name %s (type %s)'
            % (wanted, volume_type.name))

    def pool_stats(self) -> list[dict]:
        return [p for a in self.arrays.values() for p in a.pool_stats()]

    def check_not_in_use(self, volume: models.Volume,
                         action: str = 'migrated') -> None:
        """Raise VolumeInUse if anything on this host still uses the data.

        Cinder's attachments may be gone while a guest still has the
        volume (its owner deleted the attachment, Nova kept the BDM):
        the array's host is asked (``Array.volume_in_use``, holders)
        before data is deleted.
        """
        arr, pool = self.locate(volume)
        in_use = arr.volume_in_use(pool, volume.backend_name)
        if in_use:
            raise exception.VolumeInUse(
                volume_id=volume.id, action=action,
                holders='; '.join(str(h) for h in in_use))
