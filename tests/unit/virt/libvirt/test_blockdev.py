"""blockdev (QMP over libvirt) and the rebase switch, on a fake QEMU."""

from __future__ import annotations

import itertools
from unittest import mock

import fixtures
import libvirt

from nova_volmig.virt.libvirt import blockdev
from nova_volmig.virt.libvirt import config
from nova_volmig.virt.libvirt import exception as lv_exc
from nova_volmig.virt.libvirt import rebase
from tests import base
from tests.unit.virt.libvirt import fake_qemu
DST, OVERLAY, SRC = fake_qemu.DST, fake_qemu.OVERLAY, fake_qemu.SRC
QDEV = fake_qemu.QDEV


_DOMAIN_IDS = itertools.count(1)


class FakeGuest:
    uuid = 'u'

    def __init__(self, qemu):
        self.qemu = qemu
        self.marked = set()
        self.id = next(_DOMAIN_IDS)     # each FakeQemu a QEMU of its own

    def qemu_monitor_command(self, command, idempotent=False):
        return self.qemu.command(command, idempotent)

    def get_disk(self, target, dump_inactive=False):
        return config.DiskState(target=target, alias='ua-vol-vdb',
                                source=None)

    def mark_disk_rebased(self, target):
        self.marked.add(target)

    def unmark_disk_rebased(self, target):
        self.marked.discard(target)


class TestQemuMonitor(base.TestCase):

    def setUp(self):
        super().setUp()
        self.qemu = fake_qemu.FakeQemu()
        self.monitor = blockdev.QemuMonitor(FakeGuest(self.qemu))

    def test_graph_read_from_qemu(self):
        graph = self.monitor.block_graph()
        # Two round trips: the device's top node comes with the edges.
        self.assertEqual(['x-debug-query-block-graph',
                          'query-named-block-nodes'],
                         [command for command, _ in self.qemu.calls])
        self.assertEqual({QDEV: 'libvirt-2-format'}, graph.devices)
        top = graph.device_node('ua-vol-vdb')
        self.assertEqual('libvirt-2-format', top.node_name)
        self.assertEqual([OVERLAY, SRC], [
            graph.location(n).uri for n in graph.backing_chain(top)])
        source = graph.disk_source(top)
        self.assertEqual('qcow2', source.format)
        self.assertEqual(SRC, source.backing.path)

    def test_job_filter_above_the_device_is_skipped(self):
        self.qemu._add('commit-top', 'commit_top', OVERLAY, False,
                       backing='libvirt-2-format')
        self.qemu.device_top = 'commit-top'
        graph = self.monitor.block_graph()
        self.assertEqual('libvirt-2-format',
                         graph.device_node('ua-vol-vdb').node_name)

    def test_location_is_the_storage_not_a_json_filename(self):
        self.qemu.nodes['libvirt-2-format']['file'] = 'json:{"x": 1}'
        graph = self.monitor.block_graph()
        self.assertEqual(OVERLAY, graph.location(
            graph.node('libvirt-2-format')).path)

    def test_qmp_error_names_the_command(self):
        self.qemu.fail_after['blockdev-del'] = 0
        e = self.assertRaises(lv_exc.QMPCommandFailed,
                              self.monitor.blockdev_del, 'x')
        self.assertIn('blockdev-del', str(e))
        self.assertIn('injected', str(e))

    def test_libvirt_error_becomes_qmp_failure(self):
        guest = mock.Mock(uuid='u')
        guest.qemu_monitor_command.side_effect = libvirt.libvirtError('x')
        self.assertRaises(lv_exc.QMPCommandFailed,
                          blockdev.QemuMonitor(guest).query_commands)

    def test_queries_are_idempotent_changes_are_not(self):
        guest = mock.Mock(uuid='u')
        guest.qemu_monitor_command.return_value = '{"return": []}'
        monitor = blockdev.QemuMonitor(guest)
        monitor.query_named_block_nodes()
        self.assertTrue(guest.qemu_monitor_command.call_args[1][
            'idempotent'])
        guest.qemu_monitor_command.return_value = '{"return": {}}'
        monitor.blockdev_del('n')
        self.assertFalse(guest.qemu_monitor_command.call_args[1][
            'idempotent'])

    def test_reopen_keeps_reported_options(self):
        self.qemu.nodes['libvirt-2-format'].update(
            cache={'direct': False, 'no-flush': True}, detect_zeroes='unmap')
        graph = self.monitor.block_graph()
        options = blockdev.reopen_options(
            graph, graph.node('libvirt-2-format'), 'new')
        self.assertEqual({
            'driver': 'qcow2', 'node-name': 'libvirt-2-format',
            'file': 'libvirt-2-storage', 'read-only': False,
            'cache': {'direct': False, 'no-flush': True},
            'detect-zeroes': 'unmap', 'backing': 'new'}, options)

    def test_nbd_storage_options(self):
        graph = self.monitor.block_graph()
        source = config.DiskSource.from_uri('nbd://127.0.0.1:10809/vol')
        options = blockdev.storage_options(
            source, 'n', graph.node('libvirt-1-storage'), read_only=True)
        self.assertEqual('nbd', options['driver'])
        self.assertEqual({'type': 'inet', 'host': '127.0.0.1',
                          'port': '10809'}, options['server'])
        self.assertEqual('vol', options['export'])

    def test_true_disk_replaces_the_stale_chain(self):
        self.qemu.fail_after = {}
        switch = _switch(self.qemu)
        switch.switch(switch.src_node_names())
        stale = config.DiskState(
            target='vdb', alias='ua-vol-vdb',
            source=config.DiskSource('file', 'qcow2', path=OVERLAY,
                                     backing=config.DiskSource(
                                         'file', 'raw', path=SRC)),
            mirror=config.DiskSource('file', 'raw', path=SRC),
            mirror_job='active-commit', mirror_ready=True)
        disk = blockdev.true_disk(self.monitor.block_graph(), stale)
        self.assertEqual(DST, disk.source.backing.path)
        self.assertEqual(DST, disk.mirror.path)
        self.assertTrue(disk.mirror_ready)


