"""The flow registry and the families that drive each flow (faked cloud)."""

from unittest import mock

from nova_volmig.conf import libvirt as libvirt_conf
from tests import base
from volmig_bench import case
from volmig_bench import environment
from volmig_bench import exception
from volmig_bench import flows
from volmig_bench.flows import legacy
from volmig_bench.flows import new
from volmig_bench import plan
from volmig_bench import plot
from volmig_bench import results

VOLUME = 'a5c3c0c2-0000-4000-8000-000000000001'
SERVER = 'b6d4d1d3-0000-4000-8000-000000000002'


def _nova_complete_modes() -> set[str]:
    opt = [o for o in libvirt_conf.libvirt_opts
           if o.name == 'volume_migration_complete_mode'][0]
    return set(opt.type.choices)


class RegistryTestCase(base.TestCase):
    """Every registered flow is known wherever a flow name is read."""

    def test_every_flow_is_runnable_and_reportable(self):
        self.assertEqual(list(flows.FLOWS), results.ROW_SCHEMA[
            'properties']['flow']['enum'])
        for flow in flows.FLOWS.values():
            self.assertIn(flow.family, case.FAMILIES, flow)
            self.assertEqual(flow.color, plot.FLOW_COLORS[flow.name])
            if flow.family == flows.NEW:
                self.assertIn(flow.complete_mode, _nova_complete_modes())
            else:
                self.assertIsNone(flow.complete_mode)
        self.assertEqual([flows.BASELINE], [
            f.name for f in flows.FLOWS.values() if f.baseline])
        self.assertFalse(flows.is_baseline(flows.HEADLINE))
        self.assertEqual(len(flows.FLOWS),
                         len(set(plot.FLOW_COLORS.values())))

    def test_today_s_flows(self):
        self.assertEqual(('new', 'new-write_blocking', 'new-rebase',
                          'legacy'),
                         flows.names())
        self.assertEqual({'new': 'two_step',
                          'new-write_blocking': 'write_blocking',
                          'new-rebase': 'rebase'},
                         flows.complete_modes())
        self.assertIsInstance(case.flow_run('new', mock.Mock()),
                              new.NewFlow)
        self.assertIsInstance(case.flow_run('legacy', mock.Mock()),
                              legacy.LegacyFlow)

    def test_a_registered_flow_is_accepted_by_the_plan(self):
        extra = flows.Flow('new-other', flows.NEW, color='tab:olive',
                           legend='olive: other', complete_mode='two_step')
        with mock.patch.dict(flows.FLOWS, {extra.name: extra}):
            self.assertEqual(('new-other', 'legacy'),
                             plan.parse_flows('new-other,legacy'))
            self.assertIs(new.NewFlow, type(case.flow_run('new-other',
                                                          mock.Mock())))
        self.assertRaises(exception.InvalidParameter, plan.parse_flows,
                          'new-other,legacy')


class _FakeCloud:
    """Cinder and Nova as the flows see them: a migration that is done."""

    def __init__(self, status='success', nova_status='completed'):
        self.calls = []
        self.status = status
        self.nova_status = nova_status

    def volume(self, volume_id):
        return {'id': volume_id, 'migration_status': self.status,
                'os-vol-host-attr:host': 'aio@nbd_cfr#pool1'}

    volume_location = staticmethod(
        lambda v: ('nbd_cfr', v['os-vol-host-attr:host'].split('#')[1],
                   'volume-%s' % v['id']))

    def migrate_volume(self, volume_id, host, force_host_copy=False):
        self.calls.append(('migrate', volume_id, host, force_host_copy))

    def volume_migration(self, volume_id):
        return {'status': self.status, 'src_attachment_id': 'att-1',
                'finished_at': None, 'error': None}

    def nova_migration(self, src_attachment_id):
        self.calls.append(('nova', src_attachment_id))
        return {'status': self.nova_status, 'updated_at': None,
                'error': 'commit failed'}


class FamilyTestCase(base.TestCase):
    """What each family asks of the services around one migration."""

    def _case_run(self, cloud):
        ctx = environment.RunContext(plan.BenchPlan(), '/nonexistent',
                                     '/nonexistent', mock.Mock(), None)
        ctx.aio = mock.Mock(cloud=cloud)
        ctx.aio.set_nova_options.side_effect = (
            lambda *a, **kw: cloud.calls.append(('set', a, kw)))
        ctx.recorder = mock.Mock()
        ctx.recorder.between.return_value = []
        ctx.link_kind = 'netns-veth'
        return mock.Mock(ctx=ctx, volume={'id': VOLUME},
                         server={'id': SERVER}, sampler=None,
                         case=plan.Case(0, plan.Backend('nbd', 'cfr'),
                                        plan.GiB, 20 * 10 ** 6))

    def test_new_flow_sets_its_mode_then_waits_for_nova(self):
        cloud = _FakeCloud()
        driver = case.flow_run('new-write_blocking', self._case_run(cloud))
        obs = driver.migrate(iteration=1, quiet_since=0.0)
        self.assertEqual([
            ('set', ('libvirt',),
             {'volume_migration_complete_mode': 'write_blocking'}),
            ('migrate', VOLUME, 'aio@nbd_cfr#pool2', False),
            ('nova', 'att-1')], cloud.calls)
        self.assertEqual('success', obs.status)
        self.assertEqual('completed', obs.nova_record['status'])
        self.assertEqual(('new-write_blocking', 1, 'netns-veth'),
                         (obs.flow, obs.iteration, obs.link_kind))
        self.assertTrue(case.flow_run('new', mock.Mock()).measures_raw_copy)

    def test_new_flow_failed_by_nova_is_an_error(self):
        cloud = _FakeCloud(nova_status='error')
        obs = case.flow_run('new', self._case_run(cloud)).migrate(0, 0.0)
        self.assertEqual('error', obs.status)
        self.assertEqual('Nova: commit failed', obs.error)

    def test_new_flow_failed_by_cinder_has_no_nova_finish(self):
        cloud = _FakeCloud(status='error')
        obs = case.flow_run('new', self._case_run(cloud)).migrate(0, 0.0)
        self.assertEqual('error', obs.status)
        self.assertIsNone(obs.nova_record)
        self.assertNotIn(('nova', 'att-1'), cloud.calls)

    def test_legacy_is_a_host_copy_and_nothing_after(self):
        cloud = _FakeCloud()
        case_run = self._case_run(cloud)
        driver = case.flow_run('legacy', case_run)
        obs = driver.migrate(0, 0.0)
        self.assertEqual([('migrate', VOLUME, 'aio@nbd_cfr#pool2', True)],
                         cloud.calls)
        self.assertIsNone(obs.nova_record)
        self.assertFalse(driver.measures_raw_copy)
        # Nova's ready timeout (120 s here), then 120 s, then the copy.
        self.assertAlmostEqual(240 + plan.GiB / 10e6,
                               driver.wait_timeout())
        self.assertAlmostEqual(300 + plan.GiB / 10e6, case.flow_run(
            'new', case_run).wait_timeout())
