"""os-migrate_volume_cancel and the queue on real libvirt + QEMU (issue 12).

Through the REST APIs of nova-volmig-aio: a copy slowed by the backend's
rate limit (``[DEFAULT] migration_copy_bandwidth``) is cancelled while
the guest writes through HMP; src is proven by sha256 against every
acknowledged write, dst must be gone. A queued migration is cancelled
before it starts; a cancel once Nova's complete runs answers 409.
"""

from __future__ import annotations

import os
import signal

from tests.functional.e2e import test_new_flow
from tests.functional.fixtures import libvirt as lv

MiB = test_new_flow.MiB
#: 24 MiB of data in each test volume: ~24 s of copy at this rate, time
#: enough to write and cancel while ``migrating``.
SLOW = 1 * MiB
POOL2 = 'aio@array1#pool2'


class CancelTestCase(test_new_flow.E2ETestCase):

    cinder_conf = {'DEFAULT': {'migration_copy_bandwidth': SLOW}}

    def cancel(self, volume_id: str, expect: int = 202):
        return self.aio.cinder.post(
            '/volumes/%s/action' % volume_id,
            {'os-migrate_volume_cancel': None}, expect=expect)

    def wait_status(self, volume_id: str, *statuses: str,
                    timeout: float = 120) -> dict:
        return lv.wait_for(
            lambda: (lambda v: v if v['migration_status'] in statuses
                     else None)(self.aio.volume(volume_id)),
            timeout=timeout, interval=0.1,
            what='volume %s %s' % (volume_id, statuses))

    def record(self, volume_id: str) -> dict:
        return self.aio.cinder.get('/volumes/%s/migration' % volume_id,
                                   expect=200).json()['migration']

    def pool2_files(self) -> list[str]:
        return os.listdir(os.path.join(self.aio.state_path, 'cinder',
                                       'arrays', 'array1', 'pool2'))

    def nova_records(self, server_id: str) -> list[dict]:
        return self.aio.nova.get('/os-volume-migrations?instance_uuid=%s'
                                 % server_id).json()['volume_migrations']


class TestCancelDuringCopy(CancelTestCase):

    def test_cancel_during_copy_keeps_src(self):
        server, volume, writer = self.attached_volume()
        src_path = self.aio.volume_path(volume)
        writer.write_some(5)
        self.aio.migrate(volume['id'], POOL2)
        self.wait_status(volume['id'], 'migrating')
        writer.write_some(3)       # lands in Nova's overlay
        self.assertIn('migrating', self.aio.volume(volume['id'])[
            'migration_status'])
        self.cancel(volume['id'])
        done = self.wait_status(volume['id'], 'cancelled', 'success',
                                'error')
        self.assertEqual('cancelled', done['migration_status'])
        self.assertEqual('in-use', done['status'])
        self.assertEqual('aio@array1#pool1', done['os-vol-host-attr:host'])
        record = self.record(volume['id'])
        self.assertEqual('cancelled', record['status'])
        self.assertIn('os-migrate_volume_cancel', record['error'])
        self.assertEqual(['cancelled'], [r['status'] for r in
                                         self.aio.wait_nova_settled(
                                             server['id'])])
        # dst and its attachment are gone; the guest keeps src.
        self.assertEqual([], self.pool2_files())
        self.aio.cinder.get('/attachments/%s' % record['dst_attachment_id'],
                            expect=404)
        self.assertEqual([record['src_attachment_id']],
                         [a['attachment_id'] for a in done['attachments']])
        writer.write_some(3)
        self.assertEqual(writer.sha256(), lv.sha256_file(src_path))
        # Cancelled is terminal: the volume migrates again at once.
        self.cancel(volume['id'], expect=400)


class TestCancelQueued(CancelTestCase):

    cinder_conf = {'DEFAULT': {'migration_copy_bandwidth': SLOW},
                   'array1': {'max_concurrent_migrations': 1}}

    def test_queued_migration_cancelled_never_starts(self):
        # A detached volume's slow copy takes array1's only slot.
        busy = self.aio.create_volume()
        test_new_flow.fill_volume(self.aio.volume_path(busy), seed=7)
        self.aio.migrate(busy['id'], POOL2)
        self.wait_status(busy['id'], 'migrating')
        server, volume, writer = self.attached_volume()
        src_path = self.aio.volume_path(volume)
        writer.write_some(4)
        self.aio.migrate(volume['id'], POOL2)
        queued = self.aio.volume(volume['id'])
        self.assertEqual('queued', queued['migration_status'])
        self.assertEqual(1, queued['migration_queue_position'])
        self.assertEqual(1, self.record(volume['id'])['queue_position'])
        writer.write_some(2)       # still on src: nothing started
        self.cancel(volume['id'])
        done = self.aio.volume(volume['id'])
        self.assertEqual('cancelled', done['migration_status'])
        self.assertEqual('in-use', done['status'])
        self.assertIsNone(self.record(volume['id'])['new_volume_id'])
        self.assertEqual([], self.nova_records(server['id']))
        writer.write_some(2)
        self.assertEqual(writer.sha256(), lv.sha256_file(src_path))
        # The running one was never disturbed; cancel it too.
        self.assertEqual('migrating', self.aio.volume(busy['id'])[
            'migration_status'])
        self.cancel(busy['id'])
        self.assertEqual('cancelled', self.wait_status(
            busy['id'], 'cancelled', 'success', 'error')[
            'migration_status'])
        self.assertEqual([], self.pool2_files())


class TestCancelTooLate(CancelTestCase):

    # The copy needs only to last long enough to be seen ``migrating``
    # (polled every 0.1 s): 3 s, not SLOW's 24 s.
    cinder_conf = {'DEFAULT': {'migration_copy_bandwidth': 8 * MiB}}

    def test_cancel_once_completing_is_409(self):
        # QEMU is stopped (SIGSTOP) during the copy, so Nova's complete,
        # which needs the guest's monitor, waits: Cinder stays
        # ``completing`` long enough to be asked.
        server, volume, writer = self.attached_volume()
        writer.write_some(3)
        self.aio.migrate(volume['id'], POOL2)
        self.wait_status(volume['id'], 'migrating')
        pid = lv.qemu_pid(lv.FakeInstance(
            uuid=server['id'], name=server['OS-EXT-SRV-ATTR:instance_name']))
        os.kill(pid, signal.SIGSTOP)
        try:
            self.wait_status(volume['id'], 'completing', 'success',
                             'error')
            answer = self.cancel(volume['id'], expect=409)
        finally:
            os.kill(pid, signal.SIGCONT)
        self.assertIn('can no longer be cancelled',
                      answer.json()['conflictingRequest']['message'])
        done = self.wait_status(volume['id'], 'success', 'error',
                                'cancelled')
        self.assertEqual('success', done['migration_status'])
        self.aio.wait_nova_settled(server['id'])
        writer.write_some(2)
        self.assertEqual(writer.sha256(),
                         lv.sha256_file(self.aio.volume_path(done)))
        self.cancel(volume['id'], expect=400)
