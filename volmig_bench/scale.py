"""``volmig-bench --scenario scale``: many migrations on one compute host.

``--count`` (default 32) diskless domains booted through Nova, each with
one volume (``--size``, default 64 MiB, 60 % filled with seeded data)
attached, all on one ``nova-volmig-aio``. Every volume gets HMP writes
(DESIGN 5) before the migrations; then:

1. **concurrent**: every migration (pool1 -> pool2 of one array, Cinder's
   new flow: Nova's start, native copy, Nova's complete) is requested at
   the same instant; the run ends when Cinder and Nova both finished the
   last one. More writes, then every volume is verified by sha256.
2. **sequential**: the same volumes migrated back, one after the other,
   each waited for (Cinder and Nova) before the next; writes, verify.

What is reported (:mod:`volmig_bench.scale_report`): the control-plane
latency of Nova's start and complete as Cinder timed its calls
(``phase_times``), p50 and p99 in each run; total time at once against
one by one; the array's copy throughput against its raw limit (Cinder's
own native copy of the same files, one at a time, before the runs); the
host's load during each run. Files: ``results.json`` (schema
``volmig-bench-scale/1``) and ``results.png`` under
``<out>/<UTC time>/``.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime
import os
import shutil
import threading
import time

from volmig_bench import cleanup
from volmig_bench import deploy
from volmig_bench import exception
from volmig_bench import host
from volmig_bench import probes
from volmig_bench import scale_parts
from volmig_bench import scale_report
from volmig_bench import teardown

MiB = 1024 * 1024
BACKEND = 'scale'
POOLS = ('pool1', 'pool2')
#: seconds between the concurrent run's polls of Cinder
CONCURRENT_POLL = 2.0
#: names the per-backend queue cap may have in Cinder (issue 12, item 4)
QUEUE_OPTIONS = ('max_concurrent_migrations', 'migration_queue_size',
                 'max_running_migrations')


def queue_option() -> str | None:
    """The Cinder backend option capping running migrations, if any."""
    from cinder_driver_side import conf as cinder_conf

    names = {opt.name for _, opts in cinder_conf.list_opts() for opt in opts}
    return next((n for n in QUEUE_OPTIONS if n in names), None)


class ScaleRun:
    """One scale run on its own deployment (see the module docstring)."""

    def __init__(self, count: int, size: int, state_path: str,
                 out_dir: str, fraction: float = 0.6, writes: int = 3,
                 seed: int = 1, queue_cap: int | None = None,
                 sequential: bool = True, timeout: float = 1200.0,
                 array_throughput: int = 0, say=print):
        if not 1 <= count <= 64:
            raise exception.InvalidParameter(name='count', value=count,
                                             reason='1 to 64')
        if not 16 * MiB <= size <= 1024 * MiB or size % MiB:
            raise exception.InvalidParameter(
                name='size', value=size,
                reason='16M to 1G, whole MiB, for the scale scenario')
        self.count, self.size, self.writes = count, size, writes
        self.sequential, self.timeout, self.say = sequential, timeout, say
        self.out_dir = out_dir
        self.array_throughput = array_throughput
        self.work_dir = os.path.join(state_path, 'bench', 'run-%s-%d' % (
            os.path.basename(out_dir), os.getpid()))
        self.option = queue_option()
        self.queue_cap = queue_cap if self.option else None
        self.models = [scale_parts.VolumeModel(seed * 1000 + i, size,
                                               fraction)
                       for i in range(count)]
        self.servers: list[dict] = []
        self.volumes: list[dict] = []
        self.devices: list[str] = []
        self.domains: set[str] = set()
        self.result = {
            'schema': scale_report.SCHEMA_NAME,
            'started_at': datetime.datetime.now(datetime.timezone.utc)
            .strftime('%Y-%m-%dT%H:%M:%SZ'),
            'host': host.host_facts(state_path),
            'params': {'count': count, 'size': size, 'fraction': fraction,
                       'writes_per_phase': writes, 'seed': seed,
                       'guest': 'diskless domain, HMP qemu-io writes',
                       'backend': 'file, copy_file_range pool to pool',
                       'queue_option': self.option,
                       'queue_cap': self.queue_cap,
                       'array_copy_throughput': array_throughput},
            'notes': [], 'load': {}, 'raw': {}, 'runs': {},
            'summary': {}, 'checks': []}
        if self.option is None:
            self.result['notes'].append(
                'Cinder has no per-backend cap on running migrations on '
                'this branch (none of %s): all %d copies ran at once, '
                'unqueued%s' % (', '.join(QUEUE_OPTIONS), count,
                                '; --queue-cap %s was ignored' % queue_cap
                                if queue_cap else ''))

    # set-up

    def _pool(self, pool: str) -> str:
        return os.path.join(self.work_dir, 'pools', pool)

    def _deploy(self, stack: contextlib.ExitStack) -> None:
        os.makedirs(self.work_dir, mode=0o755)
        stack.callback(shutil.rmtree, self.work_dir, True)
        group = {'volume_backend_name': BACKEND, 'export_protocol': 'file',
                 'pools': ','.join('%s:%s' % (p, self._pool(p))
                                   for p in POOLS)}
        for pool in POOLS:
            os.makedirs(self._pool(pool))
        if self.queue_cap:
            group[self.option] = self.queue_cap
        if self.array_throughput:
            group['array_copy_throughput'] = self.array_throughput
        aio_state = os.path.join(self.work_dir, 'aio')
        stack.callback(teardown.stop_leftover_exports, aio_state)
        stack.callback(cleanup.destroy_leftover_domains, self.domains)
        self.aio = deploy.AioDeployment(
            aio_state, {'libvirt': {
                'volume_migration_complete_mode': 'two_step'}},
            {'DEFAULT': {'enabled_backends': BACKEND}, BACKEND: group})
        stack.callback(teardown.save_aio_log, self.aio, self.out_dir)
        stack.callback(self.aio.stop)
        self.say('starting nova-volmig-aio')
        self.cloud = self.aio.start()
        self.cloud.create_volume_type(BACKEND, BACKEND)

    def _file(self, volume: dict) -> str:
        _, pool, name = self.cloud.volume_location(volume)
        return os.path.join(self._pool(pool), name)

    def _create(self) -> None:
        self.say('%d diskless servers, %d volumes of %d MiB' % (
            self.count, self.count, self.size // MiB))
        ids = []
        for i in range(self.count):
            server = self.cloud.nova.post('/servers', {'server': {
                'name': 'scale-%d' % i}})['server']
            self.domains.add(server['id'])
            ids.append(server['id'])
        for i, model in enumerate(self.models):
            volume = self.cloud.create_volume(self.size, BACKEND,
                                              name='scale-%d' % i)
            model.fill(self._file(volume))
            self.volumes.append(volume)
        for server_id in ids:
            self.servers.append(self.cloud.wait_server(server_id, 'ACTIVE',
                                                       timeout=300))
        for server, volume in zip(self.servers, self.volumes):
            att = self.cloud.attach(server['id'], volume['id'], timeout=120)
            self.devices.append(att['device'])

    def _raw_limit(self) -> None:
        self.result['raw'] = probes.raw_limit(
            [self._file(v) for v in self.volumes[:8]], self.size,
            self.array_throughput)

    # writes and verification

    def _write_all(self) -> None:
        import libvirt

        conn = libvirt.open('qemu:///system')
        try:
            for server, device, model in zip(self.servers, self.devices,
                                             self.models):
                for _ in range(self.writes):
                    write = model.next_write()
                    scale_parts.hmp_write(
                        conn, server['OS-EXT-SRV-ATTR:instance_name'],
                        device, write)
                    model.acknowledge(write)
        finally:
            conn.close()

    def _verify(self) -> list[bool]:
        ok = []
        for i, model in enumerate(self.models):
            self.volumes[i] = self.cloud.volume(self.volumes[i]['id'])
            ok.append(scale_parts.file_sha256(self._file(self.volumes[i]))
                      == model.sha256())
        return ok

    # the migrations

    def _target(self, volume: dict) -> str:
        hostname, _, pool = volume['os-vol-host-attr:host'].partition('#')
        return '%s#%s' % (hostname, POOLS[1 - POOLS.index(pool)])

    def _finished(self, volume_id: str) -> dict | None:
        volume = self.cloud.volume(volume_id)
        if volume.get('migration_status') in ('success', 'error'):
            return volume
        return None

    def _all_finished(self, pending: set[int]) -> dict[int, dict]:
        """The pending migrations that ended, by index: one list call.

        One ``GET /volumes/detail`` per poll (every CONCURRENT_POLL s)
        instead of one GET per volume every 0.5 s: the bench's own
        polling must not load the cloud whose latency it measures (32
        GETs back to back kept one of the process's threads busy the
        whole run).
        """
        wanted = {self.volumes[i]['id']: i for i in pending}
        ended = {}
        for volume in self.cloud.cinder.get('/volumes/detail')['volumes']:
            i = wanted.get(volume['id'])
            if i is not None and volume.get('migration_status') in (
                    'success', 'error'):
                ended[i] = volume
        return ended

    def _nova_done(self, server_id: str) -> float | None:
        """When Nova's asynchronous finish ended, once it has."""
        records = self.cloud.nova.get(
            '/os-volume-migrations?instance_uuid=%s'
            % server_id)['volume_migrations']
        if not records or any(r['status'] not in ('completed', 'cancelled',
                                                  'error') for r in records):
            return None
        return max(deploy.parse_time(r['updated_at']) for r in records)

    def _observe(self, i: int, t_request: float, t0: float,
                 status: str | None, error: str | None = None) -> dict:
        """One MIGRATION of the result (times relative to ``t0``)."""
        server_id = self.servers[i]['id']
        record = self.cloud.volume_migration(self.volumes[i]['id'])
        phases = {k: deploy.parse_time(v)
                  for k, v in record.get('phase_times', {}).items()}
        nova_done = None
        if 'nova_start_called' in phases:  # else Nova has nothing to end
            nova_done = deploy.wait_for(
                lambda: self._nova_done(server_id), self.timeout,
                'Nova finish of %s' % server_id, interval=0.5)
        ends = [t for t in (deploy.parse_time(record.get('finished_at')),
                            nova_done) if t]

        def span(a, b):
            if phases.get(a) is None or phases.get(b) is None:
                return None
            return round(phases[b] - phases[a], 4)

        def rel(t):
            return None if t is None else round(t - t0, 3)

        done = max(ends) if ends else None
        return {'index': i, 'volume_id': self.volumes[i]['id'],
                'server_id': server_id,
                'status': status, 'verified': None,
                'start_s': span('nova_start_called', 'nova_start_returned'),
                'complete_s': span('nova_complete_called',
                                   'nova_complete_returned'),
                'copy_s': span('copy_started', 'copy_finished'),
                'total_s': None if done is None
                else round(done - t_request, 3),
                't_request': rel(t_request),
                't_copy_started': rel(phases.get('copy_started')),
                't_copy_finished': rel(phases.get('copy_finished')),
                't_done': rel(done),
                'nova': scale_parts.nova_phases(self.cloud.nova, server_id,
                                                phases),
                'error': error or record.get('error')}

    def _concurrent(self) -> dict:
        self.say('%d migrations at once' % self.count)
        barrier = threading.Barrier(self.count)

        def request(i: int) -> float:
            volume = self.volumes[i]
            barrier.wait()
            t = time.time()
            self.cloud.migrate_volume(volume['id'], self._target(volume))
            return t

        with concurrent.futures.ThreadPoolExecutor(self.count) as pool:
            requested = list(pool.map(request, range(self.count)))
        t0 = min(requested)
        pending, finals = set(range(self.count)), {}

        def all_done():
            ended = self._all_finished(pending)
            finals.update(ended)
            pending.difference_update(ended)
            return not pending

        # Every end time comes from the services' own timestamps: polling
        # less often changes no measurement, and a list of every volume
        # in detail costs the measured process a few ms per volume.
        deploy.wait_for(all_done, self.timeout, '%d migrations'
                        % self.count, interval=CONCURRENT_POLL)
        migrations = [self._observe(i, requested[i], t0,
                                    finals[i]['migration_status'])
                      for i in range(self.count)]
        return self._run_record(migrations, t0)

    def _one_by_one(self) -> dict:
        self.say('the same %d migrations one by one' % self.count)
        t0, migrations = time.time(), []
        for i, volume in enumerate(self.volumes):
            volume = self.volumes[i] = self.cloud.volume(volume['id'])
            t = time.time()
            self.cloud.migrate_volume(volume['id'], self._target(volume))
            final = deploy.wait_for(lambda: self._finished(volume['id']),
                                    self.timeout, 'migration %d' % i,
                                    interval=0.1)
            migrations.append(self._observe(i, t, t0,
                                            final['migration_status']))
        return self._run_record(migrations, t0)

    @staticmethod
    def _run_record(migrations: list[dict], t0: float) -> dict:
        ends = [m['t_done'] for m in migrations if m['t_done'] is not None]
        return {'total_s': round(max(ends), 3) if ends else None,
                'migrations': migrations}

    def _stage(self, name: str, body) -> None:
        with scale_parts.LoadSampler() as load:
            record = body()
        self.result['load'][name] = load.summary()
        self._write_all()
        for m, ok in zip(record['migrations'], self._verify()):
            m['verified'] = ok
        self.result['runs'][name] = record
        self.say('%s: %.1f s, %d/%d verified' % (
            name, record['total_s'] or 0,
            sum(bool(m['verified']) for m in record['migrations']),
            self.count))

    def run(self) -> dict:
        started = time.monotonic()
        with cleanup.signals_raise(), contextlib.ExitStack() as stack:
            self._deploy(stack)
            self._create()
            self._write_all()
            self.say('raw copy throughput of the array')
            self._raw_limit()
            self._stage('concurrent', self._concurrent)
            if self.sequential:
                self._stage('sequential', self._one_by_one)
            self.say('tearing down')
        self.result['elapsed_s'] = round(time.monotonic() - started, 1)
        scale_report.summarize(self.result)
        scale_report.write_run(self.result, self.out_dir)
        return self.result


