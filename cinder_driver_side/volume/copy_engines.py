"""Copy engines of volume migration: one small interface, two engines.

* ``native``: the in-array copy. FICLONE(RANGE) reflinks when the
  filesystem shares extents (XFS ``reflink=1``, btrfs); otherwise
  ``copy_file_range`` over the data extents found with SEEK_DATA /
  SEEK_HOLE, so holes stay holes in dst and never cross the kernel.
* ``generic``: the host-assisted copy (upstream's dd path): chunked
  read and write through this process; all-zero chunks are skipped so dst
  stays sparse, but every byte of src is read.

Both report bytes done (the offset reached; holes count as done) through
``progress_cb``, which may raise to abort, and both honour a rate limit.
"""

from __future__ import annotations

import abc
import dataclasses
import errno
import fcntl
import hashlib
import os
import struct
import threading
import time
from typing import Callable

from oslo_log import log as logging

from cinder_driver_side import exception

LOG = logging.getLogger(__name__)

ProgressCallback = Callable[[int], None]

MiB = 1024 * 1024
DEFAULT_CHUNK = 4 * MiB
MIN_CHUNK = 64 * 1024

# linux/fs.h
FICLONE = 0x40049409
FICLONERANGE = 0x4020940d
_FILE_CLONE_RANGE = 'qQQQ'  # src_fd, src_offset, src_length, dest_offset

# Errors meaning "this kernel/filesystem cannot do it": try the next way.
_UNSUPPORTED = frozenset({errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV,
                          errno.EINVAL, errno.ENOSYS, errno.EBADF,
                          errno.ENOTSUP})


@dataclasses.dataclass
class CopyResult:
    """What a copy did: ``method`` used and bytes actually moved."""

    method: str
    size: int
    bytes_transferred: int
    seconds: float


class SharedRate:
    """A rate shared by every copy that holds it (an array's copy engine).

    Each copy books its bytes one after the other on one schedule, so
    that the copies running at once move ``bandwidth`` bytes/s between
    them, whatever their number. Time nobody booked is not banked.
    """

    def __init__(self, bandwidth: int,
                 clock: Callable[[], float] = time.monotonic):
        if bandwidth <= 0:
            raise ValueError('a shared rate needs a bandwidth above 0')
        self.bandwidth = bandwidth
        self._clock = clock
        self._lock = threading.Lock()
        self._free_at = 0.0

    def book(self, nbytes: int) -> float:
        """Book ``nbytes``; return the clock time they are due by."""
        with self._lock:
            start = max(self._clock(), self._free_at)
            self._free_at = start + nbytes / self.bandwidth
            return self._free_at


class RateLimiter:
    """Sleeps so that bytes counted never run ahead of ``bandwidth``/s.

    With ``shared``, also never ahead of what the shared rate gave them.
    """

    def __init__(self, bandwidth: int,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep,
                 shared: SharedRate | None = None):
        self.bandwidth = bandwidth
        self.shared = shared
        self._clock = clock
        self._sleep = sleep
        self._start = clock()
        self._count = 0

    @property
    def limit(self) -> int:
        """The lower of the limits that apply, 0 when none does."""
        limits = [b for b in (self.bandwidth,
                              self.shared and self.shared.bandwidth) if b]
        return min(limits) if limits else 0

    def throttle(self, nbytes: int) -> None:
        if nbytes <= 0 or not self.limit:
            return
        due = self.shared.book(nbytes) if self.shared else 0.0
        if self.bandwidth > 0:
            self._count += nbytes
            due = max(due, self._start + self._count / self.bandwidth)
        delay = due - self._clock()
        if delay > 0:
            self._sleep(delay)


