"""The new flow's family: start, the array's copy, complete, Nova's finish.

Cinder's migrate without ``force_host_copy``: Cinder calls Nova's start,
copies with the array's native engine, calls Nova's complete, and is done
when src is released; Nova then finishes on its own (two-step complete:
the commit of the guest's local overlay into dst). Before each migration
Nova's ``[libvirt] volume_migration_complete_mode`` is set to the flow's
(the services re-read it on SIGHUP), so every complete mode runs in one
deployment.
"""

from __future__ import annotations

from volmig_bench import deploy
from volmig_bench.flows import base


class NewFlow(base.FlowRun):
    """A flow of the new family (``new``, ``new-write_blocking`` ...)."""

    measures_raw_copy = True

    def prepare(self) -> None:
        if self.flow.complete_mode:
            self.ctx.aio.set_nova_options(
                'libvirt',
                volume_migration_complete_mode=self.flow.complete_mode)

    def finish(self, record: dict) -> dict | None:
        """Nova's record once it says ``completed`` or ``error``.

        Only after Cinder's success: a failed migration has no Nova
        finish to wait for.
        """
        if not self.flow.complete_mode or record.get('status') != 'success':
            return None
        cloud = self.ctx.cloud

        def nova_finished():
            migration = cloud.nova_migration(record['src_attachment_id'])
            return migration if migration['status'] in (
                'completed', 'error') else None

        return deploy.wait_for(
            nova_finished, self.wait_timeout(),
            'Nova finishing %s' % self.case_run.volume['id'],
            interval=base.POLL)
