"""Which flow runs a migration, and what Nova's statuses mean to Cinder."""

from __future__ import annotations

from unittest import mock

import testtools

from cinder_driver_side.compute import migration_status
from cinder_driver_side.objects import fields
from cinder_driver_side.volume import flows
from cinder_driver_side.volume.flows import attached
from cinder_driver_side.volume.flows import detached
from cinder_driver_side.volume.flows import legacy

KIND = fields.MigrationKind
Outcome = migration_status.CompleteOutcome


class FactoryTest(testtools.TestCase):

    def _deps(self):
        return flows.Collaborators(
            conf=mock.Mock(), db=mock.Mock(), nova=mock.Mock(),
            placement=mock.Mock(), connect_attachment=mock.Mock(),
            done=mock.Mock())

    def test_flow_for_picks_the_strategy_of_the_record(self):
        deps = self._deps()
        for kind, cls in ((KIND.DETACHED, detached.DetachedFlow),
                          (KIND.ATTACHED, attached.AttachedFlow),
                          (KIND.LEGACY, legacy.LegacyFlow)):
            record = mock.Mock(id='m', volume_id='v' * 36, kind=kind)
            flow = flows.flow_for(record, deps)
            self.assertIsInstance(flow, cls)
            self.assertIs(deps.db, flow.db)
            self.assertIs(deps.nova, flow.nova)
            self.assertIs(deps.placement, flow.placement)

    def test_choose_kind(self):
        self.assertEqual(KIND.DETACHED, flows.choose_kind(
            False, True, 'legacy'))
        self.assertEqual(KIND.ATTACHED, flows.choose_kind(
            True, False, 'volume_migration'))
        self.assertEqual(KIND.LEGACY, flows.choose_kind(
            True, True, 'volume_migration'))
        self.assertEqual(KIND.LEGACY, flows.choose_kind(
            True, False, 'legacy'))

    def test_copy_engine(self):
        for kind in (KIND.DETACHED, KIND.ATTACHED):
            self.assertEqual('native', flows.copy_engine(kind, False, True))
            self.assertEqual('generic', flows.copy_engine(kind, True, True))
            self.assertEqual('generic',
                             flows.copy_engine(kind, False, False))
        # Nova mirrors the data of a swap itself.
        self.assertIsNone(flows.copy_engine(KIND.LEGACY, False, False))

    def test_only_detached_yields_to_other_actions(self):
        deps = self._deps()
        record = mock.Mock(id='m', volume_id='v' * 36, lock_volume=False,
                           status='migrating')
        deps.db.migration_get.return_value = record
        for kind, expected in ((KIND.DETACHED, True),
                               (KIND.ATTACHED, False),
                               (KIND.LEGACY, False)):
            record.kind = kind
            self.assertEqual(expected, flows.flow_for(
                record, deps).abortable_by_other_actions(), kind)


class NovaStatusMappingTest(testtools.TestCase):
    """compute.migration_status: Nova's record status after a complete."""

    def test_complete_outcomes(self):
        self.assertEqual({
            'completed': Outcome.SWITCHED,
            'starting': Outcome.RUNNING,
            'running': Outcome.RUNNING,
            'cancelling': Outcome.NOT_SWITCHED,
            'cancelled': Outcome.NOT_SWITCHED,
            'completing': Outcome.PENDING,
            'error': Outcome.NOVA_ERROR,
            'something new': Outcome.NOVA_ERROR,
            None: Outcome.NOVA_ERROR,
        }, {status: migration_status.complete_outcome(status)
            for status in ('completed', 'starting', 'running', 'cancelling',
                           'cancelled', 'completing', 'error',
                           'something new', None)})

    def test_terminal(self):
        self.assertEqual(
            ['cancelled', 'completed', 'error'],
            sorted(s for s in ('starting', 'running', 'completing',
                               'completed', 'cancelling', 'cancelled',
                               'error', None)
                   if migration_status.is_terminal(s)))

    def test_target_status(self):
        mig = fields.VolumeMigrationStatus
        self.assertEqual('target:abc', mig.target('abc'))
        self.assertEqual('abc', mig.target_of('target:abc'))
        self.assertIsNone(mig.target_of('migrating'))
        self.assertIsNone(mig.target_of(None))