def chunk_size(bandwidth: int) -> int:
    """Chunks small enough that a rate limit gives smooth progress."""
    if bandwidth <= 0:
        return DEFAULT_CHUNK
    size = max(MIN_CHUNK, min(DEFAULT_CHUNK, bandwidth // 8))
    return size - size % MIN_CHUNK


def data_extents(fd: int, size: int):
    """Yield ``(start, end)`` of the data extents of ``fd`` below size."""
    pos = 0
    while pos < size:
        try:
            start = os.lseek(fd, pos, os.SEEK_DATA)
        except OSError as e:
            if e.errno == errno.ENXIO:  # only a hole is left
                return
            raise
        if start >= size:
            return
        end = min(os.lseek(fd, start, os.SEEK_HOLE), size)
        yield start, end
        pos = end


def file_digest(path: str, size: int | None = None) -> str:
    """SHA-256 of the first ``size`` bytes (all when None) of ``path``."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        remaining = size if size is not None else -1
        while remaining != 0:
            want = DEFAULT_CHUNK if remaining < 0 else min(DEFAULT_CHUNK,
                                                           remaining)
            block = f.read(want)
            if not block:
                break
            digest.update(block)
            if remaining > 0:
                remaining -= len(block)
    return digest.hexdigest()


class CopyEngine(abc.ABC):
    """Copies ``size`` bytes of ``src_path`` onto ``dst_path``."""

    name: str = ''

    def copy(self, src_path: str, dst_path: str, size: int,
             progress_cb: ProgressCallback | None = None,
             bandwidth: int = 0,
             wakeup: threading.Event | None = None,
             shared: SharedRate | None = None) -> CopyResult:
        """Copy and fsync dst; ``progress_cb(bytes_done)`` after each step.

        dst is created if missing and sized to ``size``; its data beyond
        what src holds reads as zeros. Raises CopyFailed (or what
        ``progress_cb`` raised, e.g. CopyAborted). Setting ``wakeup`` ends
        a rate limiter's sleep early, so that ``progress_cb`` runs (and
        can abort) at once. ``shared``: a rate this copy shares with
        others (the array's, :class:`SharedRate`), besides ``bandwidth``.
        """
        report = progress_cb or (lambda done: None)
        limiter = RateLimiter(bandwidth, sleep=wakeup.wait if wakeup
                              else time.sleep, shared=shared)
        started = time.monotonic()
        try:
            src = os.open(src_path, os.O_RDONLY)
        except OSError as e:
            raise exception.CopyFailed(src=src_path, dst=dst_path,
                                       reason=str(e))
        try:
            dst = os.open(dst_path, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                os.ftruncate(dst, size)
                report(0)
                method, moved = self._copy(src, dst, size, report, limiter,
                                           chunk_size(limiter.limit))
                os.fsync(dst)
            finally:
                os.close(dst)
        except OSError as e:
            raise exception.CopyFailed(src=src_path, dst=dst_path,
                                       reason=str(e))
        finally:
            os.close(src)
        report(size)
        result = CopyResult(method=method, size=size,
                            bytes_transferred=moved,
                            seconds=time.monotonic() - started)
        LOG.info('Copied %(src)s to %(dst)s: %(size)d bytes by %(method)s, '
                 '%(moved)d transferred, in %(secs).2f s',
                 {'src': src_path, 'dst': dst_path, 'size': size,
                  'method': method, 'moved': moved,
                  'secs': result.seconds})
        return result

    @abc.abstractmethod
    def _copy(self, src: int, dst: int, size: int, report: ProgressCallback,
              limiter: RateLimiter, chunk: int) -> tuple[str, int]:
        """Copy between open fds; return (method, bytes transferred)."""


def _read_write(src: int, dst: int, start: int, end: int,
                report: ProgressCallback, limiter: RateLimiter,
                chunk: int) -> int:
    """pread/pwrite ``[start, end)``; zero chunks are left as holes."""
    moved = 0
    pos = start
    while pos < end:
        want = min(chunk, end - pos)
        block = os.pread(src, want, pos)
        if len(block) != want:
            raise OSError(errno.EIO, 'short read at offset %d: %d of %d '
                          'bytes' % (pos, len(block), want))
        if block.count(0) != len(block):
            view = memoryview(block)
            written = 0
            while written < want:
                written += os.pwrite(dst, view[written:], pos + written)
            moved += want
        limiter.throttle(want)
        pos += want
        report(pos)
    return moved


class NativeCopy(CopyEngine):
    """In-array copy: reflink, else copy_file_range over data extents."""

    name = 'native'

    def _copy(self, src, dst, size, report, limiter, chunk):
        try:
            return 'reflink', self._reflink(src, dst, size, report, limiter)
        except OSError as e:
            if e.errno not in _UNSUPPORTED:
                raise
            LOG.debug('Reflink unavailable (%s); using copy_file_range', e)
        return self._copy_extents(src, dst, size, report, limiter, chunk)

    @staticmethod
    def _reflink(src, dst, size, report, limiter) -> int:
        """FICLONERANGE in chunks (rate limit and progress); 0 moved."""
        if not limiter.limit:
            fcntl.ioctl(dst, FICLONE, src)
            return 0
        # Clone chunks of the rate limit's size; the last chunk's length 0
        # means "to EOF", which needs no block alignment.
        step = max(MiB, chunk_size(limiter.limit))
        pos = 0
        while pos < size:
            length = step if pos + step < size else 0
            fcntl.ioctl(dst, FICLONERANGE, struct.pack(
                _FILE_CLONE_RANGE, src, pos, length, pos))
            done = min(size, pos + step)
            limiter.throttle(done - pos)
            pos = done
            report(pos)
        return 0

    @staticmethod
    def _copy_extents(src, dst, size, report, limiter, chunk):
        method = 'copy_file_range'
        moved = 0
        for start, end in data_extents(src, size):
            pos = start
            while pos < end and method == 'copy_file_range':
                want = min(chunk, end - pos)
                try:
                    n = os.copy_file_range(src, dst, want, pos, pos)
                except OSError as e:
                    if e.errno not in _UNSUPPORTED or moved:
                        raise
                    LOG.debug('copy_file_range unavailable (%s); '
                              'using read/write', e)
                    method = 'read_write'
                    break
                if n <= 0:
                    raise OSError(errno.EIO, 'copy_file_range copied '
                                  'nothing at offset %d' % pos)
                limiter.throttle(n)
                moved += n
                pos += n
                report(pos)
            if method == 'read_write':
                moved += _read_write(src, dst, pos, end, report, limiter,
                                     chunk)
            report(end)
        return method, moved


class GenericCopy(CopyEngine):
    """Host-assisted copy: every byte of src read through this host."""

    name = 'generic'

    def _copy(self, src, dst, size, report, limiter, chunk):
        return 'read_write', _read_write(src, dst, 0, size, report,
                                         limiter, chunk)


_ENGINES: dict[str, type[CopyEngine]] = {
    NativeCopy.name: NativeCopy,
    GenericCopy.name: GenericCopy,
}


def get_engine(name: str) -> CopyEngine:
    """The copy engine called ``name`` (``native`` or ``generic``)."""
    try:
        return _ENGINES[name]()
    except KeyError:
        raise exception.InvalidInput(reason='unknown copy engine %r' % name)
