"""Host prerequisites (commands and their Debian packages) and host facts."""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import shutil

from oslo_concurrency import processutils

from volmig_bench import exception

LOG = logging.getLogger(__name__)

#: command -> Debian package (the Makefile's ``make bench`` list)
PACKAGES = {
    'apt-cache': 'apt',
    'apt-get': 'apt',
    'cpio': 'cpio',
    'dpkg-deb': 'dpkg',
    'gcc': 'gcc',
    'ip': 'iproute2',
    'tc': 'iproute2',
    'losetup': 'mount',
    'mkfs.xfs': 'xfsprogs',
    'qemu-storage-daemon': 'qemu-system-x86',
    'qemu-img': 'qemu-utils',
}


def install(packages: list[str], why: str) -> None:
    """apt-get install ``packages`` (root only); ``why`` names the need."""
    if os.geteuid() != 0:
        raise exception.CommandUnavailable(
            what=why, reason='install the Debian packages %s'
            % ' '.join(packages))
    LOG.info('Installing %s for %s', packages, why)
    try:
        processutils.execute(
            'apt-get', 'install', '-y', '-o', 'DPkg::Lock::Timeout=900',
            '--no-install-recommends', *packages,
            env_variables={'DEBIAN_FRONTEND': 'noninteractive'})
    except (processutils.ProcessExecutionError, OSError) as exc:
        raise exception.CommandUnavailable(what=why, reason=exc)


def require(*commands: str, install_missing: bool = True) -> None:
    """Make sure ``commands`` exist; apt-get install them when allowed."""
    missing = [c for c in commands if not shutil.which(c)]
    if not missing:
        return
    packages = sorted({PACKAGES.get(c, c) for c in missing})
    if not install_missing:
        raise exception.CommandUnavailable(
            what=', '.join(missing),
            reason='install the Debian packages %s' % ' '.join(packages))
    install(packages, ', '.join(missing))
    still = [c for c in missing if not shutil.which(c)]
    if still:
        raise exception.CommandUnavailable(
            what=', '.join(still), reason='still missing after apt-get')


def require_static_libc() -> None:
    """``gcc -static`` needs libc.a, which gcc only recommends."""
    require('gcc')

    def found() -> bool:
        out, _ = processutils.execute('gcc', '-print-file-name=libc.a')
        return os.path.isabs(out.strip())

    if not found():
        install(['libc6-dev'], 'libc.a for gcc -static')
        if not found():
            raise exception.CommandUnavailable(
                what='libc.a', reason='libc6-dev did not provide it')


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
