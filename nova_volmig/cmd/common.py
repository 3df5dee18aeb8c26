"""Signal handling shared by the long-running entry points."""

from __future__ import annotations

import signal
import threading
from typing import Callable

from oslo_log import log as logging

LOG = logging.getLogger(__name__)


def run_until_signalled(stop: Callable[[], None]) -> int:
    """Block until SIGTERM/SIGINT, then call ``stop`` once; exit code 0."""
    done = threading.Event()

    def _handler(signum, frame):
        LOG.info('Received %s, stopping', signal.Signals(signum).name)
        done.set()

    signal.signal(signal.SIGTERM, _handler)
    signal.signal(signal.SIGINT, _handler)
    while not done.wait(1.0):
        pass
    stop()
    return 0
