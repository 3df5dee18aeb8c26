"""An XFS ``reflink=1`` pool on a loop device: in-array copy by FICLONE.

The bench's second array kind. A sparse image file under the state path is
attached to a loop device, formatted ``mkfs.xfs -m reflink=1`` and mounted
under the state path; a volume copy inside it is a FICLONE (O(metadata)).
The first array kind needs none of this: a directory on the state path's
own filesystem, where the copy is ``copy_file_range``.

Where loop devices cannot be had (no ``/dev/loop-control``, a container
without the capability, ``losetup`` refusing), :func:`loop_available`
says why and the bench runs the plain pool only, saying so in its output.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import time
from typing import Iterator

from oslo_concurrency import processutils

from volmig_bench import cleanup
from volmig_bench import exception
from volmig_bench import host

LOG = logging.getLogger(__name__)

FICLONE = 0x40049409
#: mkfs.xfs refuses file systems below 300 MiB
MIN_SIZE = 512 * 1024 ** 2
IMAGE_PREFIX = 'volmig-bench-xfs-'


def _run(*cmd: str, **kwargs) -> str:
    try:
        out, _ = processutils.execute(*cmd, **kwargs)
    except processutils.ProcessExecutionError as exc:
        raise exception.PoolError(path='-', reason='%s: %s' % (
            ' '.join(cmd), (exc.stderr or str(exc)).strip()))
    except OSError as exc:
        raise exception.CommandUnavailable(what=cmd[0], reason=exc)
    return out


def loop_available() -> tuple[bool, str]:
    """Whether a loop device can be attached here (and why not)."""
    if os.geteuid() != 0:
        return False, 'not root'
    if not os.path.exists('/dev/loop-control'):
        return False, 'no /dev/loop-control'
    try:
        _run('losetup', '--find')
    except (exception.BenchError, OSError) as exc:
        return False, str(exc)
    return True, ''


def reflink(src: str, dst: str) -> None:
    """``dst`` becomes a FICLONE of ``src`` (same file system only)."""
    with open(src, 'rb') as fin, open(dst, 'wb') as fout:
        fcntl.ioctl(fout.fileno(), FICLONE, fin.fileno())


def supports_reflink(directory: str) -> bool:
    """Whether FICLONE works between two files of ``directory``."""
    a = os.path.join(directory, '.reflink-probe-a')
    b = os.path.join(directory, '.reflink-probe-b')
    try:
        with open(a, 'wb') as f:
            f.write(b'\0' * 4096)
        reflink(a, b)
        return True
    except OSError:
        return False
    finally:
        for path in (a, b):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


@dataclasses.dataclass
class XfsPool:
    """A mounted XFS pool: ``path`` is the directory volumes live in."""

    image: str
    device: str
    mountpoint: str

    @property
    def path(self) -> str:
        return self.mountpoint

    def describe(self) -> dict:
        return {'kind': 'xfs-reflink', 'path': self.mountpoint,
                'loop_device': self.device, 'image': self.image,
                'copy': 'FICLONE'}

    def destroy(self) -> None:
        """Unmount, detach the loop device, remove the image."""
        if os.path.ismount(self.mountpoint):
            for attempt in range(50):
                try:
                    _run('umount', self.mountpoint)
                    break
                except exception.PoolError:
                    if attempt == 49:
                        raise
                    time.sleep(0.1)  # a copy still finishing
        if self.device and _loop_devices().get(self.device) == self.image:
            _run('losetup', '--detach', self.device)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.image)
        with contextlib.suppress(OSError):
            os.rmdir(self.mountpoint)


def _loop_devices() -> dict[str, str]:
    """Each attached loop device and the file behind it."""
    out = _run('losetup', '--list', '--json', '--output', 'NAME,BACK-FILE',
               check_exit_code=False)
    devices = json.loads(out or '{"loopdevices": []}')['loopdevices']
    return {d['name']: (d.get('back-file') or '').removesuffix(' (deleted)')
            for d in devices}


def cleanup_stale(directory: str) -> list[str]:
    """Tear down pools under ``directory`` left by runs that died."""
    removed = []
    for device, image in _loop_devices().items():
        base = os.path.basename(image)
        if (os.path.dirname(image) != os.path.abspath(directory)
                or not base.startswith(IMAGE_PREFIX)):
            continue
        pid = base[len(IMAGE_PREFIX):].split('-')[0]
        if pid.isdigit() and cleanup.pid_alive(int(pid)):
            continue
        XfsPool(image, device, image[:-len('.img')]).destroy()
        removed.append(image)
    return removed


@contextlib.contextmanager
def xfs_pool(directory: str, size: int) -> Iterator[XfsPool]:
    """Make an XFS reflink pool of ``size`` bytes under ``directory``.

    Always torn down on leaving the block (exceptions, Ctrl-C, SIGTERM).
    Raises :class:`LoopDeviceUnavailable` where loop devices cannot be had.
    """
    ok, why = loop_available()
    if not ok:
        raise exception.LoopDeviceUnavailable(reason=why)
    host.require('mkfs.xfs', 'losetup')
    os.makedirs(directory, exist_ok=True)
    name = '%s%d-%d' % (IMAGE_PREFIX, os.getpid(), time.monotonic_ns())
    pool = XfsPool(image=os.path.join(os.path.abspath(directory),
                                      name + '.img'),
                   device='',
                   mountpoint=os.path.join(os.path.abspath(directory),
                                           name))
    with cleanup.signals_raise():
        try:
            with cleanup.deferred_signals():
                with open(pool.image, 'wb') as f:
                    f.truncate(max(size, MIN_SIZE))
                pool.device = _run('losetup', '--find', '--show',
                                   pool.image).strip()
                _run('mkfs.xfs', '-q', '-m', 'reflink=1', pool.device)
                os.makedirs(pool.mountpoint)
                _run('mount', '-t', 'xfs', pool.device, pool.mountpoint)
            if not supports_reflink(pool.mountpoint):
                raise exception.PoolError(path=pool.mountpoint,
                                          reason='FICLONE refused')
            LOG.info('XFS reflink pool at %s on %s', pool.mountpoint,
                     pool.device)
            yield pool
        finally:
            with cleanup.deferred_signals():
                pool.destroy()
