"""BlockDevice maps its keyword arguments onto libvirt flags."""

import contextlib
from unittest import mock

import libvirt

from nova_volmig.virt.libvirt import guest as lv_guest
from tests import base


class TestBlockDeviceCopy(base.TestCase):

    def _device(self):
        dom = mock.Mock(spec=libvirt.virDomain)
        guest = mock.Mock(spec=lv_guest.Guest)
        guest.uuid = 'u'
        guest.host.block_graph_lock.return_value = contextlib.nullcontext()
        guest._write.side_effect = lambda func: func(dom)
        return lv_guest.BlockDevice(guest, 'vdb'), dom

    def test_complete_copy_flags(self):
        device, dom = self._device()
        device.copy('<disk/>', shallow=True, reuse_ext=True, transient=True,
                    synchronous_writes=True)
        dom.blockCopy.assert_called_once_with(
            'vdb', '<disk/>', {},
            libvirt.VIR_DOMAIN_BLOCK_COPY_SHALLOW
            | libvirt.VIR_DOMAIN_BLOCK_COPY_REUSE_EXT
            | libvirt.VIR_DOMAIN_BLOCK_COPY_TRANSIENT_JOB
            | libvirt.VIR_DOMAIN_BLOCK_COPY_SYNCHRONOUS_WRITES)

    def test_legacy_copy_flags_and_bandwidth(self):
        device, dom = self._device()
        device.copy('<disk/>', reuse_ext=True, transient=True,
                    bandwidth=1 << 20)
        dom.blockCopy.assert_called_once_with(
            'vdb', '<disk/>',
            {libvirt.VIR_DOMAIN_BLOCK_COPY_BANDWIDTH: 1 << 20},
            libvirt.VIR_DOMAIN_BLOCK_COPY_REUSE_EXT
            | libvirt.VIR_DOMAIN_BLOCK_COPY_TRANSIENT_JOB)

    def test_granularity_is_a_typed_parameter(self):
        device, dom = self._device()
        device.copy('<disk/>', shallow=True, granularity=4096)
        dom.blockCopy.assert_called_once_with(
            'vdb', '<disk/>',
            {libvirt.VIR_DOMAIN_BLOCK_COPY_GRANULARITY: 4096},
            libvirt.VIR_DOMAIN_BLOCK_COPY_SHALLOW)

    def test_commit_bandwidth_in_bytes(self):
        device, dom = self._device()
        device.commit(active=True, bandwidth=3 << 20)
        dom.blockCommit.assert_called_once_with(
            'vdb', None, None, 3 << 20,
            libvirt.VIR_DOMAIN_BLOCK_COMMIT_ACTIVE
            | libvirt.VIR_DOMAIN_BLOCK_COMMIT_BANDWIDTH_BYTES)

    def test_commit_unlimited(self):
        device, dom = self._device()
        device.commit(active=True)
        dom.blockCommit.assert_called_once_with(
            'vdb', None, None, 0, libvirt.VIR_DOMAIN_BLOCK_COMMIT_ACTIVE)


class TestPausedOnIOError(base.TestCase):
    """A full overlay directory pauses the guest (QEMU's ENOSPC policy)."""

    def _guest(self, state, reason):
        dom = mock.Mock(spec=libvirt.virDomain)
        dom.state.return_value = [state, reason]
        dom.isActive.return_value = 1
        host = mock.Mock(generation=1)
        host.call.side_effect = lambda func, idempotent: func()
        guest = lv_guest.Guest(host, 'u', dom)
        return guest, dom

    def test_only_an_io_error_pause_counts(self):
        self.assertTrue(self._guest(libvirt.VIR_DOMAIN_PAUSED,
                                    libvirt.VIR_DOMAIN_PAUSED_IOERROR)[0]
                        .is_paused_on_io_error())
        for state, reason in (
                (libvirt.VIR_DOMAIN_PAUSED, libvirt.VIR_DOMAIN_PAUSED_USER),
                (libvirt.VIR_DOMAIN_RUNNING,
                 libvirt.VIR_DOMAIN_RUNNING_UNPAUSED)):
            self.assertFalse(self._guest(state, reason)[0]
                             .is_paused_on_io_error())

    def test_migration_end_resumes_only_an_io_error_pause(self):
        from nova_volmig.virt.libvirt import volume_migration

        migration = mock.Mock(src_attachment_id='a')
        resume = volume_migration.LibvirtVolumeMigrator.\
            _resume_if_paused_on_io_error
        guest, dom = self._guest(libvirt.VIR_DOMAIN_PAUSED,
                                 libvirt.VIR_DOMAIN_PAUSED_IOERROR)
        resume(guest, migration)
        dom.resume.assert_called_once_with()
        guest, dom = self._guest(libvirt.VIR_DOMAIN_PAUSED,
                                 libvirt.VIR_DOMAIN_PAUSED_USER)
        resume(guest, migration)
        dom.resume.assert_not_called()
