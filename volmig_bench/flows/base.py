"""What every flow family shares: one observed migration of a case's volume.

:meth:`FlowRun.migrate` is the same for every family: make the
deployment ready for the flow, call Cinder's migrate towards the
volume's other pool, wait for Cinder's verdict and for whatever still
ends the flow after it, read the byte counters, and return what was seen
(:class:`volmig_bench.measure.Observation`). The families
(:mod:`volmig_bench.flows.new`, :mod:`volmig_bench.flows.legacy`) only
override the hooks.
"""

from __future__ import annotations

import time
from typing import Protocol

from volmig_bench import counters
from volmig_bench import deploy
from volmig_bench import environment
from volmig_bench import flows
from volmig_bench import measure
from volmig_bench import plan as plan_mod
from volmig_bench import probes

#: Polling the deployment costs it CPU (and GIL) while it copies: the
#: times come from its own timestamps, so a slow poll costs no accuracy.
POLL = 0.5


class MigratingCase(Protocol):
    """What a flow needs of the case whose volume it migrates."""

    ctx: environment.RunContext
    case: plan_mod.Case
    volume: dict
    server: dict
    sampler: counters.CounterSampler | None

    def say(self, text: str) -> None:
        ...


class FlowRun:
    """Runs ``flow`` on the volume of ``case_run``, one migration a call."""

    #: Cinder's migrate ``force_host_copy``
    force_host_copy = False
    #: measure the array's raw copy of the volume right before each
    #: migration (what the flow's copy phase is compared with)
    measures_raw_copy = False

    def __init__(self, flow: flows.Flow, case_run: MigratingCase):
        self.flow = flow
        self.case_run = case_run
        self.ctx = case_run.ctx

    # hooks

    def prepare(self) -> None:
        """Before the migrate call: the deployment's settings."""

    def wait_timeout(self) -> float:
        """Seconds Cinder's migration (and then :meth:`finish`) may take."""
        return 300 + self._transfer_s()

    def finish(self, record: dict) -> dict | None:
        """After Cinder's verdict (``record``): what ends the flow then.

        Nova's migration record when Nova finishes on its own after
        Cinder is done; None when nothing does.
        """
        return None

    def _transfer_s(self) -> float:
        return self.case_run.case.size / 10e6

    # the migration

    def migrate(self, iteration: int, quiet_since: float
                ) -> measure.Observation:
        case_run, ctx = self.case_run, self.ctx
        cloud = ctx.cloud
        backend = case_run.case.backend
        name = self.flow.name
        self.prepare()
        volume_id = case_run.volume['id']
        dest = 'aio@%s#%s' % (backend.name,
                              ctx.other_pool(cloud.volume(volume_id)))
        case_run.say('%s -> %s' % (name, dest.split('#')[1]))

        def migration_over():
            volume = cloud.volume(volume_id)
            return volume if volume['migration_status'] in (
                'success', 'error') else None

        called = time.monotonic()
        cloud.migrate_volume(volume_id, dest,
                             force_host_copy=self.force_host_copy)
        volume = deploy.wait_for(
            migration_over, self.wait_timeout(),
            '%s migration of %s' % (name, volume_id), interval=POLL)
        # Cinder ends the volume and finishes its record in one commit.
        record = cloud.volume_migration(volume_id)
        nova_record = self.finish(record)
        ends = [ctx.clock.server_time(record.get('finished_at'))]
        if nova_record is not None:
            ends.append(ctx.clock.server_time(nova_record['updated_at']))
        seen = time.monotonic()
        ended = max([e for e in ends if e is not None], default=seen)
        ended = min(ended, seen)
        status = volume['migration_status']
        error = record.get('error')
        if nova_record is not None and nova_record['status'] == 'error':
            status, error = 'error', 'Nova: %s' % nova_record.get('error')
        link_bytes, qemu_io = probes.bytes_moved(case_run.sampler, backend,
                                                 called, ended)
        return measure.Observation(
            flow=name, iteration=iteration, called_at=called,
            ended_at=ended, quiet_since=quiet_since, status=status,
            error=error, cinder_record=record, nova_record=nova_record,
            events=ctx.recorder.between(case_run.server['id'], called,
                                        seen + 0.5),
            link_bytes=link_bytes, qemu_io_bytes=qemu_io,
            link_kind=ctx.link_kind if backend.link == 'nbd'
            else 'local')