def cmd_run(args, state_path: str, console) -> None:
    """``volmig-bench --scenario scale``: run, print, exit status."""
    from volmig_bench.guest import protocol

    stamp = datetime.datetime.now(datetime.timezone.utc).strftime(
        '%Y%m%dT%H%M%SZ')
    out_dir = os.path.abspath(os.path.join(args.out, stamp))
    os.makedirs(out_dir, exist_ok=True)

    def say(text: str) -> None:
        console.print('%s %s' % (time.strftime('%H:%M:%S'), text),
                      markup=False, highlight=False)

    result = ScaleRun(
        args.count, protocol.parse_size(args.size or '64M'),
        os.path.abspath(state_path), out_dir, fraction=args.fraction,
        seed=args.seed, queue_cap=args.queue_cap,
        sequential=getattr(args, 'sequential', True),
        array_throughput=protocol.parse_size(
            getattr(args, 'array_throughput', None) or '64M'),
        say=say).run()
    console.print(scale_report.render_table(result))
    for line in scale_report.summary_lines(result) + [
            'note: %s' % n for n in result['notes']] + [
            'results: %s, %s' % (result['files']['json'],
                                 result['files']['png'])]:
        console.print(line, markup=False, highlight=False)
    failed = [c for c in result['checks']
              if not c['ok'] and c.get('fatal', True)]
    if failed:
        raise exception.BenchError(
            'scale: %s' % '; '.join(c['name'] for c in failed))
