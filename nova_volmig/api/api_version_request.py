"""Compute API microversions (Nova's ``api_version_request``).

History of the versions this API serves; only the ones that change what it
does are listed, the others behave like the version below them:

* 2.1   - the v2.1 base API.
* 2.3   - ``delete_on_termination`` in
  ``os-extended-volumes:volumes_attached``.
* 2.9   - ``locked`` in server bodies.
* 2.19  - ``description`` in server bodies.
* 2.26  - ``tags`` in server bodies.
* 2.47  - the server's ``flavor`` is embedded instead of linked.
* 2.51  - instance action events shown to everyone who can see the action.
* 2.58  - ``updated_at`` in instance actions.
* 2.70  - ``tag`` in volume attachment bodies.
* 2.73  - ``locked_reason`` in server bodies.
* 2.79  - ``delete_on_termination`` in volume attachment bodies.
* 2.84  - ``details`` in instance action events.
* 2.89  - ``attachment_id`` and ``bdm_uuid`` in volume attachment bodies,
  which no longer carry ``id``.
* 2.104 - upstream Nova's latest.
* 2.105 - volume migrations: ``/os-volume-migrations`` (start, show, list,
  complete, cancel) and ``swap_progress`` in volume attachment bodies while a
  legacy swap runs.
"""

from __future__ import annotations

import functools
import re

from nova_volmig import exception
from nova_volmig.i18n import _

MIN_API_VERSION = '2.1'
MAX_API_VERSION = '2.105'
#: The microversion that added volume migrations.
VOLUME_MIGRATION_VERSION = '2.105'

# The service type named in the OpenStack-API-Version header.
SERVICE_TYPE = 'compute'

# At most 9 digits a part: a longer number is no version of this API, and
# int() of thousands of digits is refused by Python (a 500 before).
_VERSION_RE = re.compile(r'^([1-9]\d{0,8})\.([1-9]\d{0,8}|0)$')
# How much of a malformed version a fault quotes back.
_QUOTED_LENGTH = 32


class InvalidAPIVersionString(exception.Invalid):
    msg_fmt = _('API Version String %(version)s is of invalid format. Must '
                'be of format MajorNum.MinorNum.')


class InvalidGlobalAPIVersion(exception.NovaVolmigException):
    msg_fmt = _('Version %(req_ver)s is not supported by the API. Minimum '
                'is %(min_ver)s and maximum is %(max_ver)s.')
    code = 406


@functools.total_ordering
class APIVersionRequest:
    """A compute API version: ``major.minor``, or null (0.0).

    A null version stands for "no bound" in :meth:`matches`.
    """

    def __init__(self, version_string: str | None = None):
        self.ver_major = 0
        self.ver_minor = 0
        if version_string is not None:
            match = _VERSION_RE.match(version_string)
            if not match:
                raise InvalidAPIVersionString(
                    version=_quoted(version_string))
            self.ver_major = int(match.group(1))
            self.ver_minor = int(match.group(2))

    def __repr__(self) -> str:
        return 'APIVersionRequest(%r)' % self.get_string()

    def is_null(self) -> bool:
        return self.ver_major == 0 and self.ver_minor == 0

    def _key(self) -> tuple[int, int]:
        return (self.ver_major, self.ver_minor)

    def __eq__(self, other) -> bool:
        if not isinstance(other, APIVersionRequest):
            return NotImplemented
        return self._key() == other._key()

    def __lt__(self, other) -> bool:
        if not isinstance(other, APIVersionRequest):
            return NotImplemented
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def matches(self, min_version: APIVersionRequest | str | None = None,
                max_version: APIVersionRequest | str | None = None) -> bool:
        """True when min_version <= self <= max_version; null = unbounded."""
        low = _as_version(min_version)
        high = _as_version(max_version)
        if not low.is_null() and self < low:
            return False
        if not high.is_null() and self > high:
            return False
        return True

    def get_string(self) -> str:
        if self.is_null():
            raise ValueError('a null version has no string form')
        return '%d.%d' % (self.ver_major, self.ver_minor)


def _quoted(text: str) -> str:
    if len(text) > _QUOTED_LENGTH:
        return '%s... (%d characters)' % (text[:_QUOTED_LENGTH], len(text))
    return text


def _as_version(value) -> APIVersionRequest:
    if value is None:
        return APIVersionRequest()
    if isinstance(value, APIVersionRequest):
        return value
    return APIVersionRequest(value)


def min_api_version() -> APIVersionRequest:
    return APIVersionRequest(MIN_API_VERSION)


def max_api_version() -> APIVersionRequest:
    return APIVersionRequest(MAX_API_VERSION)


def _header_version(headers) -> str | None:
    """The compute version a request asks for, as a string, or None.

    ``OpenStack-API-Version: compute 2.105`` (possibly among other
    services' versions, comma-separated) wins over the legacy
    ``X-OpenStack-Nova-API-Version: 2.105``.
    """
    value = headers.get('OpenStack-API-Version')
    if value:
        for item in value.split(','):
            parts = item.strip().split()
            if len(parts) == 2 and parts[0].lower() == SERVICE_TYPE:
                return parts[1]
            if len(parts) == 1 and parts[0].lower() == SERVICE_TYPE:
                return ''
    legacy = headers.get('X-OpenStack-Nova-API-Version')
    if legacy is not None:
        return legacy.strip()
    return None


def from_headers(headers) -> APIVersionRequest:
    """Negotiate the version of a request from its headers.

    No header: the minimum version. ``latest``: the maximum. A malformed
    version raises :class:`InvalidAPIVersionString` (400), one outside
    [min, max] :class:`InvalidGlobalAPIVersion` (406), as Nova does.
    """
    requested = _header_version(headers)
    if requested is None:
        return min_api_version()
    if requested.lower() == 'latest':
        return max_api_version()
    version = APIVersionRequest(requested)
    if not version.matches(min_api_version(), max_api_version()):
        raise InvalidGlobalAPIVersion(req_ver=version.get_string(),
                                      min_ver=MIN_API_VERSION,
                                      max_ver=MAX_API_VERSION)
    return version
