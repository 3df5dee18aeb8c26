"""RabbitMQ restarted under the running distributed deployment.

Every service loses its broker connections (and the broker its
non-durable queues); they reconnect by themselves, and the next migration
works end to end, notifications included. When this machinery started
RabbitMQ, the node is stopped by its PID and started again; a node someone
else runs only has its application restarted (``services.RabbitMQ``).
"""

from __future__ import annotations

import os

from tests.functional.distributed import fixtures as dist
from tests.functional.fixtures import libvirt as lv
from tools.volmig_distributed import services


class TestRabbitMQRestart(dist.DistributedTestCase):

    def migrate_and_check(self, seed: int) -> dict:
        """A full new-flow migration of a running instance's volume."""
        notes = self.listen()
        server, volume, writer = self.attached_volume(seed=seed)
        src_path = self.cloud.volume_path(volume)
        writer.write_some(3)
        self.cloud.migrate(volume['id'], '%s@array1#pool2' % dist.CINDER_HOST)
        done = self.cloud.wait_migration(volume['id'])
        self.assertEqual('success', done['migration_status'])
        writer.write_some(2)
        self.assertEqual(writer.sha256(),
                         lv.sha256_file(self.cloud.volume_path(done)))
        self.assertFalse(os.path.exists(src_path))
        notes.wait_for('instance.volume_migration.end', where=lambda m: (
            m['payload']['nova_object.data']['instance_uuid'] ==
            server['id'] and
            m['payload']['nova_object.data']['action'] == 'complete'))
        return server

    def test_services_reconnect_and_the_next_migration_works(self):
        before = self.migrate_and_check(seed=31)
        broker = services.RabbitMQ()
        old_pid = broker.running_pid()
        broker.restart()
        if broker.owned():
            self.assertNotEqual(old_pid, broker.running_pid())
        # Nothing restarted but the broker.
        for name in self.deployment.services:
            self.assertTrue(self.deployment.is_running(name), name)
        # RPC casts and calls, notifications: all over new connections.
        after = self.migrate_and_check(seed=32)
        self.cloud.nova.post('/servers/%s/action' % before['id'],
                             {'os-stop': None}, expect=202)
        self.cloud.wait_server(before['id'], 'SHUTOFF')
        self.assertEqual('ACTIVE', self.cloud.server(after['id'])['status'])
