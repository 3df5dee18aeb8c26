"""Volume API microversions: 3.0 to 3.72.

3.72: migration_progress, os-migrate_volume_cancel and the ``queued`` /
``cancelled`` migration statuses with migration_queue_position.
"""

from __future__ import annotations

import functools

from cinder_driver_side import exception

SERVICE_TYPE = 'volume'
MIN_VERSION = '3.0'
MAX_VERSION = '3.72'

ATTACHMENTS = '3.27'
ATTACHMENT_COMPLETE = '3.44'
MIGRATION_PROGRESS = '3.72'
MIGRATION_CANCEL = '3.72'


@functools.total_ordering
class APIVersion:
    def __init__(self, text: str):
        try:
            major, minor = text.strip().split('.')
            self.major, self.minor = int(major), int(minor)
        except (AttributeError, ValueError):
            raise exception.InvalidInput(
                reason='invalid API version %r' % text)

    def _key(self):
        return self.major, self.minor

    def __eq__(self, other):
        return self._key() == APIVersion.coerce(other)._key()

    def __lt__(self, other):
        return self._key() < APIVersion.coerce(other)._key()

    def __hash__(self):
        return hash(self._key())

    def __str__(self):
        return '%d.%d' % self._key()

    @classmethod
    def coerce(cls, value) -> APIVersion:
        return value if isinstance(value, APIVersion) else cls(value)

    def matches(self, minimum: str, maximum: str | None = None) -> bool:
        return self >= minimum and (maximum is None or self <= maximum)


def from_headers(headers) -> APIVersion:
    """The requested version (``OpenStack-API-Version: volume 3.x``)."""
    raw = headers.get('OpenStack-API-Version')
    value = None
    if raw:
        for item in raw.split(','):
            parts = item.strip().split()
            if len(parts) == 2 and parts[0].lower() == SERVICE_TYPE:
                value = parts[1]
    if value is None:
        return APIVersion(MIN_VERSION)
    if value.lower() == 'latest':
        return APIVersion(MAX_VERSION)
    version = APIVersion(value)
    if not version.matches(MIN_VERSION, MAX_VERSION):
        raise exception.InvalidAPIVersion(req_ver=value,
                                          min_ver=MIN_VERSION,
                                          max_ver=MAX_VERSION)
    return version
