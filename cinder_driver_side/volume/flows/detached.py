"""Detached migration: Cinder copies alone, no Nova.

dst is created and copied (native within one array, generic between
arrays or with force_host_copy), dst's data is put under src's id and
src is deleted.
"""

from __future__ import annotations

from cinder_driver_side.db import models
from cinder_driver_side.objects import fields
from cinder_driver_side.volume.flows import base

MIG = fields.VolumeMigrationStatus


class DetachedFlow(base.MigrationFlow):
    """A volume without attachment."""

    kind = fields.MigrationKind.DETACHED

    def abortable_by_other_actions(self) -> bool:
        """lock_volume=False detached migrations yield to other actions."""
        record = self._reload()
        return (not record.lock_volume
                and record.status in (MIG.STARTING, MIG.MIGRATING))

    def run(self) -> None:
        try:
            new_volume = self._create_dst()
            self._set_status(MIG.MIGRATING)
            self._copy(new_volume)
            # Again just before src goes: a client may have come.
            self.placement.check_not_in_use(self._volume())
        except Exception as e:
            self._delete_dst_quietly()
            self._fail(str(e))
            return
        if not self._enter_completing():
            self._delete_dst_quietly()
            self._fail(self._abort_reason)
            return
        self._switch_detached(new_volume)

    def _switch_detached(self, new_volume: models.Volume) -> None:
        # Crash-safe rename of dst to src's id: link, switch, unlink.
        dst_array, dst_pool = self.placement.array_for_host(
            self.record.dest_host)
        wanted = 'volume-%s' % self.volume_id
        linked = dst_array.link_volume(dst_pool, new_volume.backend_name,
                                       wanted)
        if linked:
            # Safe before the switch: until it, src is the volume's data
            # and a restart drops dst under either name.
            dst_array.unlink_name(dst_pool, new_volume.backend_name)
        self._switch(new_volume, None if linked else new_volume.id)

    def _recover_unswitched(self, record: models.Migration) -> None:
        # Until the switch src is the volume's data: drop dst.
        self._delete_dst_quietly()
        self._fail(base.RESTART_REASON)
