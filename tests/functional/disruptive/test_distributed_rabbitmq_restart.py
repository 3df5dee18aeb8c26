"""RabbitMQ restarted under the running distributed deployment.

Every service loses its broker connections (and the broker its
non-durable queues) in the middle of a migration; they reconnect by
themselves, the migration completes, and the next one works end to end,
notifications included. When this machinery started
RabbitMQ, the node is stopped by its PID and started again; a node someone
else runs only has its application restarted (``services.RabbitMQ``).
"""

from __future__ import annotations

import os

from tests.functional.distributed import fixtures as dist
from tests.functional.fixtures import libvirt as lv
from volmig_distributed import services

MiB = 1024 * 1024


class TestRabbitMQRestart(dist.DistributedTestCase):

    # The first migration's copy (about 8 MiB of data, limited per
    # request, 3.72) outlasts a restart of the broker: a node restart took
    # 11 s on a slow 2-core host, and a 1 MiB/s copy had ended before it.
    RESTART_COPY_BANDWIDTH = 384 * 1024

    def migrate(self, seed: int, during_copy=None) -> dict:
        """A new-flow migration of a running instance's volume, checked."""
        server, volume, writer = self.attached_volume(seed=seed)
        src_path = self.cloud.volume_path(volume)
        writer.write_some(3)
        options = ({'bandwidth': self.RESTART_COPY_BANDWIDTH}
                   if during_copy is not None else {})
        self.cloud.migrate(volume['id'], '%s@array1#pool2' % dist.CINDER_HOST,
                           **options)
        if during_copy is not None:
            lv.wait_for(lambda: self.cloud.volume(volume['id'])
                        ['migration_status'] == 'migrating', what='copying')
            during_copy()
            self.assertEqual('migrating', self.cloud.volume(volume['id'])
                             ['migration_status'])
        done = self.cloud.wait_migration(volume['id'])
        self.assertEqual('success', done['migration_status'])
        writer.write_some(2)
        self.assertEqual(writer.sha256(),
                         lv.sha256_file(self.cloud.volume_path(done)))
        self.assertFalse(os.path.exists(src_path))
        [record] = self.cloud.migrations(server['id'])
        self.assertEqual('completed', record['status'])
        return server

    def restart_broker(self) -> None:
        broker = services.RabbitMQ()
        old_pid = broker.running_pid()
        broker.restart()
        if broker.owned():
            self.assertNotEqual(old_pid, broker.running_pid())
        # Nothing restarted but the broker.
        for name in self.deployment.services:
            self.assertTrue(self.deployment.is_running(name), name)

    def test_services_reconnect_and_migrations_work(self):
        # Restarted between Nova's start and complete: complete (an RPC
        # call) goes over the connections the services re-establish.
        first = self.migrate(seed=31, during_copy=self.restart_broker)
        # And the next migration works end to end, notifications included.
        notes = self.listen()
        second = self.migrate(seed=32)
        notes.wait_for('instance.volume_migration.end', where=lambda m: (
            m['payload']['nova_object.data']['instance_uuid'] ==
            second['id'] and
            m['payload']['nova_object.data']['action'] == 'complete'))
        # Casts too.
        self.cloud.nova.post('/servers/%s/action' % first['id'],
                             {'os-stop': None}, expect=202)
        self.cloud.wait_server(first['id'], 'SHUTOFF')
