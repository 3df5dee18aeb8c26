"""The run's set-up: what it derives from the plan."""

from tests import base
from volmig_bench import environment
from volmig_bench import plan

G = plan.GiB


class LegacyTimeoutTestCase(base.TestCase):

    def test_legacy_timeout_scales_with_the_link(self):
        p = plan.BenchPlan(sizes=(16 * G,))
        self.assertEqual(413, environment.legacy_timeout(p))
        self.assertEqual(120, environment.legacy_timeout(plan.BenchPlan()))
        self.assertEqual(300, environment.legacy_timeout(
            plan.BenchPlan(legacy_timeout_s=300)))
