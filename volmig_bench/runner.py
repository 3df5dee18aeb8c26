"""One benchmark run, end to end: what ``volmig-bench`` does by default.

1. Set up: the array's network namespace and shaped link (or the
   throttle-group fallback), the XFS reflink pool, a libvirt event
   recorder, and one ``nova-volmig-aio`` deployment whose Cinder side has
   one backend per (link, array) of the plan, each with two pools.
2. Per case (backend x size x write rate, :class:`CaseRun`): a volume
   filled with data and holes, the array's raw copy time of it, a real
   guest booted through Nova from the writer image, the volume attached;
   a warm-up, then the flows alternate (pool1 -> pool2 -> pool1 ...) with
   the guest writing the whole time; the power button stops the writer
   and the final volume is checked by checksum against base + every
   acknowledged write.
3. Tear down everything, also on failure, Ctrl-C or SIGTERM; write
   ``results.json`` (schema-checked) and ``results.png`` under
   ``bench-results/<UTC time>/`` and print the table.
"""

from __future__ import annotations

import contextlib
import datetime
import glob
import json
import logging
import math
import os
import platform
import shutil
import signal
import time

import numpy as np

from cinder_driver_side.volume import copy_engines
from volmig_bench import cleanup
from volmig_bench import counters
from volmig_bench import deploy
from volmig_bench import display
from volmig_bench import events as events_mod
from volmig_bench import exception
from volmig_bench import fill
from volmig_bench.guest import builder
from volmig_bench.guest import expected
from volmig_bench.guest import monitor as monitor_mod
from volmig_bench.guest import protocol
from volmig_bench import host
from volmig_bench import link as link_mod
from volmig_bench import measure
from volmig_bench import nbd
from volmig_bench import plan as plan_mod
from volmig_bench import report
from volmig_bench import results
from volmig_bench import stats
from volmig_bench import xfs_pool

LOG = logging.getLogger(__name__)

FLAVOR = '2'            # volmig.small, 256 MiB: the guest kernel needs 96
POOLS = ('pool1', 'pool2')
BOOT_TIMEOUT = 180.0
STOP_TIMEOUT = 120.0
#: Polling the deployment costs it CPU (and GIL) while it copies: the
#: times come from its own timestamps, so a slow poll costs no accuracy.
POLL = 0.5
#: the bench's verdicts: new flow several times below legacy
SEVERAL = 3.0
COMPLETE_WAIT_LIMIT_S = 1.0


def legacy_timeout(plan: plan_mod.BenchPlan) -> int:
    """Nova's block-job ready timeout for the run.

    Three times the link's time for the largest volume, at least two
    minutes, unless the plan sets it.
    """
    if plan.legacy_timeout_s:
        return plan.legacy_timeout_s
    seconds = max(plan.sizes) / plan.link.rate_bytes
    return max(120, int(math.ceil(3 * seconds)))


