"""Volume host names as in Cinder: ``host@backend#pool``."""

from __future__ import annotations

import dataclasses

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
