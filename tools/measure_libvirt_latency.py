#!/usr/bin/env python3
"""Print volume-migration start and complete latency at 1 and 8 GiB.

Runs the libvirt driver on real QEMU with sparse ``file`` volumes: start,
16 MiB of guest writes (HMP qemu-io), complete, finish, for both complete
modes. Nothing is asserted: the point is to see that complete does not
grow with the volume size (it moves only the guest's new data).

    .venv/bin/python tools/measure_libvirt_latency.py [--sizes 1,8]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

from oslo_service import backend  # noqa: E402

backend.init_backend(backend.BackendType.THREADING)

import libvirt_qemu  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from nova_volmig import conf as nova_conf  # noqa: E402
from nova_volmig.virt.libvirt import config  # noqa: E402
from nova_volmig.virt.libvirt import driver as libvirt_driver  # noqa: E402
from tests.functional.fixtures import libvirt as lv_fixtures  # noqa: E402
from tests.functional.fixtures import migration as mig_fixtures  # noqa

GiB = 1024 ** 3
DEVICE = '/dev/vdb'
NEW_DATA = 16 * lv_fixtures.MiB


def sparse(path: str, size: int) -> dict:
    with open(path, 'wb') as f:
        f.truncate(size)
    return {'driver_volume_type': 'file',
            'data': {'device_path': path, 'format': 'raw'}}


def measure(driver, workdir: str, size: int, mode: str) -> dict:
    conf = nova_conf.CONF
    conf.set_override('volume_migration_complete_mode', mode, 'libvirt')
    # Both sparse and empty: dst already is a copy of src as of start.
    src = sparse(os.path.join(workdir, 'src.raw'), size)
    dst = sparse(os.path.join(workdir, 'dst.raw'), size)
    instance = lv_fixtures.new_instance('volmig-measure')
    cleanup = lv_fixtures.InstanceCleanup(driver.host.uri, instance)
    cleanup.setUp()
    try:
        driver.spawn(None, instance, [{'connection_info': src,
                                       'device_name': DEVICE}])
        migration = mig_fixtures.FakeMigrationHandle(
            instance.uuid, src, device_name=DEVICE)
        t0 = time.monotonic()
        driver.volume_migration_start(None, instance, migration)
        start = time.monotonic() - t0
        for i in range(NEW_DATA // lv_fixtures.MiB):
            guest_write(driver.host, instance, i * 4 * lv_fixtures.MiB)
        migration.dst_connection_info = dst
        t0 = time.monotonic()
        driver.volume_migration_complete(None, instance, migration)
        complete = time.monotonic() - t0
        t0 = time.monotonic()
        driver.volume_migration_complete_finish(None, instance, migration)
        finish = time.monotonic() - t0
    finally:
        cleanup.cleanUp()
        for name in ('src.raw', 'dst.raw'):
            os.unlink(os.path.join(workdir, name))
    return {'start': start, 'complete': complete, 'finish': finish}


def guest_write(host, instance, offset: int) -> None:
    """1 MiB through the guest's disk (HMP qemu-io), as in the tests."""
    cmd = 'qemu-io -d %s "write -P 0x5a %d %d"' % (
        config.qdev_backend_path(DEVICE), offset, lv_fixtures.MiB)
    with host.block_graph_lock(instance.uuid):
        dom = host.lookup_domain(instance.uuid)
        libvirt_qemu.qemuMonitorCommand(
            dom, cmd, libvirt_qemu.VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', default='1,8',
                        help='volume sizes in GiB, comma separated')
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix='volmig-measure-')
    conf = nova_conf.CONF
    conf([], project='nova-volmig', default_config_files=[])
    conf.set_override('state_path', workdir)
    driver = libvirt_driver.LibvirtDriver()
    driver.init_host('measure')
    table = Table(title='libvirt volume migration latency (sparse file '
                        'volumes, %d MiB of new guest data)'
                        % (NEW_DATA // lv_fixtures.MiB))
    for column in ('size', 'mode', 'start (s)', 'complete (s)',
                   'finish (s)'):
        table.add_column(column, justify='right')
    try:
        for size in (int(s) for s in args.sizes.split(',')):
            for mode in ('two_step', 'write_blocking'):
                r = measure(driver, workdir, size * GiB, mode)
                table.add_row('%d GiB' % size, mode, '%.3f' % r['start'],
                              '%.3f' % r['complete'], '%.3f' % r['finish'])
    finally:
        driver.cleanup_host('measure')
        shutil.rmtree(workdir, ignore_errors=True)
    Console().print(table)
    return 0


if __name__ == '__main__':
    sys.exit(main())
