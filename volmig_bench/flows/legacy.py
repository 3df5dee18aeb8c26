"""The legacy flow's family: Cinder's host copy through Nova's swap volume.

``force_host_copy=True``: Cinder creates dst and asks Nova to swap the
attached volume; Nova's block copy mirrors src into dst while the guest
writes, pivots once the mirror is ready (or gives up after
``block_job_ready_timeout``: "did not converge", a finding rather than a
failure), and calls Cinder back. Nothing runs after Cinder's verdict.
"""

from __future__ import annotations

from volmig_bench import environment
from volmig_bench.flows import base


class LegacyFlow(base.FlowRun):
    """The baseline (``legacy``)."""

    force_host_copy = True

    def wait_timeout(self) -> float:
        # Nova's own ready timeout, then the swap and Cinder's callback.
        return (environment.legacy_timeout(self.ctx.plan) + 120
                + self._transfer_s())
