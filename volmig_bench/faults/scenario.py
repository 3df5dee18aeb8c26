"""One fault case end to end, and the run of every case ``repeat`` times.

:class:`FaultCaseRun`: a fresh volume (filled with data and holes) and a
fresh server on compute-live running the writer guest, the volume
attached; Cinder's migrate towards the volume's other pool (the case's
flow); the fault fired by its trigger, the service restarted after
``down_s``; the migration left to settle (Cinder's verdict and Nova's
asynchronous finish). Checked on the way (:mod:`volmig_bench.faults.
checks`): src frozen from start on, the disk the guest ends on against
the acknowledged log right after the migration settled and once the
writer stopped, nothing left behind.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time

from volmig_bench import deploy
from volmig_bench import exception
from volmig_bench.faults import cases as cases_mod
from volmig_bench.faults import checks
from volmig_bench.faults import injector
from volmig_bench import fill
from volmig_bench import flows
from volmig_bench.guest import builder
from volmig_bench.guest import expected
from volmig_bench.guest import monitor as monitor_mod
from volmig_bench.guest import protocol

FLAVOR = '2'            # volmig.small, 256 MiB
BOOT_TIMEOUT = 180.0
SETTLE_TIMEOUT = 300.0
BACKEND = 'array1'      # the distributed deployment's two-pool array
#: free bytes an ENOSPC case leaves in the destination pool
FILLER_LEAVES = 4 << 20
POOLS = ('pool1', 'pool2')
NOVA_TERMINAL = ('completed', 'cancelled', 'error')
#: Nova steps that mean the guest may already write into the overlay
AFTER_SWITCH_TO_OVERLAY = ('start:snapshot', 'started')


class FaultCaseRun:
    """One case, one repetition: its row of the fault table."""

    def __init__(self, env: injector.FaultDeployment,
                 case: cases_mod.FaultCase, iteration: int, seed: int,
                 work_dir: str, size: int, rate: int,
                 cache_dir: str | None, say=print):
        self.env = env
        self.cloud = env.cloud
        self.case = case
        self.flow = flows.get(case.flow)
        self.iteration = iteration
        self.size = size
        self.params = protocol.WriterParams(seed=seed, rate=rate)
        self.tag = '%s-%d' % (case.name, iteration)
        self.work_dir = work_dir
        self.cache_dir = cache_dir
        self.base = os.path.join(work_dir, '%s-base.raw' % self.tag)
        self.src_link = os.path.join(work_dir, '%s-src.raw' % self.tag)
        self._say = say
        self.volume: dict | None = None
        self.server: dict | None = None
        self.monitor: monitor_mod.WriterMonitor | None = None
        self.src_attachment: str | None = None
        #: a file filling a pool up, made by the fault (not before)
        self.late_filler: str | None = None
        self.files_before: set[str] = set()
        self.disk_path = self.disk_format = None
        self.row: dict = {'case': case.name, 'iteration': iteration,
                          'flow': case.flow, 'fault': case.fault,
                          'trigger': case.trigger.describe()
                          if case.trigger else None, 'seed': seed}

    def say(self, text: str) -> None:
        self._say('%s: %s' % (self.tag, text))

    # set-up

    def _prepare(self) -> None:
        self.files_before = checks.volume_files(self.env)
        self.volume = self.cloud.create_volume(self.size, self.case.backend,
                                               name='faults-%s' % self.tag)
        path = self.env.volume_file(self.volume)
        fill.fill_volume(self.base, self.size, 0.5, seed=self.params.seed)
        expected.sparse_copy(self.base, path)
        # A second name for src: its inode outlives Cinder's delete.
        os.link(path, self.src_link)
        self.src_path = path
        image = 'volmig-writer-%d' % self.params.seed
        builder.build(os.path.join(self.env.images_path, image),
                      self.params, cache_dir=self.cache_dir)
        server = self.cloud.nova.post('/servers', {'server': {
            'name': 'faults-%s' % self.tag, 'imageRef': image,
            'flavorRef': FLAVOR,
            'availability_zone': 'nova:%s' % injector.LIVE}})['server']
        self.server = self.cloud.wait_server(server['id'], 'ACTIVE')
        self.row['server'] = self.server['id']
        self.cloud.attach(self.server['id'], self.volume['id'])
        att = self.cloud.nova.get('/servers/%s/os-volume_attachments/%s' % (
            self.server['id'], self.volume['id']))['volumeAttachment']
        self.src_attachment = att.get('attachment_id')
        self.device = os.path.basename(att['device'])
        self.monitor = monitor_mod.WriterMonitor(
            self.env.console_log(self.server['id'])).start()
        try:
            self.monitor.wait_for(lambda log: log.t0_us is not None,
                                  BOOT_TIMEOUT, 'the guest writer start')
        except exception.BenchError as exc:
            console = os.path.join(os.path.dirname(self.env.console_log(
                self.server['id'])), 'console.log')
            with contextlib.suppress(OSError), open(console,
                                                    errors='replace') as f:
                tail = f.read()[-300:]
                raise exception.BenchError('%s; guest console: %s'
                                           % (exc, tail))
            raise

    # the migration

    def _migrate(self) -> None:
        volume_id = self.volume['id']
        other = POOLS[1 - POOLS.index(deploy.Cloud.volume_location(
            self.volume)[1])]
        dest = '%s@%s#%s' % (injector.dep.CINDER_HOST, self.case.backend,
                             other)
        self.say('%s -> %s' % (self.case.flow, other))
        if self.flow.complete_mode:
            self.env.set_complete_mode(self.flow.complete_mode)
        start_check = None
        if not self.flow.baseline:
            start_check = _StartCheck(self, volume_id)
            start_check.start()
        filler = None
        if self.case.full_dst_pool:
            filler = self.env.fill_pool(os.path.dirname(self.env.pool_path(
                self.case.backend, other, 'x')), FILLER_LEAVES)
        elif self.case.full_overlay_dir:
            filler = self.env.fill_pool(self.env.overlay_dir, 0)
        tracer = None
        if self.case.slow_src_delete:
            tracer = self.env.slow_unlink(injector.CINDER, self.src_path,
                                          self.case.slow_src_delete)
        began = time.monotonic()
        self.cloud.migrate_volume(volume_id, dest,
                                  force_host_copy=self.flow.baseline)
        try:
            if self.case.fault:
                self._inject(volume_id)
            self._settle(volume_id)
        finally:
            if tracer is not None:
                tracer.terminate()
                tracer.wait(30)
            for path in (filler, self.late_filler):
                if path is not None:
                    os.unlink(path)
            if start_check is not None:
                start_check.stop()
                self.row['src_at_start'] = start_check.result
                if (self.row.get('nova') == 'none'
                        and start_check.result.get('error')):
                    # Nothing to check: src was never left.
                    self.row['src_at_start'] = None
        self.row['seconds'] = round(time.monotonic() - began, 2)

    def _inject(self, volume_id: str) -> None:
        case = self.case
        fired, seen = self.env.wait_trigger(
            case.trigger, lambda: self.src_attachment, volume_id,
            SETTLE_TIMEOUT)
        self.row['steps_seen'] = seen
        self.row['fired_at'] = fired
        if fired is None:
            self.say('trigger %s never held (seen %s): no fault'
                     % (case.trigger.describe(), seen))
            return
        if case.fault == cases_mod.RESTART_LIBVIRTD:
            self.say('restarting libvirtd at %s' % fired)
            self.env.restart_libvirtd(case.down_s)
            return
        if case.fault == cases_mod.FILL_OVERLAY_DIR:
            self.say('filling the overlay directory at %s' % fired)
            self.late_filler = self.env.fill_pool(self.env.overlay_dir, 0)
            return
        if case.fault == cases_mod.RESTART_RABBITMQ:
            self.say('restarting RabbitMQ at %s' % fired)
            self.env.restart_rabbitmq(case.down_s)
            return
        self.say('SIGKILL %s at %s' % (case.service, fired))
        self.env.kill(case.service)
        if case.slow_src_delete:
            # Still there: the kill landed before the delete went through.
            self.row['src_name_at_kill'] = os.path.exists(self.src_path)
        time.sleep(case.down_s)
        self.say('restarting %s' % case.service)
        self.env.restart(case.service)

    def _settle(self, volume_id: str) -> None:
        """Until Cinder and Nova are both done; the outcome in the row."""
        cloud = self.cloud

        def settled():
            volume = cloud.volume(volume_id)
            if volume['migration_status'] not in ('success', 'error'):
                return None
            if self.flow.baseline:
                return volume
            nova = self._nova_migration()
            if nova is not None and nova['status'] not in NOVA_TERMINAL:
                return None
            if cloud.server(self.server['id'])[
                    'OS-EXT-STS:task_state'] is not None:
                return None
            return volume

        try:
            volume = deploy.wait_for(settled, SETTLE_TIMEOUT,
                                     'migration of %s settling' % volume_id,
                                     interval=0.5)
        except exception.DeploymentError as exc:
            self.row['outcome'] = 'stuck: %s' % exc
            return
        nova = None if self.flow.baseline else self._nova_migration()
        self.row['cinder'] = volume['migration_status']
        self.row['nova'] = nova['status'] if nova else (
            None if self.flow.baseline else 'none')
        self.row['outcome'] = '%s/%s' % (self.row['cinder'],
                                         self.row['nova'] or '-')
        with contextlib.suppress(exception.BenchError):
            self.row['cinder_error'] = cloud.volume_migration(
                volume_id).get('error')
        if nova and nova.get('error'):
            self.row['nova_error'] = nova['error']

    def _nova_migration(self) -> dict | None:
        """Nova's record of the migration, if Nova ever had one.

        None when Cinder failed or rolled back before it called start.
        """
        try:
            return self.cloud.nova_migration(self.src_attachment)
        except exception.APIError as exc:
            if exc.kwargs.get('status') == 404:
                return None
            raise

    # the case

    def run(self) -> dict:
        started = time.monotonic()
        try:
            self._prepare()
            time.sleep(2.0)         # the writer is well under way
            self._migrate()
            self.row['after_migration'] = checks.guest_disk(self)
            time.sleep(1.0)
            self.row['final'] = checks.stop_and_verify(self)
            self.row['leaks'] = checks.leaks(self)
        except (exception.BenchError, OSError) as exc:
            self.row['error'] = '%s: %s' % (type(exc).__name__, exc)
            self.say('failed: %s' % self.row['error'])
        finally:
            self._teardown()
            self.row['case_s'] = round(time.monotonic() - started, 1)
        self.row['passed'] = checks.passed(self.row)
        return self.row

    def _teardown(self) -> None:
        if self.monitor is not None:
            self.monitor.stop()
            self._keep_log()
        with contextlib.suppress(Exception):
            self.env.ensure_running()
        if self.server is not None:
            with contextlib.suppress(exception.BenchError):
                self.cloud.delete_server(self.server['id'])
        if self.volume is not None:
            with contextlib.suppress(exception.BenchError):
                self.cloud.wait_volume(self.volume['id'], ('available',), 60)
                self.cloud.delete_volume(self.volume['id'])
        for path in (self.base, self.src_link):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def _keep_log(self) -> None:
        import shutil
        with contextlib.suppress(OSError):
            shutil.copy(self.monitor.reader.path, os.path.join(
                self.work_dir, '..', '%s-writer.log' % self.tag))


class _StartCheck(threading.Thread):
    """Src frozen from start on: checked the moment start is seen.

    The log is read before each look at Nova's recorded step: a log read
    before a look that still showed no overlay holds only writes that
    went to src, so src must hold all of them (``verify_log``); later
    ones may show as ``newer``. Then sha256 of src, compared with the
    same hash once the migration settled.
    """

    def __init__(self, case_run: FaultCaseRun, volume_id: str):
        super().__init__(daemon=True, name='start-check')
        self.case_run = case_run
        self.volume_id = volume_id
        self.result: dict | None = None
        self._stop_event = threading.Event()
        self._sha_at_start: str | None = None

    def run(self) -> None:
        run, env = self.case_run, self.case_run.env
        before = None
        try:
            while not self._stop_event.is_set():
                log = checks.frozen_log(run.monitor)
                status, step = env.nova_step(run.src_attachment)
                if step is None or step == 'start:creating_overlay':
                    before = log
                elif before is not None:
                    self.result = checks.src_at_start(run, before)
                    self._sha_at_start = self.result['sha256']
                    return
                else:
                    self.result = {'error': 'start seen at %s before any '
                                            'log read' % step}
                    return
                time.sleep(injector.POLL)
        except Exception as exc:  # noqa: BLE001 - reported in the row
            self.result = {'error': 'start check: %s' % exc}

    def stop(self) -> None:
        self._stop_event.set()
        self.join(120)
        if self.result is None:
            self.result = {'error': 'start never seen'}
        elif self._sha_at_start:
            self.result['sha256_after'] = expected.sha256_file(
                self.case_run.src_link)
            self.result['unchanged'] = (self.result['sha256_after']
                                        == self._sha_at_start)