def _switch(qemu):
    return rebase.RebaseSwitch(
        FakeGuest(qemu), config.DiskState('vdb', 'ua-vol-vdb', None),
        OVERLAY, config.DiskSource('file', 'raw', path=SRC),
        config.DiskSource('file', 'raw', path=DST))


class TestRebaseSwitch(base.TestCase):

    def setUp(self):
        super().setUp()
        self.qemu = fake_qemu.FakeQemu()

    def assertSrcClosed(self):
        """Where complete leaves it: the overlay on dst, src not open."""
        self.assertEqual((rebase.TMP_FORMAT, DST),
                         self.qemu.backing_of_overlay())
        self.assertNotIn(SRC, [n['file'] for n in self.qemu.nodes.values()])

    def assertSwitched(self):
        self.assertEqual(('libvirt-1-format', DST),
                         self.qemu.backing_of_overlay())
        self.assertEqual({'libvirt-1-format', 'libvirt-1-storage',
                          'libvirt-2-format', 'libvirt-2-storage'},
                         set(self.qemu.nodes))
        self.assertNotIn(SRC, [n['file'] for n in self.qemu.nodes.values()])
        self.assertFalse(self.qemu.nodes['libvirt-1-format']['ro'])

    def assertUntouched(self):
        self.assertEqual(('libvirt-1-format', SRC),
                         self.qemu.backing_of_overlay())
        self.assertEqual(4, len(self.qemu.nodes))

    def test_switch(self):
        switch = _switch(self.qemu)
        switch.check_capable()
        names = switch.src_node_names()
        self.assertEqual(('libvirt-1-format', 'libvirt-1-storage'), names)
        self.assertEqual('src', switch.backing())
        live = switch.switch(names)
        self.assertSrcClosed()
        self.assertEqual([(OVERLAY, 'qcow2'), (DST, 'raw')],
                         [(layer.uri, layer.format) for layer in live.chain()])
        self.assertEqual('dst', switch.backing())
        switch.ensure_switched(names)     # the finish's first step
        self.assertSwitched()
        self.assertEqual('dst', switch.backing())

    def test_switch_makes_only_the_calls_complete_needs(self):
        """Cinder waits on each QMP call: only the ones complete needs.

        No graph read after the one given; dst's renaming is the
        finish's.
        """
        switch = _switch(self.qemu)
        graph = switch.monitor.block_graph()
        names = switch.src_node_names(graph)
        del self.qemu.calls[:]
        switch.switch(names, graph=graph)
        self.assertSrcClosed()
        self.assertEqual(
            ['blockdev-add', 'blockdev-add', 'blockdev-reopen',
             'blockdev-del', 'blockdev-del'],
            [command for command, _ in self.qemu.calls])

    def test_ensure_switched_once_done_changes_nothing(self):
        switch = _switch(self.qemu)
        names = switch.src_node_names()
        switch.switch(names)
        switch.ensure_switched(names)
        del self.qemu.calls[:]
        switch.ensure_switched(names)
        self.assertSwitched()
        self.assertEqual(
            [], [c for c, _ in self.qemu.calls if not c.startswith(
                ('query-', 'x-debug-'))])

    def test_commands_asked_once_per_running_qemu(self):
        guest = FakeGuest(self.qemu)
        for _ in range(2):
            rebase.RebaseSwitch(guest, config.DiskState('vdb', 'ua-vol-vdb',
                                                        None),
                                OVERLAY, None, None).check_capable()
        self.assertEqual(['query-commands'],
                         [command for command, _ in self.qemu.calls])
        guest.id = next(_DOMAIN_IDS)     # started again: asked again
        self.qemu.commands.remove('blockdev-reopen')
        switch = rebase.RebaseSwitch(guest, config.DiskState(
            'vdb', 'ua-vol-vdb', None), OVERLAY, None, None)
        self.assertRaises(rebase.SwitchNotMade, switch.check_capable)

    def test_no_blockdev_reopen(self):
        self.qemu.commands.remove('blockdev-reopen')
        e = self.assertRaises(rebase.SwitchNotMade,
                              _switch(self.qemu).check_capable)
        self.assertIn('blockdev-reopen', e.reason)

    def test_failure_before_the_switch_leaves_nothing(self):
        """Not even the mark: libvirt's XML is true again."""
        for command, after in (('blockdev-add', 0), ('blockdev-add', 1),
                               ('blockdev-reopen', 0)):
            self.qemu = fake_qemu.FakeQemu()
            self.qemu.fail_after[command] = after
            switch = _switch(self.qemu)
            switch.mark()
            self.assertRaises(rebase.SwitchNotMade, switch.switch,
                              switch.src_node_names())
            self.assertUntouched()
            self.assertEqual(set(), switch.guest.marked)

    def test_interrupted_after_the_switch_is_finished(self):
        """Killed at each QMP call after the reopen: a restart finishes."""
        for command, after in (('blockdev-del', 0), ('blockdev-del', 1)):
            self.qemu = fake_qemu.FakeQemu()
            self.qemu.fail_after[command] = after
            switch = _switch(self.qemu)
            names = switch.src_node_names()
            self.assertRaises(lv_exc.QMPCommandFailed, switch.switch, names)
            self.assertEqual('dst', switch.backing(), (command, after))
            self.qemu.fail_after.clear()
            _switch(self.qemu).ensure_switched(names)
            self.assertSwitched()

    def test_finish_interrupted_while_naming_dst(self):
        """Killed at each QMP call of step 3: the next finish ends it."""
        for command, after in (('blockdev-add', 0), ('blockdev-add', 1),
                               ('blockdev-reopen', 0), ('blockdev-del', 0),
                               ('blockdev-del', 1)):
            self.qemu = fake_qemu.FakeQemu()
            switch = _switch(self.qemu)
            names = switch.src_node_names()
            switch.switch(names)
            self.qemu.fail_after[command] = after
            self.assertRaises(lv_exc.QMPCommandFailed,
                              switch.ensure_switched, names)
            self.assertEqual('dst', switch.backing(), (command, after))
            self.assertNotIn(SRC, [n['file']
                                   for n in self.qemu.nodes.values()])
            self.qemu.fail_after.clear()
            _switch(self.qemu).ensure_switched(names)
            self.assertSwitched()

    def test_roll_back_drops_unused_tmp_nodes(self):
        self.qemu.fail_after['blockdev-reopen'] = 0
        self.qemu.fail_after['blockdev-del'] = 0   # killed mid roll-back
        switch = _switch(self.qemu)
        self.assertRaises(lv_exc.QMPCommandFailed, switch.switch,
                          switch.src_node_names())
        self.assertIn(rebase.TMP_FORMAT, self.qemu.nodes)
        self.qemu.fail_after.clear()
        switch.mark()
        self.assertEqual('src', switch.roll_back())
        self.assertUntouched()
        self.assertEqual(set(), switch.guest.marked)

    def test_roll_back_after_the_switch_keeps_the_mark(self):
        """On dst libvirt's XML still lies: the mark stays."""
        switch = _switch(self.qemu)
        switch.mark()
        switch.switch(switch.src_node_names())
        self.assertEqual('dst', switch.roll_back())
        self.assertEqual({'vdb'}, switch.guest.marked)


