"""Fixtures for the Nova side: database, RPC, notifications, fake Cinder."""

from __future__ import annotations

import copy
import threading

import fixtures
import oslo_messaging as messaging
from oslo_messaging.notify import _impl_test as test_notifier
from oslo_utils import uuidutils

from nova_volmig import context as nova_context
from nova_volmig.db import api as db
from nova_volmig.db import migration
from nova_volmig import exception
from nova_volmig import rpc
from nova_volmig import service
from nova_volmig.volume import cinder
from volmig_common import inproc_transport
from volmig_common import polling


class Database(fixtures.Fixture):
    """A fresh SQLite *file* database under the test's state path."""

    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def _setUp(self):
        db.configure('sqlite:///%s' % self.path)
        migration.db_sync()
        self.addCleanup(db.dispose)


class PostgreSQLDatabase(Database):
    """The same on PostgreSQL: ``connection`` names an empty database.

    The caller creates and drops the database itself (see
    ``tests/functional/distributed/test_postgresql.py``).
    """

    def __init__(self, connection: str):
        super().__init__(path=None)
        self.connection = connection

    def _setUp(self):
        db.configure(self.connection)
        migration.db_sync()
        self.addCleanup(db.dispose)


class RPC(fixtures.Fixture):
    """The in-process volmig-inproc:/ transport, and captured notifications."""

    def _setUp(self):
        rpc.cleanup()
        rpc.init(url=inproc_transport.URL)
        rpc.NOTIFIER = messaging.Notifier(
            rpc.NOTIFICATION_TRANSPORT, driver='test',
            serializer=rpc.RequestContextSerializer(),
            topics=['versioned_notifications'])
        test_notifier.reset()
        self.addCleanup(rpc.cleanup)
        self.addCleanup(test_notifier.reset)

    @staticmethod
    def notifications(prefix: str = 'instance.volume_migration'
                      ) -> list[dict]:
        # Each entry is (context, message, priority, retry).
        return [n[1] for n in list(test_notifier.NOTIFICATIONS)
                if n[1]['event_type'].startswith(prefix)]

    def event_types(self, prefix: str = 'instance.volume_migration'
                    ) -> list[str]:
        return [n['event_type'] for n in self.notifications(prefix)]


class FakeCinder(cinder.API):
    """In-memory stand-in for the Cinder client (unit tests only)."""

    def __init__(self):
        self.volumes: dict[str, dict] = {}
        self.attachments: dict[str, dict] = {}
        self.completions: list[tuple[str, str, bool]] = []
        self.lock = threading.Lock()

    def create_volume(self, multiattach: bool = False,
                      migration_status: str | None = None) -> str:
        volume_id = uuidutils.generate_uuid()
        self.volumes[volume_id] = {
            'id': volume_id, 'multiattach': multiattach,
            'migration_status': migration_status, 'attachments': [],
            'path': '/fake/volume-%s' % volume_id}
        return volume_id

    def create_attachment(self, volume_id: str, instance_uuid: str) -> str:
        """What Cinder's migration flow does for dst (with a connector)."""
        att = self.attachment_create(None, volume_id, instance_uuid,
                                     {'host': 'fake-host'})
        return att['id']

    def get(self, context, volume_id):
        try:
            return copy.deepcopy(self.volumes[volume_id])
        except KeyError:
            raise exception.VolumeNotFound(volume_id=volume_id)

    def _connection_info(self, volume_id):
        return {'driver_volume_type': 'file',
                'data': {'device_path': self.volumes[volume_id]['path'],
                         'format': 'raw'}}

    def attachment_create(self, context, volume_id, instance_uuid,
                          connector=None, mode='rw'):
        self.get(context, volume_id)
        with self.lock:
            att_id = uuidutils.generate_uuid()
            att = {'id': att_id, 'volume_id': volume_id,
                   'instance': instance_uuid, 'status': 'reserved',
                   'connection_info': None}
            if connector is not None:
                att['connection_info'] = self._connection_info(volume_id)
                att['status'] = 'attaching'
            self.attachments[att_id] = att
            self.volumes[volume_id]['attachments'].append(
                {'attachment_id': att_id, 'server_id': instance_uuid})
            return copy.deepcopy(att)

    def attachment_get(self, context, attachment_id):
        try:
            return copy.deepcopy(self.attachments[attachment_id])
        except KeyError:
            raise exception.AttachmentNotFound(attachment_id=attachment_id)

    def attachment_update(self, context, attachment_id, connector):
        att = self.attachments.get(attachment_id)
        if att is None:
            raise exception.AttachmentNotFound(attachment_id=attachment_id)
        att['connection_info'] = self._connection_info(att['volume_id'])
        att['status'] = 'attaching'
        return copy.deepcopy(att)

    def attachment_complete(self, context, attachment_id):
        self.attachments[attachment_id]['status'] = 'attached'

    def attachment_delete(self, context, attachment_id):
        with self.lock:
            att = self.attachments.pop(attachment_id, None)
            if att is None:
                return
            vol = self.volumes.get(att['volume_id'])
            if vol:
                vol['attachments'] = [a for a in vol['attachments']
                                      if a['attachment_id'] != attachment_id]

    def migrate_volume_completion(self, context, old_volume_id,
                                  new_volume_id, error=False):
        self.completions.append((old_volume_id, new_volume_id, error))
        return new_volume_id if error else old_volume_id


class ComputeHost(fixtures.Fixture):
    """A ComputeService on the fake transport with the given driver."""

    def __init__(self, host: str, driver, volume_api: cinder.API):
        super().__init__()
        self.host = host
        self.driver = driver
        self.volume_api = volume_api

    def _setUp(self):
        self.service = service.ComputeService(self.host, self.driver)
        self.service.manager.volume_api = self.volume_api
        self.service.start()
        self.addCleanup(self.service.stop, 5)

    @property
    def manager(self):
        return self.service.manager


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.05,
             what: str = 'condition'):
    """Poll ``predicate`` until truthy; fail with ``what`` on timeout."""
    return polling.wait_for(predicate, timeout, interval, what,
                            error=AssertionError)


def admin_context():
    return nova_context.RequestContext(user_id='admin', project_id='admin',
                                       roles=['admin'])


def user_context(project: str = 'project-a', user: str = 'alice',
                 roles=('member',)):
    return nova_context.RequestContext(user_id=user, project_id=project,
                                       roles=list(roles))
