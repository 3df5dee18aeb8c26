"""Instance actions and the error notification of volume migrations.

The distributed deployment (API, compute-live on libvirt, Cinder over
RabbitMQ and PostgreSQL) is driven through Nova's volume-migration API as
Cinder calls it: start, a complete that fails on the compute host (its dst
volume's file is gone, so Cinder cannot connect it), cancel, then start
and complete again. The instance actions and their events are read over
REST (``GET /servers/{id}/os-instance-actions[/{request_id}]``) and
``instance.volume_migration.error`` is read off the broker.
"""

from __future__ import annotations

import os

from tests.functional.distributed import fixtures as dist
from tests.functional.fixtures import libvirt as lv


class TestInstanceActions(dist.DistributedTestCase):

    def _new_dst(self, server_id: str, size: int) -> tuple[str, str]:
        dst = self.cloud.create_volume(size_bytes=size)
        attachment = self.cloud.create_attachment(dst['id'], server_id)
        return self.cloud.volume_path(dst), attachment['id']

    def actions(self, server_id: str) -> list[dict]:
        return self.cloud.nova.get(
            '/servers/%s/os-instance-actions' % server_id,
            expect=200).json()['instanceActions']

    def action(self, server_id: str, request_id: str) -> dict:
        return self.cloud.nova.get(
            '/servers/%s/os-instance-actions/%s' % (server_id, request_id),
            expect=200).json()['instanceAction']

    def finished_action(self, server_id: str, request_id: str) -> dict:
        """The action once every event of it has a result."""
        def finished():
            action = self.action(server_id, request_id)
            events = action.get('events') or []
            return action if events and all(
                e['result'] for e in events) else None
        return lv.wait_for(finished, timeout=60, interval=0.3,
                           what='action %s finished' % request_id)

    def test_start_failed_complete_cancel_complete(self):
        notes = self.listen()
        server, volume, writer = self.attached_volume(seed=21)
        sid = server['id']
        src_path = self.cloud.volume_path(volume)
        src = self.cloud.attachment_id(sid, volume['id'])
        size = os.path.getsize(src_path)
        writer.write_some(3)
        requests = {}

        resp = self.cloud.start_migration(src)
        self.assertEqual(201, resp.status_code, resp.text)
        requests['start'] = resp.headers['x-openstack-request-id']
        writer.write_some(2)

        # complete onto a dst whose file is gone: Cinder cannot connect
        # it for the compute host, so complete fails there, before any
        # switch, and the migration is running again.
        dst_path, dst = self._new_dst(sid, size)
        lv.copy_volume(src_path, dst_path)
        os.rename(dst_path, dst_path + '.gone')
        self.addCleanup(lambda: os.path.exists(dst_path + '.gone') and
                        os.rename(dst_path + '.gone', dst_path))
        resp = self.cloud.complete_migration(src, dst)
        requests['failed complete'] = resp.headers['x-openstack-request-id']
        record = lv.wait_for(
            lambda: (lambda m: m if m['status'] == 'running' and m['error']
                     else None)(self.cloud.migration(src)),
            timeout=60, what='complete failed and the migration runs')
        self.assertIn('missing', record['error'])
        writer.write_some(2)

        resp = self.cloud.cancel_migration(src)
        self.assertEqual(202, resp.status_code, resp.text)
        requests['cancel'] = resp.headers['x-openstack-request-id']
        self.cloud.wait_migration_status(src, 'cancelled')
        self.cloud.wait_server(sid, 'ACTIVE')
        writer.write_some(2)
        self.assertEqual(writer.sha256(), lv.sha256_file(src_path))

        # Again, and complete for real this time.
        resp = self.cloud.start_migration(src)
        self.assertEqual(201, resp.status_code, resp.text)
        requests['second start'] = resp.headers['x-openstack-request-id']
        dst_path, dst = self._new_dst(sid, size)
        lv.copy_volume(src_path, dst_path)
        resp = self.cloud.complete_migration(src, dst)
        self.assertEqual(202, resp.status_code, resp.text)
        requests['complete'] = resp.headers['x-openstack-request-id']
        self.cloud.wait_migration_status(src, 'completed')
        self.cloud.wait_server(sid, 'ACTIVE')
        writer.write_some(2)
        self.assertEqual(writer.sha256(), lv.sha256_file(dst_path))

        # The instance actions, over REST.
        listed = {a['request_id']: a for a in self.actions(sid)}
        expected = {
            'start': ('volume_migration_start',
                      [('compute_volume_migration_start', 'Success')]),
            'second start': ('volume_migration_start',
                             [('compute_volume_migration_start',
                               'Success')]),
            'failed complete': ('volume_migration_complete',
                                [('compute_volume_migration_complete',
                                  'Error')]),
            'cancel': ('volume_migration_cancel',
                       [('compute_volume_migration_cancel', 'Success')]),
            'complete': ('volume_migration_complete',
                         [('compute_volume_migration_complete',
                           'Success')]),
        }
        for what, (name, events) in expected.items():
            request_id = requests[what]
            self.assertIn(request_id, listed, what)
            self.assertEqual(name, listed[request_id]['action'], what)
            action = self.finished_action(sid, request_id)
            self.assertEqual(name, action['action'], what)
            seen = [(e['event'], e['result']) for e in action['events']]
            for event in events:
                self.assertIn(event, seen, what)
            if what == 'failed complete':
                self.assertIn('Cinder answered 500', action['message'])
                [failed] = [e for e in action['events']
                            if e['result'] == 'Error']
                self.assertIn('missing', failed.get('traceback') or
                              failed.get('details') or '', failed)
            else:
                self.assertEqual(
                    [], [e for e in action['events']
                         if e['result'] != 'Success'], what)

        # instance.volume_migration.error, off RabbitMQ.
        error = notes.wait_for(
            'instance.volume_migration.error', where=lambda m: (
                m['payload']['nova_object.data']['instance_uuid'] == sid))
        data = error['payload']['nova_object.data']
        self.assertEqual('ERROR', error['priority'])
        self.assertEqual('complete', data['action'])
        self.assertEqual(src, data['src_attachment_id'])
        self.assertIn('missing', str(data.get('fault')))
        self.assertEqual('nova-compute:%s' % dist.LIVE,
                         error['publisher_id'])
        mine = [(m['event_type'].rsplit('.', 1)[1],
                 m['payload']['nova_object.data']['action'])
                for m in notes.messages
                if m['payload']['nova_object.data'].get('instance_uuid')
                == sid and m['event_type'].startswith(
                    'instance.volume_migration.')]
        self.assertEqual([('start', 'start'), ('end', 'start'),
                          ('start', 'complete'), ('error', 'complete'),
                          ('start', 'cancel'), ('end', 'cancel'),
                          ('start', 'start'), ('end', 'start'),
                          ('start', 'complete'), ('end', 'complete')], mine)