#: the real check, for the test that undoes TestRebaseComplete's patch
LOCAL_SOURCE = rebase.local_source


class TestRebaseComplete(base.TestCase):

    def setUp(self):
        super().setUp()
        # FakeQemu's nodes are files; libvirt's objection to local
        # sources is tested on its own below.
        self.useFixture(fixtures.MockPatch(
            'nova_volmig.virt.libvirt.rebase.local_source',
            return_value=None))

    def test_local_src_falls_back_before_any_qmp(self):
        self.useFixture(fixtures.MockPatch(
            'nova_volmig.virt.libvirt.rebase.local_source',
            side_effect=LOCAL_SOURCE))
        qemu = fake_qemu.FakeQemu()
        layout, migration = self._layout()
        self.assertFalse(rebase.complete(FakeGuest(qemu), layout, migration))
        reason = migration.save_driver_data.call_args.kwargs[
            'rebase_fallback']
        self.assertIn('local file', reason)
        self.assertEqual([], qemu.calls)
        self.assertIsNone(LOCAL_SOURCE(config.DiskSource.from_uri(
            'nbd://127.0.0.1:10809/volume-1')))

    def _layout(self):
        migration = mock.Mock(driver_data={}, src_attachment_id='a')
        layout = mock.Mock(migration=migration, disk='vdb',
                           src=config.DiskSource('file', 'raw', path=SRC),
                           dst=config.DiskSource('file', 'raw', path=DST))
        layout.start_overlay.path = OVERLAY
        return layout, migration

    def test_complete(self):
        qemu = fake_qemu.FakeQemu()
        guest = FakeGuest(qemu)
        layout, migration = self._layout()
        self.assertTrue(rebase.complete(guest, layout, migration))
        self.assertEqual({'vdb'}, guest.marked)
        self.assertEqual([
            mock.call(complete_mode='rebase',
                      src_nodes=['libvirt-1-format', 'libvirt-1-storage'],
                      step=rebase.STEP_REBASE_SWITCH),
            mock.call(step=rebase.STEP_REBASE_SWITCHED)],
            migration.save_driver_data.call_args_list)
        self.assertEqual((rebase.TMP_FORMAT, DST), qemu.backing_of_overlay())
        # The finish names dst as libvirt named src.
        migration.driver_data = migration.save_driver_data.call_args_list[
            0][1]
        rebase.name_dst(guest, layout, migration)
        self.assertEqual(('libvirt-1-format', DST), qemu.backing_of_overlay())
        self.assertEqual(4, len(qemu.nodes))

    def test_name_dst_needs_the_recorded_names(self):
        layout, migration = self._layout()
        migration.driver_data = {}
        self.assertRaises(lv_exc.VolumeMigrationStateError, rebase.name_dst,
                          FakeGuest(fake_qemu.FakeQemu()), layout, migration)

    def test_falls_back_without_blockdev_reopen(self):
        qemu = fake_qemu.FakeQemu()
        qemu.commands.remove('blockdev-reopen')
        layout, migration = self._layout()
        with self.assertLogs(rebase.LOG.logger, 'WARNING') as log:
            self.assertFalse(rebase.complete(FakeGuest(qemu), layout,
                                             migration))
        self.assertIn('two_step', log.output[0])
        kwargs = migration.save_driver_data.call_args[1]
        self.assertEqual('two_step', kwargs['complete_mode'])
        self.assertIn('blockdev-reopen', kwargs['rebase_fallback'])
        self.assertEqual(4, len(qemu.nodes))

    def test_falls_back_when_reopen_fails(self):
        qemu = fake_qemu.FakeQemu()
        qemu.fail_after['blockdev-reopen'] = 0
        layout, migration = self._layout()
        self.assertFalse(rebase.complete(FakeGuest(qemu), layout,
                                         migration))
        self.assertIn('injected', migration.save_driver_data.call_args[1][
            'rebase_fallback'])
        self.assertEqual(('libvirt-1-format', SRC), qemu.backing_of_overlay())

    def test_recover(self):
        for fail, expected in ((('blockdev-reopen', 0), 'src'),
                               (('blockdev-del', 0), 'dst')):
            qemu = fake_qemu.FakeQemu()
            layout, migration = self._layout()
            layout.is_overlay.return_value = True
            names = _switch(qemu).src_node_names()
            migration.driver_data = {'src_nodes': list(names)}
            qemu.fail_after[fail[0]] = fail[1]
            try:
                _switch(qemu).switch(names)
            except (lv_exc.QMPCommandFailed, rebase.SwitchNotMade):
                pass
            qemu.fail_after.clear()
            self.assertEqual(expected, rebase.recover(
                FakeGuest(qemu), layout, migration))
            self.assertEqual(4, len(qemu.nodes))
            self.assertEqual(SRC if expected == 'src' else DST,
                             qemu.backing_of_overlay()[1])
