"""Case execution: one volume, one guest, every flow ``repeat`` times.

A :class:`CaseRun` fills a volume with data and holes, boots the writer
guest through Nova and attaches the volume; after a warm-up the plan's
flows take turns migrating the volume between its backend's two pools
(each flow driven by its family, :data:`FAMILIES`), the guest writing the
whole time. The power button then stops the writer, the final volume is
checked (:func:`volmig_bench.checks.verify_volume`) and every migration
becomes a result row (:func:`volmig_bench.measure.build_row`). The server
and the volume are deleted whatever happens.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time

import numpy as np

from cinder_driver_side.volume import copy_engines
from volmig_bench import checks
from volmig_bench import counters
from volmig_bench import deploy
from volmig_bench import environment
from volmig_bench import exception
from volmig_bench import fill
from volmig_bench import flows
from volmig_bench.flows import base as flow_base
from volmig_bench.flows import legacy as legacy_flow
from volmig_bench.flows import new as new_flow
from volmig_bench.guest import builder
from volmig_bench.guest import expected
from volmig_bench.guest import monitor as monitor_mod
from volmig_bench.guest import protocol
from volmig_bench import measure
from volmig_bench import plan as plan_mod
from volmig_bench import probes
from volmig_bench import stats

#: flow family -> the class that drives its flows (volmig_bench.flows)
FAMILIES: dict[str, type[flow_base.FlowRun]] = {
    flows.NEW: new_flow.NewFlow,
    flows.LEGACY: legacy_flow.LegacyFlow,
}
FLAVOR = '2'            # volmig.small, 256 MiB: the guest kernel needs 96
BOOT_TIMEOUT = 180.0
#: what a block job copies at least per guest write (QEMU's default
#: dirty-bitmap granularity of a mirror or active commit)
CHUNK = 64 * 1024
STOP_TIMEOUT = 120.0


def flow_run(name: str, case_run: flow_base.MigratingCase
             ) -> flow_base.FlowRun:
    """What drives the registered flow ``name`` on ``case_run``."""
    flow = flows.get(name)
    return FAMILIES[flow.family](flow, case_run)


class CaseRun:
    """One volume, one guest, every flow ``repeat`` times; its rows."""

    def __init__(self, ctx: environment.RunContext, case: plan_mod.Case):
        self.ctx = ctx
        self.case = case
        self.plan = ctx.plan
        self.backend = case.backend
        self.params = protocol.WriterParams(
            seed=self.plan.seed + case.index, rate=case.rate,
            mix=self.plan.mix, device='auto', align=self.plan.align)
        self.tag = 'case%d' % case.index
        self.base_path = os.path.join(ctx.work_dir, '%s-base.raw' % self.tag)
        self.volume: dict | None = None
        self.server: dict | None = None
        self.monitor: monitor_mod.WriterMonitor | None = None
        self.sampler: counters.CounterSampler | None = None
        #: the guest's latency series, for the result's timeseries
        self.series: dict | None = None
        self.info: dict = {'case': case.label, 'backend': str(case.backend),
                           'size': case.size, 'rate': case.rate,
                           'seed': self.params.seed}

    def say(self, text: str) -> None:
        self.ctx.reporter.step('%s: %s' % (self.case.label, text))

    # set-up

    def _prepare_volume(self) -> str:
        cloud = self.ctx.cloud
        self.say('volume, %.0f %% allocated' % (self.plan.fraction * 100))
        self.volume = cloud.create_volume(self.case.size, self.backend.name,
                                          name='bench-%s' % self.tag)
        _, pool, name = cloud.volume_location(self.volume)
        path = self.ctx.pool_path(self.backend.name, pool, name)
        filled = fill.fill_volume(self.base_path, self.case.size,
                                  self.plan.fraction, seed=self.params.seed)
        copy_engines.NativeCopy().copy(self.base_path, path, self.case.size)
        self.info['fill'] = filled.describe()
        return path

    def _boot_guest(self) -> None:
        ctx = self.ctx
        image = 'volmig-writer-%s' % self.tag
        builder.build(os.path.join(ctx.aio_state, 'images', image),
                      self.params, cache_dir=ctx.cache_dir)
        self.say('booting the guest through Nova')
        created = time.monotonic()
        self.server = ctx.cloud.create_server('bench-%s' % self.tag, image,
                                              FLAVOR)
        ctx.domains.add(self.server['id'])
        ctx.recorder.watch(self.server['id'])
        self.info['server'] = {
            'id': self.server['id'],
            'domain': self.server['OS-EXT-SRV-ATTR:instance_name']}
        ctx.cloud.attach(self.server['id'], self.volume['id'])
        log_path = os.path.join(ctx.aio_state, 'instances',
                                self.server['id'], 'virtio-console.log')
        self.monitor = monitor_mod.WriterMonitor(log_path).start()
        log = self.monitor.wait_for(lambda log: log.t0_us is not None,
                                    BOOT_TIMEOUT, 'the guest writer start')
        self.writer_started = log.started_at
        self.info['boot_s'] = round(log.started_at - created, 2)
        self.info['domain_type'] = probes.domain_type(self.server['id'])
        self.sampler = probes.byte_sampler(
            self.backend, ctx.link,
            self.server['OS-EXT-SRV-ATTR:instance_name'])

    # measurements around the migrations

    def _raw_copy(self) -> dict:
        """The array's own copy of the same bytes: the physical limit.

        The volume file as it is now, with the guest writing as it will
        during the migration that follows.
        """
        path = self.ctx.volume_file(self.ctx.cloud.volume(self.volume['id']))
        raw = probes.raw_copy(path, self.case.size)
        self.info.setdefault('raw_copies', []).append(raw)
        self.say('raw in-array copy %.2f s (%s)' % (raw['seconds'],
                                                    raw['method']))
        return raw

    def _check_nodelay(self, when: str) -> None:
        """TCP_NODELAY of the connections the array's daemons accepted."""
        if self.backend.link != 'nbd':
            return
        seen = probes.accepted_nodelay(self.ctx.aio_state, self.backend.name)
        self.info.setdefault('nbd_accepted_nodelay', {})[when] = seen
        if seen and not all(seen):
            self.ctx.reporter.note(
                'NBD connections without TCP_NODELAY (%s, %s): small '
                'parallel writes will suffer Nagle delays'
                % (self.case.label, when))

    def _guest_bytes(self, timeline: stats.LatencyTimeline):
        """``issued(start, end)``: (bytes, 64 KiB-chunk bytes) written.

        The second is the bytes of the distinct 64 KiB-aligned chunks
        those writes touched: the least a block job that copies whole
        chunks must move for them.
        """
        n = timeline.latency_us.size
        offsets, sizes = expected.schedule_arrays(
            self.params.seed, self.params.mix, self.case.size, n, 0,
            self.params.align)
        offsets = offsets.astype(np.int64)
        sizes = sizes.astype(np.int64)

        def issued(start: float, end: float) -> tuple[int, int]:
            mask = ((timeline.window_start >= start)
                    & (timeline.window_start < end))
            return int(sizes[mask].sum()), stats.chunk_bytes(
                offsets[mask], sizes[mask], CHUNK)

        return issued

    # the end

    def _stop_writer(self) -> protocol.WriterLog:
        import libvirt

        self.say('power button: stopping the writer')
        conn = libvirt.open('qemu:///system')
        try:
            dom = conn.lookupByUUIDString(self.server['id'])
            dom.shutdownFlags(libvirt.VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN)
            self.monitor.wait_for(lambda log: log.done is not None,
                                  STOP_TIMEOUT, 'the writer stopping')
            deploy.wait_for(lambda: not dom.isActive(), STOP_TIMEOUT,
                            'the guest powering off')
        finally:
            conn.close()
        return self.monitor.stop()

    def _verify(self, log: protocol.WriterLog) -> dict:
        final = self.ctx.volume_file(self.ctx.cloud.volume(self.volume['id']))
        self.say('checksum of %d acknowledged writes' % log.acknowledged)
        verdict = checks.verify_volume(final, self.base_path, self.params,
                                       log)
        if not verdict['checksum_ok']:
            self.ctx.reporter.note(checks.mismatch_note(self.case.label,
                                                        verdict, log))
        return verdict

    def _teardown(self) -> None:
        cloud = self.ctx.cloud
        if self.monitor is not None:
            self.monitor.stop()
        if self.sampler is not None:
            self.sampler.stop()
        if self.server is not None:
            with contextlib.suppress(exception.BenchError):
                cloud.delete_server(self.server['id'])
                self.ctx.domains.discard(self.server['id'])
        if self.volume is not None:
            with contextlib.suppress(exception.BenchError):
                cloud.wait_volume(self.volume['id'], ('available',), 60)
                cloud.delete_volume(self.volume['id'])
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.base_path)

    def _save_log(self) -> None:
        if self.monitor is None:
            return
        logs = os.path.join(self.ctx.out_dir, 'logs')
        os.makedirs(logs, exist_ok=True)
        with contextlib.suppress(OSError):
            shutil.copy(self.monitor.reader.path,
                        os.path.join(logs, '%s-writer.log' % self.tag))

    # the case

    def run(self) -> list[dict]:
        try:
            return self._run()
        finally:
            self._save_log()
            self._teardown()

    def _run(self) -> list[dict]:
        self._prepare_volume()
        self._boot_guest()
        self._check_nodelay('attached')
        self.say('warm-up %.0f s' % self.plan.warmup_s)
        time.sleep(self.plan.warmup_s)
        observations, raw_copies = self._migrations()
        self._check_nodelay('after migrations')
        time.sleep(self.plan.tail_s)
        log = self._stop_writer()
        if self.sampler is not None:
            self.sampler.stop()
        verdict = self._verify(log)
        self.info.update(verdict)
        self.info['lags'] = len(log.lags)
        return self._rows(log, observations, raw_copies,
                          verdict['checksum_ok'])

    def _migrations(self) -> tuple[list[measure.Observation],
                                   list[dict | None]]:
        """The plan's flows in turn, ``repeat`` times, each observed."""
        quiet_since = self.writer_started + min(1.0,
                                                self.plan.warmup_s / 2)
        observations = []
        raw_copies = []
        for iteration in range(self.plan.repeat):
            for name in self.plan.flows:
                driver = flow_run(name, self)
                raw = None
                if driver.measures_raw_copy:
                    raw = self._raw_copy()
                    time.sleep(self.plan.gap_s)
                    quiet_since = max(quiet_since, time.monotonic()
                                      - self.plan.gap_s / 2)
                obs = driver.migrate(iteration, quiet_since)
                observations.append(obs)
                raw_copies.append(raw)
                self.say('%s %s in %.2f s' % (
                    name, obs.status, obs.ended_at - obs.called_at))
                time.sleep(self.plan.gap_s)
                quiet_since = obs.ended_at + min(0.5, self.plan.gap_s / 2)
        return observations, raw_copies

    def _rows(self, log: protocol.WriterLog,
              observations: list[measure.Observation],
              raw_copies: list[dict | None], checksum_ok: bool
              ) -> list[dict]:
        """One row per migration; the latency series of the case."""
        timeline = stats.LatencyTimeline(log, stats.ClockMap.from_log(log))
        self.info['achieved_rate'] = round(stats.achieved_rate(
            log, self.params, self.case.size))
        guest_bytes = self._guest_bytes(timeline)
        rows = []
        for obs, raw in zip(observations, raw_copies):
            row = measure.build_row(
                obs, self.case, timeline, self.ctx.clock,
                raw['seconds'] if raw else None,
                environment.legacy_timeout(self.plan), guest_bytes)
            if raw:
                row['raw_copy_method'] = raw['method']
            row['checksum_ok'] = checksum_ok
            rows.append(row)
        series = timeline.series(1.0, origin=self.writer_started)
        series['events'] = [
            {'t_s': round(t - self.writer_started, 3), 'name': name}
            for obs in observations
            for t, name in ((obs.called_at, '%s start' % obs.flow),
                            (obs.ended_at, '%s end' % obs.flow))]
        self.series = series
        return rows
