"""Poll until a condition holds: one helper for the bench, tools and tests.

Built on tenacity (``retry_if_result`` + ``stop_after_delay``): the
predicate runs at once, then every ``interval`` seconds until it returns
something truthy, which is returned. An exception the predicate raises
ends the wait at once (a volume that went to ``error`` need not be waited
for). On timeout :class:`TimeoutError` (a :class:`WaitTimeout`) names
what was waited for; callers that answer with their own exception pass
``error``, which builds it from that message.
"""

from __future__ import annotations

from typing import Callable, TypeVar

import tenacity

T = TypeVar('T')


class WaitTimeout(TimeoutError):
    """The condition did not hold within the timeout."""

    def __init__(self, what: str, timeout: float):
        super().__init__('timed out after %ss waiting for %s'
                         % (timeout, what))
        self.what = what
        self.timeout = timeout


def wait_for(predicate: Callable[[], T], timeout: float,
             interval: float = 0.1, what: str = 'condition',
             error: Callable[[str], BaseException] | None = None) -> T:
    """Poll ``predicate`` until it returns something truthy; return it.

    :param timeout: seconds after the first call; the last call is the
        first one made at or after that deadline.
    :param error: ``error(message)`` builds the exception raised on
        timeout (default :class:`WaitTimeout`), e.g. ``AssertionError``.
    """
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_not_result(bool),
        stop=tenacity.stop_after_delay(timeout),
        wait=tenacity.wait_fixed(interval),
        retry_error_callback=lambda state: _timed_out(what, timeout, error),
        reraise=True)
    return retrying(predicate)


def _timed_out(what: str, timeout: float, error) -> None:
    timed_out = WaitTimeout(what, timeout)
    if error is None:
        raise timed_out
    raise error(str(timed_out)) from timed_out
