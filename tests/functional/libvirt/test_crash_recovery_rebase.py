"""Invariant 5 with ``complete_mode = rebase``: SIGKILL at each step.

Every crash test of ``test_crash_recovery`` runs again with the child
completing by live rebase, plus the rebase-specific points: killed once
the switch is recorded but before it is made, and between the switch
and complete's return. Reconcile reads QEMU's real node graph.
"""

from __future__ import annotations

from nova_volmig.virt import driver as virt_driver
from nova_volmig.virt.libvirt import rebase
from nova_volmig.virt.libvirt import volume_migration
from tests.functional.fixtures import libvirt as lv_fixtures
from tests.functional.libvirt import base
from tests.functional.libvirt import test_crash_recovery

State = virt_driver.ReconcileState


class _RebaseCrashRecovery(test_crash_recovery._CrashRecovery):

    def _child_flags(self) -> dict[str, str]:
        flags = super()._child_flags()
        flags['libvirt.volume_migration_complete_mode'] = 'rebase'
        return flags

    def test_killed_before_the_switch(self):
        self._started()
        self.writer.write_some(4)
        self._copy_and_set_dst()
        self.assertEqual(rebase.STEP_REBASE_SWITCH, self._crash(
            'complete', pause_at=rebase.STEP_REBASE_SWITCH))
        self.writer.write_some(2)
        self._reconcile(State.OVERLAY_ON_SRC)
        self.assertEqual(self.src_at_start, self.src.sha256())
        self.proc.run('complete')                  # the retried complete
        self.assertEqual('rebase', self._handle().driver_data[
            'complete_mode'])
        self.assertQemuReleased(self.instance, self.src)
        self._finish_complete()

    def test_killed_during_complete_copy(self):
        """A rebase complete runs no copy job: there is none to kill in."""
        self._started()
        self.writer.write_some(4)
        self._copy_and_set_dst()
        self.proc.start('complete',
                        pause_in_job=volume_migration.STEP_COMPLETE_COPY)
        self.assertEqual(0, self.proc.wait(120))
        self.assertNotIn('paused', self.proc.read_log())
        self.assertEqual(volume_migration.STEP_SWITCHED,
                         self._handle().driver_data['step'])
        self.assertQemuReleased(self.instance, self.src)
        self._finish_complete()

    def test_killed_after_the_switch_before_src_closed(self):
        """The guest reads dst, src's nodes are still open: finished."""
        self._started()
        self.writer.write_some(4)
        self._copy_and_set_dst()
        self._crash('complete', pause_at=rebase.STEP_REBASE_SWITCHED)
        self.assertQemuUses(self.instance, self.dst)
        self.assertQemuUses(self.instance, self.src)   # not closed yet
        self.writer.write_some(2)
        self._reconcile(State.SWITCHED_TO_DST)
        self.assertQemuReleased(self.instance, self.src)
        self._finish_complete()

    def test_killed_between_switch_and_return(self):
        self._started()
        self.writer.write_some(4)
        self._copy_and_set_dst()
        self._crash('complete', pause_at=volume_migration.STEP_SWITCHED)
        self.assertQemuReleased(self.instance, self.src)
        self.writer.write_some(2)
        self._reconcile(State.SWITCHED_TO_DST)
        self.assertQemuReleased(self.instance, self.src)
        self._finish_complete()

    def test_killed_in_the_finish_before_dst_is_named(self):
        """Killed in the finish before dst got libvirt's node names.

        complete returned with dst under the switch's temporary names;
        the next finish names it.
        """
        self._started()
        self.writer.write_some(4)
        self._copy_and_set_dst()
        self.proc.run('complete')
        self.assertEqual(rebase.TMP_FORMAT,
                         self.overlay_backing_node(self.instance))
        self.writer.write_some(2)
        self._crash('complete_finish',
                    pause_at=volume_migration.STEP_COMPLETE_COMMIT)
        self.assertEqual(rebase.TMP_FORMAT,
                         self.overlay_backing_node(self.instance))
        self.assertQemuReleased(self.instance, self.src)
        self.writer.write_some(2)
        self._reconcile(State.SWITCHED_TO_DST)
        self._finish_complete()

    def test_killed_before_the_pivot_is_recorded(self):
        """The commit pivoted, the compute died before saving that."""
        self._started()
        self.writer.write_some(4)
        self._copy_and_set_dst()
        self.proc.run('complete')
        self.writer.write_some(2)
        self._crash('complete_finish',
                    pause_in_job=volume_migration.STEP_COMPLETE_COMMIT)
        # Pivot as the dead compute was about to: the world is then
        # exactly that of a kill between the pivot and its record.
        guest = self.driver.host.get_guest(self.instance)
        lv_fixtures.wait_for(lambda: guest.get_disk('vdb').mirror_ready,
                             timeout=60, what='the commit to get ready')
        guest.get_block_device('vdb').abort_job(pivot=True)
        self.assertEqual(volume_migration.STEP_COMPLETE_COMMIT,
                         self._handle().driver_data['step'])
        self.writer.write_some(2)
        self._reconcile(State.ON_DST)
        self._finish_complete()


# No file variant: a file volume's rebase complete falls back to
# two_step (test_rebase.FileRebaseTest), whose crashes test_crash_recovery
# covers.


class NBDRebaseCrashRecoveryTest(_RebaseCrashRecovery,
                                 base.LibvirtFunctionalTestCase):
    volume_kind = 'nbd'
