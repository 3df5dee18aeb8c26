"""Host prerequisites: commands and the Debian packages that provide them."""

from __future__ import annotations

import logging
import os
import shutil

from oslo_concurrency import processutils

from volmig_bench import exception

LOG = logging.getLogger(__name__)

#: command -> Debian package (the Makefile's ``make bench`` list)
PACKAGES = {
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


def require(*commands: str, install: bool = True) -> None:
    """Make sure ``commands`` exist; apt-get install them when allowed."""
    missing = [c for c in commands if not shutil.which(c)]
    if not missing:
        return
    packages = sorted({PACKAGES.get(c, c) for c in missing})
    if not install or os.geteuid() != 0:
        raise exception.CommandUnavailable(
            what=', '.join(missing),
            reason='install the Debian packages %s' % ' '.join(packages))
    LOG.info('Installing %s for %s', packages, missing)
    try:
        processutils.execute(
            'apt-get', 'install', '-y', '-o', 'DPkg::Lock::Timeout=900',
            '--no-install-recommends', *packages,
            env_variables={'DEBIAN_FRONTEND': 'noninteractive'})
    except (processutils.ProcessExecutionError, OSError) as exc:
        raise exception.CommandUnavailable(what=', '.join(missing),
                                           reason=exc)
    still = [c for c in missing if not shutil.which(c)]
    if still:
        raise exception.CommandUnavailable(
            what=', '.join(still), reason='still missing after apt-get')
