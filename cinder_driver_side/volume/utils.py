"""Volume host names as in Cinder: ``host@backend#pool``."""

from __future__ import annotations

import dataclasses
import errno
import functools
import os
import resource
import tempfile

from cinder_driver_side import exception

GiB = 1024 ** 3


@dataclasses.dataclass(frozen=True)
class Location:
    host: str
    backend: str
    pool: str

    def __str__(self) -> str:
        return '%s@%s#%s' % (self.host, self.backend, self.pool)


def parse_host(value: str) -> Location:
    """Split ``host@backend#pool``; every part is required here."""
    host, sep, rest = (value or '').partition('@')
    backend, sep2, pool = rest.partition('#')
    if not (host and sep and backend and sep2 and pool):
        raise exception.InvalidHost(
            reason='%r is not of the form host@backend#pool' % value)
    return Location(host, backend, pool)


def size_in_gib(size_bytes: int) -> int:
    """The GiB size Cinder reports: rounded up, at least 1."""
    return max(1, -(-size_bytes // GiB))


# Largest offset a signed 64-bit off_t can address.
_MAX_OFF_T = 2 ** 63 - 1


@functools.lru_cache(maxsize=None)
def _file_system_max_file_size(directory: str) -> int:
    """The largest size ftruncate(2) accepts for a file in ``directory``.

    Probed once per directory by binary search with ftruncate on an
    unnamed temporary file (O_TMPFILE where the file system has it): the
    file stays sparse, so each probe costs a metadata update, no space.
    """
    with tempfile.TemporaryFile(dir=directory) as f:
        def fits(size: int) -> bool:
            try:
                os.ftruncate(f.fileno(), size)
            except OSError as e:
                if e.errno in (errno.EFBIG, errno.EINVAL):
                    return False
                raise
            return True

        if fits(_MAX_OFF_T):
            return _MAX_OFF_T
        low, high = 0, _MAX_OFF_T     # fits(low), not fits(high)
        while high - low > 1:
            middle = (low + high) // 2
            if fits(middle):
                low = middle
            else:
                high = middle
        os.ftruncate(f.fileno(), 0)
        return low


def max_file_size(directory: str) -> int:
    """Largest file this process may create in ``directory``.

    The smaller of the file system's limit (s_maxbytes, probed) and this
    process's RLIMIT_FSIZE (read each time: it may change).
    """
    limit = _file_system_max_file_size(os.path.realpath(directory))
    soft, _hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    if soft != resource.RLIM_INFINITY:
        limit = min(limit, soft)
    return limit
