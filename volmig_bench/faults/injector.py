"""The distributed deployment a fault run stands on, and its faults.

:class:`FaultDeployment` runs :class:`volmig_distributed.deployment.
Deployment` (nova-volmig-api, compute-live, compute-offline and
cinder-volmig as separate processes over the host's RabbitMQ and
PostgreSQL), so that one service can be SIGKILLed while the others and
QEMU run on. The faults:

* :meth:`FaultDeployment.kill_at` - SIGKILL a service once a trigger
  holds: a step the compute manager recorded in the migration's
  ``driver_data`` (read from Nova's database, as the service's own
  start-up reconciliation reads it), or Cinder's ``migration_status``;
* :meth:`FaultDeployment.restart` - start it again (it reconciles).

The complete mode is set per case by rewriting the deployment's Nova
override file and restarting nova-volmig-compute.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import signal
import subprocess
import time

import psycopg2

from volmig_bench import deploy
from volmig_bench import exception
from volmig_distributed import deployment as dep
from volmig_distributed import services

SMALL_BACKEND = 'array3'
#: an array exporting its volumes over NBD: complete by rebase switches
#: network volumes only (file volumes fall back to two_step)
NBD_BACKEND = 'array4'
LIVE = dep.LIVE_HOST
CINDER = dep.CINDER
NOVA_API = dep.NOVA_API
#: how often a trigger is polled: a step boundary is as narrow as a save
POLL = 0.003
#: how often a trigger's wait asks whether the migration ended meanwhile
ENDED_CHECK = 0.5
#: the host's libvirtd (tools/setup-host.sh starts it daemonised)
LIBVIRTD_PID_FILE = '/run/libvirtd.pid'
SETTINGS = dict(start_timeout=30, complete_timeout=60, rpc_call_timeout=20,
                service_down_time=10, report_interval=1)


@dataclasses.dataclass(frozen=True)
class Trigger:
    """When a fault fires.

    :ivar source: ``nova-step`` (the compute manager's recorded
        ``driver_data`` step) or ``cinder-status`` (the volume's
        ``migration_status``)
    :ivar values: what fires it (the first of them, or any step recorded
        after it, since a narrow step may be overwritten between polls)
    :ivar delay: seconds to wait after it held, before the fault
    """

    source: str
    values: tuple[str, ...]
    delay: float = 0.0

    def describe(self) -> str:
        return '%s %s%s' % (self.source, '|'.join(self.values),
                            ' +%gs' % self.delay if self.delay else '')


class FaultDeployment:
    """One distributed deployment for the whole run."""

    def __init__(self, state_path: str, name: str,
                 small_pool: str | None = None,
                 overlay_pool: str | None = None):
        settings = dep.Settings(name=name, nova_port=0, cinder_port=0,
                                **SETTINGS)
        self.deployment = dep.Deployment(state_path, settings)
        backends = ['array1', 'array2', NBD_BACKEND]
        overrides = {NBD_BACKEND: {
            'volume_backend_name': NBD_BACKEND,
            'pools': self._pools(NBD_BACKEND),
            'export_protocol': 'nbd'}}
        if small_pool:
            # A third array, its pool2 a small file system of its own.
            backends.append(SMALL_BACKEND)
            overrides[SMALL_BACKEND] = {
                'volume_backend_name': SMALL_BACKEND,
                'pools': 'pool1:%s,pool2:%s' % (self.path(
                    'cinder', 'arrays', SMALL_BACKEND, 'pool1'),
                    small_pool),
                'export_protocol': settings.volume_protocol}
        settings.cinder_overrides = {
            'DEFAULT': {'enabled_backends': ','.join(backends)},
            **overrides}
        if overlay_pool:
            # The compute host's overlays on a small file system too.
            settings.nova_overrides = {'libvirt': {
                'volume_migration_overlay_dir': overlay_pool}}
        self.small_pool = small_pool
        self.overlay_pool = overlay_pool
        self.cloud: deploy.Cloud | None = None
        self.complete_mode: str | None = None
        self._connections: dict = {}

    def _pools(self, backend: str) -> str:
        return ','.join('%s:%s' % (pool, self.path('cinder', 'arrays',
                                                   backend, pool))
                        for pool in ('pool1', 'pool2'))

    @property
    def state_path(self) -> str:
        return self.deployment.state_path

    def path(self, *parts: str) -> str:
        return os.path.join(self.state_path, *parts)

    @property
    def images_path(self) -> str:
        return self.path(LIVE, 'images')

    @property
    def overlay_dir(self) -> str:
        return self.overlay_pool or self.path(LIVE,
                                              'volume-migration-overlays')

    def console_log(self, server_id: str) -> str:
        return self.path(LIVE, 'instances', server_id, 'virtio-console.log')

    def pool_path(self, backend: str, pool: str, name: str) -> str:
        if backend == SMALL_BACKEND and pool == 'pool2':
            return os.path.join(self.small_pool, name)
        return self.path('cinder', 'arrays', backend, pool, name)

    def fill_pool(self, directory: str, leave: int) -> str:
        """Fill ``directory``'s file system up to ``leave`` bytes free.

        The filler file's path (remove it to undo).
        """
        filler = os.path.join(directory, '.faults-filler')
        stat = os.statvfs(directory)
        room = stat.f_bavail * stat.f_frsize - leave
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            # The file system's own metadata may need a little of what
            # statvfs called free: back off a MiB at a time.
            while room > 0:
                try:
                    os.posix_fallocate(fd, 0, room)
                    break
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    room -= 1 << 20
        finally:
            os.close(fd)
        return filler

    def volume_file(self, volume: dict) -> str:
        return self.pool_path(*deploy.Cloud.volume_location(volume))

    # life cycle

    def start(self) -> deploy.Cloud:
        try:
            self.deployment.start()
        except dep.DeploymentError as exc:
            raise exception.DeploymentError(reason=str(exc))
        info = self.deployment.info
        self.cloud = deploy.Cloud(info['compute_api'], info['volume_api'])
        return self.cloud

    def stop(self) -> dict:
        for conn in self._connections.values():
            conn.close()        # DROP DATABASE waits for them
        self._connections.clear()
        if self.cloud is not None:
            self.cloud.close()
        try:
            return self.deployment.stop()
        finally:
            self.deployment.drop_data()

    def ensure_running(self) -> list[str]:
        """Start any service a case left stopped; their names."""
        down = [n for n in self.deployment.services
                if not self.deployment.is_running(n)]
        for name in down:
            self.deployment.start_service(name)
        return down

    def set_complete_mode(self, mode: str) -> None:
        """``[libvirt] volume_migration_complete_mode`` of compute-live."""
        if mode == self.complete_mode:
            return
        overrides = self.deployment.settings.nova_overrides
        overrides.setdefault('libvirt', {})[
            'volume_migration_complete_mode'] = mode
        self.deployment._write_overrides('nova-overrides.conf', overrides)
        if self.deployment.is_running(LIVE):
            self.deployment.stop_service(LIVE)
        self.deployment.start_service(LIVE)
        self.complete_mode = mode

    # what the triggers read

    def nova_step(self, src_attachment_id: str) -> tuple[str | None,
                                                         str | None]:
        """(status, driver_data step) of the attachment's last migration.

        Read from Nova's database: the step is not in the API.
        """
        row = self._query('nova', 'SELECT status, driver_data FROM '
                          'volume_migrations WHERE src_attachment_id = %s '
                          'ORDER BY id DESC LIMIT 1', (src_attachment_id,))
        if row is None:
            return None, None
        data = json.loads(row[1]) if row[1] else {}
        return row[0], data.get('step')

    def cinder_switched(self, volume_id: str) -> bool:
        """Cinder switched the volume to dst and has not said success.

        Its migration record names src's data (``source_backend_name``)
        just before it deletes it (``MigrationFlow._switch``).
        """
        (count,) = self._query(
            'cinder', "SELECT count(*) FROM volume_migrations WHERE "
            "volume_id = %s AND source_backend_name IS NOT NULL AND status "
            "NOT IN ('success', 'error', 'cancelled')", (volume_id,))
        return count > 0

    def _query(self, database: str, sql: str, args: tuple):
        """One row of ``sql`` on a service's database.

        On a connection kept open (autocommit): a new one per poll took
        longer than the narrowest steps last.
        """
        conn = self._connections.get(database)
        if conn is None or conn.closed:
            url = self.deployment.database_url(database).replace(
                'postgresql+psycopg2', 'postgresql')
            conn = self._connections[database] = psycopg2.connect(url)
            conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(sql, args)
                return cur.fetchone()
        except psycopg2.OperationalError:
            conn.close()
            raise

    def slow_unlink(self, name: str, path: str,
                    seconds: float) -> subprocess.Popen:
        """Delay every unlink of ``path`` by service ``name`` (strace).

        ``strace -P PATH -e inject=...:delay_enter``: the service's own
        delete of that file waits ``seconds`` before it runs, so that a
        fault can land inside it. The tracer ends with the service (or
        when terminated).
        """
        pid = self.deployment.pid(name)
        proc = subprocess.Popen(
            ['strace', '-q', '-f', '-p', str(pid), '-P', path, '-o',
             os.devnull, '-e', 'trace=unlink,unlinkat', '-e',
             'inject=unlink,unlinkat:delay_enter=%d' % (seconds * 1e6)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        time.sleep(1.0)     # attached to every thread
        return proc

    def _fired(self, trigger: Trigger, src_attachment_id: str | None,
               volume_id: str, seen: list[str]) -> str | None:
        if trigger.source == 'nova-step':
            if src_attachment_id is None:
                return None
            _, step = self.nova_step(src_attachment_id)
            value = step
        elif trigger.source == 'cinder-status':
            value = self.cloud.volume(volume_id)['migration_status']
        elif trigger.source == 'cinder-switched':
            value = 'switched' if self.cinder_switched(volume_id) else None
        else:
            raise exception.InvalidParameter(name='trigger', value=trigger,
                                             reason='unknown source')
        if value is not None and (not seen or seen[-1] != value):
            seen.append(value)
        return value if value in trigger.values else None

    def wait_trigger(self, trigger: Trigger, attachment_of, volume_id: str,
                     timeout: float) -> tuple[str | None, list[str]]:
        """Until ``trigger`` holds: (the value that fired it, all seen).

        (None, seen) when the migration ended first; ``attachment_of()``
        gives the src attachment id once known.
        """
        seen: list[str] = []
        deadline = time.monotonic() + timeout
        ended_check = 0.0
        while time.monotonic() < deadline:
            value = self._fired(trigger, attachment_of(), volume_id, seen)
            if value is not None:
                if trigger.delay:
                    time.sleep(trigger.delay)
                return value, seen
            # An API call: not at every poll, which must stay short.
            if time.monotonic() >= ended_check:
                ended_check = time.monotonic() + ENDED_CHECK
                if self.cloud.volume(volume_id)['migration_status'] in (
                        'success', 'error'):
                    return None, seen
            time.sleep(POLL)
        return None, seen

    # the faults

    def kill(self, name: str) -> None:
        """SIGKILL ``name`` (no clean-up of any kind)."""
        self.deployment.send_signal(name, signal.SIGKILL)
        self.deployment.wait_exit(name, 10)

    def restart(self, name: str) -> None:
        self.deployment.start_service(name)

    @staticmethod
    def restart_rabbitmq(down_s: float = 2.0) -> None:
        """Stop the host's RabbitMQ application, start it again.

        ``rabbitmqctl stop_app``: every connection of every service drops
        and the broker refuses new ones for ``down_s``, as in a broker
        restart; the Erlang node (not ours to stop) stays up. Shared by
        everything on the host: never run this beside other users of it.
        """
        broker = services.RabbitMQ()
        broker.ctl('stop_app')
        time.sleep(down_s)
        broker.ctl('start_app')
        broker.ctl('await_startup')

    @staticmethod
    def restart_libvirtd(down_s: float = 1.0) -> None:
        """SIGTERM the host's libvirtd by its pid file, start it again.

        QEMU and its block jobs run on; nova-volmig-compute must cope with
        the broken connection. Shared by everything on the host: never run
        this beside other users of libvirt.
        """
        with open(LIBVIRTD_PID_FILE) as f:
            pid = int(f.read().strip())
        os.kill(pid, signal.SIGTERM)
        deploy.wait_for(lambda: not os.path.exists('/proc/%d' % pid), 30,
                        'libvirtd %d to exit' % pid)
        time.sleep(down_s)
        subprocess.run(['libvirtd', '-d'], check=True)
        deploy.wait_for(
            lambda: subprocess.run(['virsh', '-c', 'qemu:///system',
                                    'version'], capture_output=True
                                   ).returncode == 0,
            30, 'libvirtd to answer')
