"""Complete by live rebase through both REST APIs (issue 10).

Cinder's migration flow drives Nova with ``[libvirt]
volume_migration_complete_mode = rebase``: on NBD volumes complete
switches the running guest's overlay onto dst and returns, src is
deleted, and Nova's record says how complete ran; on file volumes the
driver falls back to two_step (libvirt would stat and relabel src, which
Cinder deletes) and the record says why. Data by sha256 (DESIGN 6,
invariant 2).
"""

from __future__ import annotations

import os

from tests.functional.e2e import test_new_flow as e2e
from tests.functional.fixtures import libvirt as lv

POOL2 = 'aio@array1#pool2'


class _RebaseComplete(e2e.E2ETestCase):

    nova_conf = {'libvirt': {'volume_migration_complete_mode': 'rebase'}}

    def migrate(self):
        server, volume, writer = self.attached_volume(seed=31)
        src_path = self.aio.volume_path(volume)
        writer.write_some(3)
        self.aio.migrate(volume['id'], POOL2)
        done = self.aio.wait_migration(volume['id'])
        self.assertEqual('success', done['migration_status'])
        self.assertEqual(POOL2, done['os-vol-host-attr:host'])
        [record] = self.aio.wait_nova_settled(server['id'])
        self.assertEqual('completed', record['status'])
        self.assertFalse(os.path.exists(src_path))
        self.assertQemuDoesNotHold(server, src_path)
        writer.write_some(2)  # the guest goes on, on dst
        self.assertEqual(writer.sha256(),
                         lv.sha256_file(self.aio.volume_path(done)))
        return record


class TestRebaseCompleteNBD(_RebaseComplete):

    volume_protocol = 'nbd'

    def test_switched_live_and_the_record_says_so(self):
        record = self.migrate()
        self.assertEqual(('rebase', None), (record['complete_mode'],
                                            record['rebase_fallback']))


class TestRebaseFallbackOnFiles(_RebaseComplete):

    def test_two_step_and_the_record_says_why(self):
        record = self.migrate()
        self.assertEqual('two_step', record['complete_mode'])
        self.assertIn('local', record['rebase_fallback'])
