"""Invariant 5 across a libvirtd restart with ``complete_mode = rebase``.

The tests of ``test_libvirtd_restart`` (restart during the commit job,
restart between start and complete) run again in rebase mode, plus a
restart between the switch and the commit: libvirtd reloads a live XML
that still names src, and neither it nor the driver reopens src. And
restarts inside complete's switch, between its QMP calls: once dst's
first node is added, once the guest reads dst, and libvirtd gone during
the call that closes src, or during the one that adds dst's second
node (before the reopen). Like the other disruptive tests they restart
the host's libvirtd: run them serially, after all the others.
"""

from __future__ import annotations

import typing

import fixtures

from nova_volmig.virt import driver
from nova_volmig.virt.libvirt import blockdev
from nova_volmig.virt.libvirt import config
from nova_volmig.virt.libvirt import exception as lv_exc
from nova_volmig.virt.libvirt import rebase
from tests.functional.disruptive import test_libvirtd_restart
from tests.functional.fixtures import libvirt as lv_fixtures
from tests.functional.libvirt import base


class _Case(typing.NamedTuple):
    """A rebase-mode migration started, src copied onto dst."""

    src: base.TestVolume
    dst: base.TestVolume
    instance: object
    writer: object
    migration: object
    src_at_start: str


class RebaseLibvirtdRestartTest(test_libvirtd_restart.LibvirtdRestartTest):

    def setUp(self):
        super().setUp()
        self.flags(group='libvirt', volume_migration_complete_mode='rebase')

    def test_restart_between_switch_and_commit(self):
        case = self._started_and_copied(seed=33)
        self.driver.volume_migration_complete(None, case.instance,
                                              case.migration)
        # dst is still under the switch's temporary node names: libvirt
        # reloads a status XML whose backing node names QEMU lacks.
        self.assertEqual(rebase.TMP_FORMAT,
                         self.overlay_backing_node(case.instance))
        test_libvirtd_restart.restart_libvirtd()
        self._finish_on_dst(case)

    # libvirtd restarted inside complete's switch (13-18 ms of QMP calls)

    def _patch_qmp(self, command: str, around, nth: int = 1) -> list[str]:
        """``around(send)`` runs the ``nth`` QMP ``command`` instead.

        Returns the list the fault appends its command to when it fires.
        """
        real = blockdev.QemuMonitor._execute
        calls = []
        fired = []

        def execute(monitor, name, idempotent, arguments):
            def send():
                return real(monitor, name, idempotent, arguments)
            if name != command:
                return send()
            calls.append(name)
            if len(calls) != nth:
                return send()
            fired.append(name)
            return around(send)
        self.useFixture(fixtures.MockPatchObject(
            blockdev.QemuMonitor, '_execute', execute))
        return fired

    def _restart_after(self, command: str) -> list[str]:
        """libvirtd restarts once the first ``command`` has returned."""
        def around(send):
            reply = send()
            test_libvirtd_restart.restart_libvirtd()
            return reply
        return self._patch_qmp(command, around)

    def _down_during(self, command: str, nth: int = 1) -> list[str]:
        """The ``nth`` ``command`` meets a libvirtd that has just died."""
        def around(send):
            test_libvirtd_restart.stop_libvirtd()
            try:
                return send()
            finally:
                test_libvirtd_restart.start_libvirtd()
        return self._patch_qmp(command, around, nth)

    def _started_and_copied(self, seed: int) -> _Case:
        src = self.make_volume('src', seed=seed)
        dst = self.make_volume('dst', random_fill=False)
        instance = self.spawn({base.DEVICE: src})
        writer = self.writer(instance, src)
        writer.write_some(2)
        migration = self.handle(instance, src)
        self.driver.volume_migration_start(None, instance, migration)
        src_at_start = src.sha256()
        writer.write_some(3)
        lv_fixtures.copy_volume(src.uri, dst.uri)
        migration.dst_connection_info = dst.connection_info
        return _Case(src, dst, instance, writer, migration, src_at_start)

    def _marked(self, instance) -> set[str]:
        return config.rebased_targets(
            self.driver.host.get_guest(instance).get_xml_desc())

    def _finish_on_dst(self, case: _Case) -> None:
        src, dst, instance, writer, migration, src_at_start = case
        self.assertEqual('rebase', migration.driver_data['complete_mode'])
        self.assertQemuReleased(instance, src)
        writer.write_some(2)
        self.driver.volume_migration_complete_finish(None, instance,
                                                     migration)
        writer.write_some(2)
        self.assertEqual(src_at_start, src.sha256())
        self.assertEqual(writer.sha256(), dst.sha256())
        self.assertDiskOn(instance, dst)
        self.assertQemuReleased(instance, src)
        self.assertNoOverlays()
        self.assertEqual(set(), self._marked(instance))

    def _complete_with_a_restart_after(self, command: str,
                                       seed: int) -> None:
        case = self._started_and_copied(seed=seed)
        seen = self._restart_after(command)
        self.driver.volume_migration_complete(None, case.instance,
                                              case.migration)
        self.assertEqual([command], seen)
        self._finish_on_dst(case)

    def test_restart_before_the_guest_reads_dst(self):
        """After dst's first node is added: libvirt reloads, QEMU has more."""
        self._complete_with_a_restart_after('blockdev-add', seed=34)

    def test_restart_once_the_guest_reads_dst(self):
        """After the reopen, before src is closed."""
        self._complete_with_a_restart_after('blockdev-reopen', seed=35)

    def test_libvirtd_gone_while_src_is_closed(self):
        """complete fails after the switch; reconcile finishes closing src.

        As the manager does when complete raises (``_complete_sync_failed``):
        the driver's reconcile reads QEMU's graph, finds the overlay on dst
        and closes src, so the finish can run and Cinder may release src.
        """
        case = self._started_and_copied(seed=36)
        instance, migration = case.instance, case.migration
        seen = self._down_during('blockdev-del')
        # Known dead (no reconnection) or lost during the call.
        self.assertRaises(
            (lv_exc.LibvirtConnectionError, lv_exc.QMPCommandFailed),
            self.driver.volume_migration_complete, None, instance,
            migration)
        self.assertEqual(['blockdev-del'], seen)
        self.assertEqual(rebase.STEP_REBASE_SWITCHED,
                         migration.driver_data['step'])
        state = self.driver.volume_migration_reconcile(None, instance,
                                                       migration)
        self.assertEqual(driver.ReconcileState.SWITCHED_TO_DST, state)
        self._finish_on_dst(case)

    def test_libvirtd_gone_before_the_guest_reads_dst(self):
        """complete fails before the reopen: still on src, retry works.

        libvirtd goes away as dst's format node is added (its storage
        node is there). Reconcile (as the manager runs it when complete
        raises) finds the overlay on src and drops the switch's temporary
        node; Cinder's second complete switches.
        """
        case = self._started_and_copied(seed=37)
        instance, migration = case.instance, case.migration
        seen = self._down_during('blockdev-add', nth=2)
        try:
            self.driver.volume_migration_complete(None, instance, migration)
        except (lv_exc.LibvirtConnectionError, lv_exc.QMPCommandFailed):
            state = self.driver.volume_migration_reconcile(None, instance,
                                                           migration)
            self.assertEqual(driver.ReconcileState.OVERLAY_ON_SRC, state)
            self.assertEqual(migration.driver_data['src_nodes'][0],
                             self.overlay_backing_node(instance))
            nodes = blockdev.QemuMonitor(
                self.driver.host.get_guest(instance)).block_graph().nodes
            self.assertFalse({rebase.TMP_FORMAT, rebase.TMP_STORAGE}
                             & set(nodes))
            self.assertEqual(set(), self._marked(instance))   # XML true
            self.driver.volume_migration_complete(None, instance, migration)
        else:
            # The failure was QMP's: the switch rolled back, two_step.
            self.assertIn('rebase_fallback', migration.driver_data)
        self.assertEqual(['blockdev-add'], seen)
        self._finish_on_dst(case)
