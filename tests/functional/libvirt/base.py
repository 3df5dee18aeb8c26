"""Base of the libvirt driver's functional tests (real libvirt + QEMU).

They never skip because libvirt is missing: a host without libvirtd fails
them with the command that prepares it (``tools/setup-host.sh``).
"""

from __future__ import annotations

import glob
import os
import subprocess

import testtools.content

from nova_volmig.virt.libvirt import blockdev
from nova_volmig.virt.libvirt import config
from nova_volmig.virt.libvirt import driver as libvirt_driver
from nova_volmig.virt.libvirt import exception as lv_exc
from tests import base
from tests.functional.fixtures import libvirt as lv_fixtures
from tests.functional.fixtures import migration as mig_fixtures
from tests.functional.fixtures import nbd as nbd_fixtures

MiB = lv_fixtures.MiB
DEVICE = '/dev/vdb'


class TestVolume:
    """A raw volume reached as ``file``, ``block`` or ``nbd``."""

    def __init__(self, test, name: str, kind: str, size: int,
                 random_fill: bool, seed: int = 0,
                 link_bytes_per_sec: int | None = None):
        self.kind = kind
        self.name = name
        path = test.state_file('volumes', name + '.raw')
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.raw = lv_fixtures.RawVolume(
            path, size, fill=None if random_fill else b'\0', seed=seed)
        self.path = path
        self.export = None
        self.loop_device = None
        if kind == 'nbd':
            self.export = test.useFixture(nbd_fixtures.NBDExport(
                path, 'volume-%s' % name,
                bytes_per_sec=link_bytes_per_sec))
        elif kind == 'block':
            self.loop_device = test.attach_loop(path)

    @property
    def uri(self) -> str:
        if self.export:
            return self.export.uri
        return self.loop_device or self.path

    @property
    def connection_info(self) -> dict:
        if self.export:
            return self.export.connection_info
        return {'driver_volume_type': self.kind,
                'data': {'device_path': self.uri, 'format': 'raw'}}

    def sha256(self) -> str:
        return self.raw.sha256()

    def read(self) -> bytes:
        return self.raw.read()


#: where libvirtd keeps each domain's QEMU log
QEMU_LOG_DIR = '/var/log/libvirt/qemu'


class LibvirtFunctionalTestCase(base.TestCase):

    volume_kind = 'file'
    volume_size = 32 * MiB

    def setUp(self):
        super().setUp()
        self.flags(group='libvirt', virt_type='auto',
                   block_job_ready_timeout=120,
                   block_job_progress_window=2.0)
        self.driver = libvirt_driver.LibvirtDriver()
        try:
            self.driver.init_host('functional')
        except lv_exc.LibvirtConnectionError as e:
            self.fail('libvirtd is not reachable (%s); run '
                      'tools/setup-host.sh first' % e)
        self.addCleanup(self.driver.cleanup_host, 'functional')
        self.overlay_dir = self.driver_conf.volume_migration_overlay_dir

    @property
    def driver_conf(self):
        return self.conf.conf.libvirt

    def attach_loop(self, path: str) -> str:
        try:
            out = subprocess.run(['losetup', '--find', '--show', path],
                                 check=True, capture_output=True, text=True)
        except (OSError, subprocess.CalledProcessError) as e:
            self.skip_unless_ci('loop devices do not work here: %s'
                                % getattr(e, 'stderr', e))
        device = out.stdout.strip()
        self.addCleanup(subprocess.run, ['losetup', '-d', device],
                        capture_output=True)
        return device

    def make_volume(self, name: str, random_fill: bool = True,
                    seed: int = 0, kind: str | None = None,
                    size: int | None = None,
                    link_bytes_per_sec: int | None = None) -> TestVolume:
        return TestVolume(self, name, kind or self.volume_kind,
                          size or self.volume_size, random_fill, seed,
                          link_bytes_per_sec)

    def spawn(self, volumes: dict[str, TestVolume], running: bool = True):
        instance = lv_fixtures.new_instance()
        self.useFixture(lv_fixtures.InstanceCleanup(self.driver.host.uri,
                                                    instance))
        # QEMU's own log (an abort, a monitor gone) when the test fails.
        log = os.path.join(QEMU_LOG_DIR, '%s.log' % instance.name)
        self.addOnException(lambda exc_info: self.addDetail(
            'qemu-log', testtools.content.content_from_file(
                log, buffer_now=True)) if os.path.exists(log) else None)
        bdi = self.bdi(volumes)
        self.driver.spawn(None, instance, bdi)
        if not running:
            self.driver.power_off(None, instance)
        return instance

    @staticmethod
    def bdi(volumes: dict[str, TestVolume]) -> list[dict]:
        return [{'connection_info': v.connection_info, 'device_name': dev}
                for dev, v in volumes.items()]

    def handle(self, instance, src: TestVolume, **kwargs):
        return mig_fixtures.FakeMigrationHandle(
            instance.uuid, src.connection_info, device_name=DEVICE, **kwargs)

    def writer(self, instance, volume: TestVolume, seed: int = 1):
        return lv_fixtures.GuestWriter(self.driver.host, instance, DEVICE,
                                       volume.read(), seed=seed)

    # assertions

    def disk_source(self, instance, inactive: bool = False):
        guest = self.driver.host.get_guest(instance)
        return guest.get_disk(config.target_dev(DEVICE),
                              dump_inactive=inactive).source

    def assertDiskOn(self, instance, volume: TestVolume,
                     live: bool = True) -> None:
        kinds = [True] + ([False] if live else [])
        for inactive in kinds:
            source = self.disk_source(instance, inactive)
            self.assertEqual(volume.uri, source.uri,
                             'persistent' if inactive else 'live')
            self.assertIsNone(source.backing)

    def assertNoOverlays(self) -> None:
        self.assertEqual([], glob.glob(os.path.join(self.overlay_dir, '*')))

    def assertQemuReleased(self, instance, volume: TestVolume) -> None:
        """Invariant 4, on the QEMU process itself."""
        pid = lv_fixtures.qemu_pid(instance)
        if volume.export:
            self.assertNotIn(volume.export.port,
                             lv_fixtures.tcp_peer_ports(pid))
        else:
            self.assertNotIn(volume.uri, lv_fixtures.open_paths(pid))

    def overlay_backing_node(self, instance, target: str = 'vdb') -> str:
        """The node name of the backing of the disk's top node, in QEMU."""
        guest = self.driver.host.get_guest(instance)
        graph = blockdev.QemuMonitor(guest).block_graph()
        top = graph.device_node(guest.get_disk(target).alias)
        return graph.child(top.node_name, 'backing').node_name

    def assertQemuUses(self, instance, volume: TestVolume) -> None:
        pid = lv_fixtures.qemu_pid(instance)
        if volume.export:
            self.assertIn(volume.export.port,
                          lv_fixtures.tcp_peer_ports(pid))
        else:
            self.assertIn(volume.uri, lv_fixtures.open_paths(pid))
