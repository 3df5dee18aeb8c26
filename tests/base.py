"""Common test base: config isolation, a temporary state path."""

from __future__ import annotations

import os
import signal

import fixtures
from futurist import _thread as futurist_thread
from oslo_config import fixture as config_fixture
from oslotest import base

from nova_volmig import conf as nova_conf

# Seconds an idle futurist worker waits for work before it looks whether
# its executor is shutting down (futurist's own default: 1).
WORKER_IDLE_POLL = 0.02


def default_signals() -> None:
    """``preexec_fn`` for a child that is sent SIGINT or SIGTERM.

    A shell starts a background job with SIGINT ignored, the test workers
    inherit that, and so would the child: exec keeps an ignored signal
    ignored, and Python then installs no KeyboardInterrupt handler.
    """
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)


class TestCase(base.BaseTestCase):
    """Base of unit and functional tests.

    Every test gets a clean ``cfg.CONF`` (ConfFixture) and its own
    ``state_path`` under a temporary directory.

    An oslo.messaging server's ``wait()`` (every in-process service's
    ``stop()``) joins its futurist worker threads, and an idle worker
    looks for the stop only when its queue wait times out: once a second
    by default, so each stop took up to a second. In tests it looks every
    20 ms; the services and what they do are unchanged.
    """

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.MockPatchObject(
            futurist_thread.ThreadWorker, 'MAX_IDLE_FOR', WORKER_IDLE_POLL))
        self.conf = self.useFixture(config_fixture.Config(nova_conf.CONF))
        nova_conf.CONF([], project='nova-volmig', default_config_files=[])
        self.state_path = self.useFixture(fixtures.TempDir()).path
        self.flags(state_path=self.state_path)

    def skip_unless_ci(self, reason: str) -> None:
        """Skip for a host that lacks a facility; fail in CI.

        ``.ci/run`` sets ``VOLMIG_NO_SKIP=1``: there the machine is known
        to have loop devices, xfsprogs and the rest, and a functional test
        that skipped would prove nothing.
        """
        if os.environ.get('VOLMIG_NO_SKIP') == '1':
            self.fail('would skip in CI: %s' % reason)
        self.skipTest(reason)

    def flags(self, group: str | None = None, **kw) -> None:
        self.conf.config(group=group, **kw)

    def state_file(self, *parts: str) -> str:
        return os.path.join(self.state_path, *parts)