def host_facts(state_path: str) -> dict:
    """Machine and versions, for the result and the doc."""
    import libvirt

    facts = {'kernel': platform.release(), 'python': platform.python_version(),
             'cpus': os.cpu_count()}
    with contextlib.suppress(OSError):
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    facts['cpu'] = line.split(':', 1)[1].strip()
                    break
        with open('/proc/meminfo') as f:
            facts['memory_gib'] = round(int(f.readline().split()[1])
                                        / 2 ** 20, 1)
        with open('/etc/os-release') as f:
            for line in f:
                if line.startswith('PRETTY_NAME='):
                    facts['os'] = line.split('=', 1)[1].strip().strip('"')
    conn = libvirt.open('qemu:///system')
    try:
        lib = conn.getLibVersion()
        qemu = conn.getVersion()
        facts['libvirt'] = '%d.%d.%d' % (lib // 10 ** 6, lib // 1000 % 1000,
                                         lib % 1000)
        facts['qemu'] = '%d.%d.%d' % (qemu // 10 ** 6,
                                      qemu // 1000 % 1000, qemu % 1000)
    finally:
        conn.close()
    facts['state_path_fs'] = _fs_type(state_path)
    return facts


def _fs_type(path: str) -> str:
    path = os.path.abspath(path)
    best = ('', '?')
    with contextlib.suppress(OSError):
        with open('/proc/mounts') as f:
            for line in f:
                _, mnt, fstype = line.split()[:3]
                if (path == mnt or path.startswith(mnt.rstrip('/') + '/')) \
                        and len(mnt) > len(best[0]):
                    best = (mnt, fstype)
    return best[1]


class RunContext:
    """What the cases of one run share."""

    def __init__(self, plan: plan_mod.BenchPlan, work_dir: str,
                 out_dir: str, reporter: display.Reporter,
                 cache_dir: str | None):
        self.plan = plan
        self.work_dir = work_dir
        self.out_dir = out_dir
        self.reporter = reporter
        self.cache_dir = cache_dir
        self.clock = measure.WallClock.now()
        self.link: link_mod.ShapedLink | None = None
        self.link_kind = 'local'
        self.pools: dict[str, dict[str, str]] = {}
        self.aio: deploy.AioDeployment | None = None
        self.recorder: events_mod.BlockJobRecorder | None = None
        #: domains the run created, destroyed at the end whatever happens
        self.domains: set[str] = set()

    @property
    def cloud(self) -> deploy.Cloud:
        return self.aio.cloud

    @property
    def aio_state(self) -> str:
        return os.path.join(self.work_dir, 'aio')

    def pool_path(self, backend: str, pool: str, name: str) -> str:
        return os.path.join(self.pools[backend][pool], name)


class CaseRun:
    """One volume, one guest, every flow ``repeat`` times; its rows."""

    def __init__(self, ctx: RunContext, case: plan_mod.Case):
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

    def _volume_file(self) -> str:
        cloud = self.ctx.cloud
        backend, pool, name = cloud.volume_location(
            cloud.volume(self.volume['id']))
        return self.ctx.pool_path(backend, pool, name)

    def _raw_copy(self) -> dict:
        """The array's own copy of the same bytes: the physical limit.

        The volume file as it is now, copied by Cinder's native engine
        within its pool, with the guest writing as it will during the
        migration that follows.
        """
        path = self._volume_file()
        probe = os.path.join(os.path.dirname(path), '.raw-copy-probe')
        try:
            result = copy_engines.NativeCopy().copy(path, probe,
                                                    self.case.size)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(probe)
        raw = {'seconds': round(result.seconds, 4), 'method': result.method,
               'bytes': result.bytes_transferred}
        self.info.setdefault('raw_copies', []).append(raw)
        self.say('raw in-array copy %.2f s (%s)' % (result.seconds,
                                                    result.method))
        return raw

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
        self.info['domain_type'] = _domain_type(self.server['id'])
        self._start_sampler()

    def _start_sampler(self) -> None:
        if self.backend.link == 'nbd' and self.ctx.link is not None:
            def read():
                counted = self.ctx.link.counters()
                return (counted.to_array, counted.from_array)
        elif self.backend.link == 'file':
            pid = counters.qemu_pid(
                self.server['OS-EXT-SRV-ATTR:instance_name'])
            read = lambda: counters.process_io_bytes(pid)  # noqa: E731
        else:
            return
        self.sampler = counters.CounterSampler(read).start()

    def _check_nodelay(self, when: str) -> None:
        """TCP_NODELAY of the connections the array's daemons accepted."""
        if self.backend.link != 'nbd':
            return
        state = os.path.join(self.ctx.aio_state, 'cinder', 'nbd',
                             self.backend.name)
        seen = []
        for path in glob.glob(os.path.join(state, '*.json')):
            with contextlib.suppress(OSError, ValueError, KeyError):
                with open(path) as f:
                    pid = json.load(f)['pid']
                seen.extend(nbd.accepted_nodelay(pid).values())
        self.info.setdefault('nbd_accepted_nodelay', {})[when] = seen
        if seen and not all(seen):
            self.ctx.reporter.note(
                'NBD connections without TCP_NODELAY (%s, %s): small '
                'parallel writes will suffer Nagle delays'
                % (self.case.label, when))

    # migrations

    def _other_pool(self) -> str:
        _, pool, _ = self.ctx.cloud.volume_location(
            self.ctx.cloud.volume(self.volume['id']))
        return POOLS[1 - POOLS.index(pool)]

    def _wait_timeout(self, flow: str) -> float:
        transfer = self.case.size / 10e6
        if flow == 'legacy':
            return legacy_timeout(self.plan) + 120 + transfer
        return 300 + transfer

    def migrate(self, flow: str, iteration: int, quiet_since: float
                ) -> measure.Observation:
        ctx = self.ctx
        cloud = ctx.cloud
        mode = plan_mod.COMPLETE_MODES.get(flow)
        if mode:
            ctx.aio.set_nova_options(
                'libvirt', volume_migration_complete_mode=mode)
        dest = 'aio@%s#%s' % (self.backend.name, self._other_pool())
        self.say('%s -> %s' % (flow, dest.split('#')[1]))
        volume_id = self.volume['id']

        def migration_over():
            volume = cloud.volume(volume_id)
            return volume if volume['migration_status'] in (
                'success', 'error') else None

        called = time.monotonic()
        cloud.migrate_volume(volume_id, dest,
                             force_host_copy=(flow == 'legacy'))
        volume = deploy.wait_for(
            migration_over, self._wait_timeout(flow),
            '%s migration of %s' % (flow, volume_id), interval=POLL)
        record = cloud.volume_migration(volume_id)
        nova_record = None
        ends = [ctx.clock.server_time(record.get('finished_at'))]
        if mode and record.get('status') == 'success':
            def nova_finished():
                migration = cloud.nova_migration(
                    record['src_attachment_id'])
                return migration if migration['status'] in (
                    'completed', 'error') else None

            nova_record = deploy.wait_for(
                nova_finished, self._wait_timeout(flow),
                'Nova finishing %s' % volume_id, interval=POLL)
            ends.append(ctx.clock.server_time(nova_record['updated_at']))
        seen = time.monotonic()
        ended = max([e for e in ends if e is not None], default=seen)
        ended = min(ended, seen)
        status = volume['migration_status']
        error = record.get('error')
        if nova_record is not None and nova_record['status'] == 'error':
            status, error = 'error', 'Nova: %s' % nova_record.get('error')
        time.sleep(2 * (self.sampler.interval if self.sampler else 0))
        link_bytes = qemu_io = None
        if self.sampler is not None:
            delta = self.sampler.delta(called, ended)
            if self.backend.link == 'nbd':
                link_bytes = delta
            else:
                qemu_io = delta
        return measure.Observation(
            flow=flow, iteration=iteration, called_at=called,
            ended_at=ended, quiet_since=quiet_since, status=status,
            error=error, cinder_record=record, nova_record=nova_record,
            events=ctx.recorder.between(self.server['id'], called,
                                        seen + 0.5),
            link_bytes=link_bytes, qemu_io_bytes=qemu_io,
            link_kind=ctx.link_kind if self.backend.link == 'nbd'
            else 'local')

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
        cloud = self.ctx.cloud
        volume = cloud.volume(self.volume['id'])
        backend, pool, name = cloud.volume_location(volume)
        final = self.ctx.pool_path(backend, pool, name)
        self.say('checksum of %d acknowledged writes' % log.acknowledged)
        actual = expected.sha256_file(final)
        expected.apply_writes(self.base_path, self.params.seed,
                              self.params.mix, log.acknowledged,
                              align=self.params.align)
        want = expected.sha256_file(self.base_path)
        ok = (actual == want and log.done.ok and not log.errors)
        verdict = {'checksum_ok': ok, 'expected_sha256': want,
                   'actual_sha256': actual, 'writes': log.acknowledged,
                   'writer_errors': log.errors, 'final_path': final}
        if not ok:
            self.ctx.reporter.note(
                'DATA INTEGRITY FAILURE in %s: expected sha256 %s, found '
                '%s (writer status %s, errors %s)' % (
                    self.case.label, want, actual, log.done.status
                    if hasattr(log.done, 'status') else log.done.ok,
                    log.errors))
        return verdict

    def _guest_bytes(self, timeline: stats.LatencyTimeline):
        n = timeline.latency_us.size
        sizes = np.fromiter(
            (w.size for w in expected.schedule(
                self.params.seed, self.params.mix, self.case.size, n)),
            dtype=np.int64, count=n)

        def issued(start: float, end: float) -> int:
            mask = ((timeline.window_start >= start)
                    & (timeline.window_start < end))
            return int(sizes[mask].sum())

        return issued

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
        quiet_since = self.writer_started + min(1.0,
                                                self.plan.warmup_s / 2)
        observations = []
        raw_copies = []
        for iteration in range(self.plan.repeat):
            for flow in self.plan.flows:
                raw = None
                if flow != 'legacy':
                    raw = self._raw_copy()
                    time.sleep(self.plan.gap_s)
                    quiet_since = max(quiet_since, time.monotonic()
                                      - self.plan.gap_s / 2)
                obs = self.migrate(flow, iteration, quiet_since)
                observations.append(obs)
                raw_copies.append(raw)
                self.say('%s %s in %.2f s' % (
                    flow, obs.status, obs.ended_at - obs.called_at))
                time.sleep(self.plan.gap_s)
                quiet_since = obs.ended_at + min(0.5, self.plan.gap_s / 2)
        self._check_nodelay('after migrations')
        time.sleep(self.plan.tail_s)
        log = self._stop_writer()
        if self.sampler is not None:
            self.sampler.stop()
        verdict = self._verify(log)
        self.info.update(verdict)
        self.info['lags'] = len(log.lags)
        timeline = stats.LatencyTimeline(log, stats.ClockMap.from_log(log))
        self.info['achieved_rate'] = round(stats.achieved_rate(
            log, self.params, self.case.size))
        guest_bytes = self._guest_bytes(timeline)
        rows = []
        for obs, raw in zip(observations, raw_copies):
            row = measure.build_row(
                obs, self.case, timeline, self.ctx.clock,
                raw['seconds'] if raw else None, legacy_timeout(self.plan),
                guest_bytes)
            if raw:
                row['raw_copy_method'] = raw['method']
            row['checksum_ok'] = verdict['checksum_ok']
            rows.append(row)
        series = timeline.series(1.0, origin=self.writer_started)
        series['events'] = [
            {'t_s': round(t - self.writer_started, 3), 'name': name}
            for obs in observations
            for t, name in ((obs.called_at, '%s start' % obs.flow),
                            (obs.ended_at, '%s end' % obs.flow))]
        self.series = series
        return rows


def _domain_type(uuid: str) -> str:
    """``kvm`` or ``qemu`` (TCG): what the instance really runs on."""
    import xml.etree.ElementTree as ET

    import libvirt

    conn = libvirt.open('qemu:///system')
    try:
        return ET.fromstring(conn.lookupByUUIDString(uuid).XMLDesc(0)
                             ).get('type')
    finally:
        conn.close()


def _nova_conf(plan: plan_mod.BenchPlan) -> dict:
    return {'libvirt': {
        'block_job_ready_timeout': legacy_timeout(plan),
        'block_job_progress_window': plan.progress_window_s,
        'volume_migration_complete_mode': 'two_step'}}


def _cinder_conf(ctx: RunContext, backends) -> dict:
    names = ','.join(b.name for b in backends)
    conf = {'DEFAULT': {'enabled_backends': names}}
    for backend in backends:
        group = {'volume_backend_name': backend.name,
                 'pools': ','.join('%s:%s' % (p, ctx.pools[backend.name][p])
                                   for p in POOLS),
                 'export_protocol': backend.link}
        if backend.link == 'nbd':
            if ctx.link is not None:
                group.update(nbd_netns=ctx.link.namespace,
                             nbd_listen_address=ctx.link.array_address)
            else:
                group['nbd_throttle_bytes_sec'] = int(
                    ctx.plan.link.rate_bytes)
        conf[backend.name] = group
    return conf


def _set_up_link(ctx: RunContext, stack: contextlib.ExitStack) -> None:
    plan = ctx.plan
    if plan.link_mode != 'throttle-group':
        ok, why = link_mod.namespaces_available()
        if ok:
            ctx.reporter.step('storage link: namespace + veth, %s'
                              % plan.link.describe())
            ctx.link = stack.enter_context(link_mod.shaped_link(plan.link))
            ctx.link_kind = 'netns-veth'
            return
        if plan.link_mode == 'netns':
            raise exception.NamespaceUnavailable(reason=why)
        ctx.reporter.note('network namespaces cannot be made here (%s): '
                          'the NBD exports are limited by a QEMU throttle '
                          'group instead, with no queue bound and no link '
                          'byte counters' % why)
    else:
        ctx.reporter.note('link mode throttle-group requested: NBD exports '
                          'limited by a QEMU throttle group, no link byte '
                          'counters')
    ctx.link_kind = 'throttle-group'


def _set_up_pools(ctx: RunContext, stack: contextlib.ExitStack,
                  state_path: str) -> list[plan_mod.Backend]:
    plan = ctx.plan
    backends = list(plan.backends)
    xfs = [b for b in backends if b.array == 'xfs-reflink']
    xfs_root = None
    if xfs:
        ok, why = xfs_pool.loop_available()
        if ok:
            size = int(2.5 * max(plan.sizes)) + (1 << 30)
            ctx.reporter.step('XFS reflink pool on a loop device')
            pool = stack.enter_context(xfs_pool.xfs_pool(
                os.path.join(state_path, 'bench'), size))
            xfs_root = pool.path
        else:
            ctx.reporter.note('XFS reflink pool skipped: loop devices '
                              'cannot be had here (%s)' % why)
            backends = [b for b in backends if b not in xfs]
    for backend in backends:
        root = (os.path.join(xfs_root, backend.name)
                if backend.array == 'xfs-reflink'
                else os.path.join(ctx.work_dir, 'pools', backend.name))
        ctx.pools[backend.name] = {}
        for pool in POOLS:
            path = os.path.join(root, pool)
            os.makedirs(path, exist_ok=True)
            ctx.pools[backend.name][pool] = path
    if not backends:
        raise exception.BenchError('no backend of the plan can run here')
    return backends


def _check_space(plan: plan_mod.BenchPlan, state_path: str) -> None:
    need = int(max(plan.sizes) * plan.fraction * 4) + (2 << 30)
    stat = os.statvfs(state_path)
    free = stat.f_bavail * stat.f_frsize
    if free < need:
        raise exception.InvalidParameter(
            name='state path', value=state_path,
            reason='%s free, the plan needs about %s' % (
                results.format_size(free), results.format_size(need)))


def _destroy_leftover_domains(uuids) -> None:
    import libvirt

    if not uuids:
        return
    conn = libvirt.open('qemu:///system')
    try:
        for uuid in list(uuids):
            with contextlib.suppress(libvirt.libvirtError):
                dom = conn.lookupByUUIDString(uuid)
                if dom.isActive():
                    dom.destroy()
                dom.undefineFlags(
                    libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)
    finally:
        conn.close()


def _stop_leftover_exports(aio_state: str) -> None:
    """qemu-storage-daemons the deployment started and left behind."""
    for path in glob.glob(os.path.join(aio_state, 'cinder', 'nbd', '*',
                                       '*.json')):
        with contextlib.suppress(OSError, ValueError, KeyError):
            with open(path) as f:
                pid = json.load(f)['pid']
            with open('/proc/%d/cmdline' % pid, 'rb') as f:
                argv = f.read().split(b'\0')
            if os.path.basename(argv[0]) == b'qemu-storage-daemon':
                os.kill(pid, signal.SIGTERM)


def _stop_aio_of(aio_state: str) -> None:
    """SIGTERM the nova-volmig-aio that serves ``aio_state``, if any."""
    with contextlib.suppress(OSError, ValueError, KeyError):
        with open(os.path.join(aio_state, 'aio.json')) as f:
            pid = json.load(f)['pid']
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            argv = f.read().split(b'\0')
        if aio_state.encode() not in argv:
            return  # the pid was reused by something else
        os.kill(pid, signal.SIGTERM)
        # Until it is reaped (gone from /proc), not only exited: a zombie
        # still counts here, unlike cleanup.pid_alive.
        deadline = time.monotonic() + 60
        while os.path.exists('/proc/%d' % pid) and \
                time.monotonic() < deadline:
            time.sleep(0.1)
        if os.path.exists('/proc/%d' % pid):
            os.kill(pid, signal.SIGKILL)


def cleanup_stale_runs(state_path: str) -> list[str]:
    """Tear down what runs killed with SIGKILL left under the state path.

    Their deployment (by the pid it recorded), its domains, its NBD
    daemons and the run directory; namespaces and XFS pools have their
    own cleanup (:func:`link.cleanup_stale`, :func:`xfs_pool.cleanup_stale`),
    which should run after this.
    """
    removed = []
    for run_dir in sorted(glob.glob(os.path.join(
            os.path.abspath(state_path), 'bench', 'run-*-*'))):
        pid = run_dir.rsplit('-', 1)[1]
        if not pid.isdigit() or cleanup.pid_alive(int(pid)):
            continue
        aio_state = os.path.join(run_dir, 'aio')
        _stop_aio_of(aio_state)
        uuids = [os.path.basename(p) for p in glob.glob(
            os.path.join(aio_state, 'instances', '*'))]
        _destroy_leftover_domains(uuids)
        _stop_leftover_exports(aio_state)
        shutil.rmtree(run_dir, ignore_errors=True)
        removed.append(run_dir)
    return removed


def _checks(result: dict) -> list[dict]:
    """The run's verdicts (integrity, convergence, the issue's bars)."""
    rows = result['rows']
    new = [r for r in rows if r['flow'] != 'legacy']
    verified = [c for c in result['runs'] if 'checksum_ok' in c]
    checks = [
        {'name': 'every case ran to the end', 'fatal': True,
         'ok': bool(result['runs']) and not any(
             c.get('error') for c in result['runs']),
         'detail': '; '.join('%s: %s' % (c['case'], c['error'])
                             for c in result['runs'] if c.get('error'))},
        {'name': 'data integrity (checksum of every case)',
         'ok': all(c['checksum_ok'] for c in verified), 'fatal': True,
         'detail': '; '.join('%s: expected %s, found %s' % (
             c['case'], c['expected_sha256'], c['actual_sha256'])
             for c in verified if not c['checksum_ok'])},
        {'name': 'new flows all succeeded (never failed to converge)',
         'ok': all(r['status'] == 'success' for r in new), 'fatal': True,
         'detail': '; '.join('%s: %s' % (r['id'], r['error'])
                             for r in new if r['status'] != 'success')},
    ]
    for flow in ('new', 'new-write_blocking'):
        waits = [r['cinder_complete_wait_s'] for r in new
                 if r['flow'] == flow
                 and r['cinder_complete_wait_s'] is not None]
        if not waits:
            continue
        name = 'Cinder waits under %g s in complete (%s)' % (
            COMPLETE_WAIT_LIMIT_S, flow)
        if flow == 'new-write_blocking':
            name += ('; by design it waits for the guest\'s new data to '
                     'cross the link')
        checks.append({'name': name, 'fatal': False,
                       'ok': max(waits) < COMPLETE_WAIT_LIMIT_S,
                       'detail': 'max %.3f s' % max(waits)})
    for summary in result.get('summary', []):
        if summary['link'] != 'nbd' or summary['flow'] != 'new':
            continue
        for what in ('time', 'bytes'):
            ratio = summary.get('%s_ratio' % what)
            if ratio is None:
                continue
            checks.append({
                'name': '%s nbd %s: new flow %s several times below '
                        'legacy' % (results.format_size(summary['size']),
                                    summary['array'], what),
                'ok': ratio >= SEVERAL, 'fatal': False,
                'detail': 'legacy / new = %.1fx' % ratio})
    return checks


def _summary(rows: list[dict]) -> list[dict]:
    """Mean per (size, rate, link, array, flow), ratios to legacy."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        key = (row['size'], row.get('rate'), row['link'], row['array'],
               row['flow'])
        groups.setdefault(key, []).append(row)

    def mean(values):
        values = [v for v in values if v is not None]
        return float(np.mean(values)) if values else None

    out = []
    for key, members in groups.items():
        size, rate, link_name, array, flow = key
        ok = [r for r in members if r['status'] == 'success']
        entry = {'size': size, 'rate': rate, 'link': link_name,
                 'array': array, 'flow': flow, 'n': len(members),
                 'succeeded': len(ok),
                 'total_s': mean(r['total_s'] for r in ok),
                 'bytes': mean(r['bytes_through_compute'] for r in ok),
                 'complete_wait_s': mean(r['cinder_complete_wait_s']
                                         for r in ok),
                 'p99_during_ms': mean(r['guest_latency']['during']['p99_ms']
                                       for r in ok)}
        out.append(entry)
    for entry in out:
        if entry['flow'] == 'legacy':
            continue
        legacy = next((e for e in out if e['flow'] == 'legacy' and all(
            e[k] == entry[k] for k in ('size', 'rate', 'link', 'array'))),
            None)
        if legacy is None:
            continue
        for what, key in (('time', 'total_s'), ('bytes', 'bytes')):
            if legacy[key] and entry[key]:
                entry['%s_ratio' % what] = round(legacy[key] / entry[key],
                                                 2)
            elif legacy['succeeded'] == 0 and what == 'time':
                entry['time_ratio'] = None
                entry['legacy_did_not_finish'] = True
    return out


def run(plan: plan_mod.BenchPlan, state_path: str,
        out_root: str = 'bench-results', cache_dir: str | None = None,
        console=None) -> dict:
    """Run the plan; returns the result (also written under out_root).

    Raises :class:`exception.ChecksumMismatch` when any case's data did
    not survive, and :class:`exception.MigrationFailed` when a new flow
    failed; the files are written first.
    """
    host.require('qemu-img', 'qemu-storage-daemon', 'ip', 'tc')
    state_path = os.path.abspath(state_path)
    os.makedirs(state_path, exist_ok=True)
    _check_space(plan, state_path)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime(
        '%Y%m%dT%H%M%SZ')
    out_dir = os.path.abspath(os.path.join(out_root, stamp))
    os.makedirs(out_dir, exist_ok=True)
    result = results.new_result(plan.describe(),
                                host=host_facts(state_path))
    result['runs'] = []
    cases = plan.cases()
    started = time.monotonic()
    with display.Reporter(result, len(cases) * plan.migrations_per_case,
                          console) as reporter, cleanup.signals_raise():
        work_dir = os.path.join(state_path, 'bench', 'run-%s-%d'
                                % (stamp, os.getpid()))
        ctx = RunContext(plan, work_dir, out_dir, reporter, cache_dir)
        try:
            with contextlib.ExitStack() as stack:
                os.makedirs(work_dir, mode=0o755)
                stack.callback(shutil.rmtree, work_dir, True)
                if any(b.link == 'nbd' for b in plan.backends):
                    _set_up_link(ctx, stack)
                backends = _set_up_pools(ctx, stack, state_path)
                result['params']['backends_run'] = [str(b) for b in backends]
                result['params']['link']['kind'] = ctx.link_kind
                result['params']['legacy_timeout_s'] = legacy_timeout(plan)
                ctx.recorder = stack.enter_context(
                    events_mod.BlockJobRecorder())
                stack.callback(_stop_leftover_exports, ctx.aio_state)
                stack.callback(_destroy_leftover_domains, ctx.domains)
                reporter.step('starting nova-volmig-aio')
                ctx.aio = deploy.AioDeployment(ctx.aio_state,
                                               _nova_conf(plan),
                                               _cinder_conf(ctx, backends))
                stack.callback(_save_aio_log, ctx)
                stack.callback(ctx.aio.stop)
                ctx.aio.start()
                for backend in backends:
                    ctx.cloud.create_volume_type(backend.name, backend.name)
                result['timeseries'] = {}
                for case in cases:
                    if case.backend not in backends:
                        continue
                    case_run = CaseRun(ctx, case)
                    try:
                        rows = case_run.run()
                    except exception.BenchError as exc:
                        reporter.note('case %s failed: %s' % (case.label,
                                                              exc))
                        case_run.info['error'] = str(exc)
                        rows = []
                    result['runs'].append(case_run.info)
                    for row in rows:
                        reporter.add_row(row)
                    if getattr(case_run, 'series', None):
                        key = '%s-%s-%gm' % (
                            results.format_size(case.size).replace(' ', ''),
                            case.backend.name, case.rate / 1e6)
                        result['timeseries'][key] = case_run.series
                reporter.step('tearing down')
        finally:
            result['elapsed_s'] = round(time.monotonic() - started, 1)
            result['summary'] = _summary(result['rows'])
            result['checks'] = _checks(result)
            report.write_run(result, out_dir, out_root)
    return result


def _save_aio_log(ctx: RunContext) -> None:
    with contextlib.suppress(OSError):
        shutil.copy(ctx.aio.log_path, os.path.join(ctx.out_dir, 'aio.log'))


def verdict(result: dict) -> None:
    """Raise when the run proved a failure (after everything was written)."""
    failed = [c for c in result['checks'] if c['fatal'] and not c['ok']]
    integrity = [c for c in failed if c['name'].startswith('data integ')]
    if integrity:
        raise exception.ChecksumMismatch(
            'DATA INTEGRITY FAILURE: the final volume differs from its '
            'base plus every acknowledged guest write: %s'
            % integrity[0]['detail'])
    if failed:
        raise exception.BenchError('%s: %s' % (failed[0]['name'],
                                               failed[0].get('detail')))
