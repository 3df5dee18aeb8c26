"""Image work through ``qemu-img``: overlays, info, unsafe rebase, commit.

Every call is an argv list run by ``oslo_concurrency.processutils``; the
backing format is always given (``-F``) so that QEMU never probes it, and
``qemu-img info`` runs under ``prlimit`` as Nova does, because a crafted
image can make it use unbounded memory or CPU.
"""

from __future__ import annotations

import dataclasses
import errno
import os

from oslo_concurrency import processutils
from oslo_config import cfg
from oslo_log import log as logging
from oslo_serialization import jsonutils
from oslo_utils import fileutils

from nova_volmig.virt.libvirt import exception as lv_exc

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

QEMU_IMG_INFO_CPU_SECONDS = 30
_NO_SPACE = 'No space left on device'


@dataclasses.dataclass(frozen=True)
class ImageInfo:
    """What ``qemu-img info --output=json`` says of one image."""

    path: str
    format: str
    virtual_size: int
    actual_size: int | None = None
    backing_file: str | None = None
    backing_format: str | None = None
    #: the unit the image allocates in: a qcow2 cluster, or a subcluster
    #: (1/32) with ``extended_l2``; None when the format has none
    allocation_unit: int | None = None


def _run(command: str, path: str, *args: str, **kwargs) -> str:
    try:
        out, _err = processutils.execute('qemu-img', command, *args,
                                         **kwargs)
    except processutils.ProcessExecutionError as e:
        reason = (e.stderr or e.stdout or str(e)).strip()
        if _NO_SPACE in reason:
            raise lv_exc.OverlayNoSpace(path=path, reason=reason)
        if kwargs.get('prlimit') and e.exit_code in (-9, 137, -24, 152):
            raise lv_exc.ImageTooLarge(command=command, path=path,
                                       reason='resource limit reached')
        raise lv_exc.QemuImgError(command=command, path=path, reason=reason)
    except OSError as e:
        raise lv_exc.QemuImgError(command=command, path=path, reason=str(e))
    return out


def create_overlay(path: str, backing: str, backing_format: str = 'raw',
                   options: str | None = None) -> None:
    """Create a qcow2 ``path`` over ``backing`` (a path or nbd:// URI).

    Fails when ``path`` exists, so that a leftover from an earlier run is
    never silently reused as an empty overlay.
    """
    if os.path.lexists(path):
        raise lv_exc.QemuImgError(command='create', path=path,
                                  reason='the file already exists')
    args = ['-f', 'qcow2', '-b', backing, '-F', backing_format]
    if options:
        args += ['-o', options]
    with fileutils.remove_path_on_error(path, remove=_remove_quietly):
        _run('create', path, '-q', *args, path)


def info(path: str, force_share: bool = True) -> ImageInfo:
    """``qemu-img info`` of ``path`` under an address-space and CPU limit.

    :param force_share: ``-U``, to read an image QEMU holds open.
    """
    limits = processutils.ProcessLimits(
        address_space=CONF.libvirt.qemu_img_info_memory_mb * 1024 * 1024,
        cpu_time=QEMU_IMG_INFO_CPU_SECONDS)
    args = ['--output=json']
    if force_share:
        args.append('-U')
    out = _run('info', path, *args, path, prlimit=limits)
    data = jsonutils.loads(out)
    unit = data.get('cluster-size')
    if unit and ((data.get('format-specific') or {}).get('data') or {}).get(
            'extended-l2'):
        unit //= 32
    return ImageInfo(path=path, format=data['format'],
                     virtual_size=data['virtual-size'],
                     actual_size=data.get('actual-size'),
                     backing_file=data.get('full-backing-filename')
                     or data.get('backing-filename'),
                     backing_format=data.get('backing-filename-format'),
                     allocation_unit=unit)


def rebase_unsafe(path: str, backing: str,
                  backing_format: str = 'raw') -> None:
    """Point qcow2 ``path`` at ``backing`` without copying any data.

    Only correct when the new backing holds the same bytes as the old one
    (Cinder guarantees dst is a copy of src as of start).
    """
    _run('rebase', path, '-q', '-u', '-f', 'qcow2', '-b', backing,
         '-F', backing_format, path)


def commit(path: str) -> None:
    """Write the data of qcow2 ``path`` into its backing file.

    ``-d`` leaves the overlay as it is (it is removed afterwards), so that
    a commit interrupted by a crash can simply be run again.
    """
    _run('commit', path, '-q', '-f', 'qcow2', '-d', path)


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as e:
        LOG.warning('Could not remove %s: %s', path, e)


def remove(path: str) -> bool:
    """Remove an overlay file; True when it existed."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True


def ensure_usable_dir(path: str) -> None:
    """Raise ``OverlayDirUnavailable`` unless ``path`` is a writable dir."""
    if not os.path.isdir(path):
        raise lv_exc.OverlayDirUnavailable(
            path=path, reason=os.strerror(errno.ENOENT))
    if not os.access(path, os.W_OK | os.X_OK):
        raise lv_exc.OverlayDirUnavailable(
            path=path, reason=os.strerror(errno.EACCES))
