"""Concurrent writers on the embedded SQLite default (issue 16 item 9).

48 read-then-write transactions, 16 at a time, on a SQLite file: with a
deferred BEGIN most of them failed at once with "database is locked" (the
lock upgrade of a stale WAL snapshot is not waited out by busy_timeout).
"""

from __future__ import annotations

import concurrent.futures
import json
import sqlite3
import threading
import uuid

from oslo_db import options as db_options
import sqlalchemy
import webob

from cinder_driver_side import context as cinder_context
from cinder_driver_side.db import api as cinder_db
from cinder_driver_side.db import migration as cinder_migration
from cinder_driver_side import service
from nova_volmig import context as nova_context
from nova_volmig.db import api as nova_db
from nova_volmig.db import engine as nova_db_engine
from nova_volmig.db import migration as nova_migration
from tests import base

WRITES = 48
PARALLEL = 16


def _run_all(fn, count: int = WRITES) -> list[str]:
    """Run ``fn(i)`` for i < count, PARALLEL at a time; the failures."""
    with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
        futures = [pool.submit(fn, i) for i in range(count)]
    errors = []
    for future in futures:
        try:
            future.result()
        except Exception as e:  # noqa: BLE001 - reported by the test
            errors.append(repr(e))
    return errors


class CinderSQLiteWritesTest(base.TestCase):

    def setUp(self):
        super().setUp()
        conf = service.aio_config(self.state_path, port=0)
        db_options.set_defaults(conf)
        self.db = cinder_db.Connection(conf)
        self.addCleanup(self.db.dispose)
        cinder_migration.db_sync(self.db)
        self.ctx = cinder_context.get_admin_context()

    def test_concurrent_type_creates_all_succeed(self):
        def create(i):
            self.db.volume_type_create(self.ctx, 'type-%d' % i,
                                       {'k%d' % i: 'v', 'other': 'x'})

        self.assertEqual([], _run_all(create))
        self.assertEqual(WRITES, len(self.db.volume_type_get_all(self.ctx)))

    def test_concurrent_read_then_write_updates(self):
        vtype = self.db.volume_type_create(self.ctx, 't')

        def update(i):
            self.db.extra_specs_update(self.ctx, vtype.id,
                                       {'key-%d' % (i % 8): str(i)})

        self.assertEqual([], _run_all(update))
        self.assertEqual(8, len(self.db.extra_specs_get(self.ctx, vtype.id)))

    def test_wal_without_an_fsync_per_commit(self):
        # synchronous NORMAL (1) in WAL: a commit does not hold the write
        # lock across an fsync (volmig_common.sqlite); FULL is 2.
        with self.db.engine.connect() as conn:
            self.assertEqual('wal', conn.exec_driver_sql(
                'PRAGMA journal_mode').scalar())
            self.assertEqual(1, conn.exec_driver_sql(
                'PRAGMA synchronous').scalar())

    def test_connections_are_kept_open(self):
        # oslo.db's NullPool opened and closed a connection per
        # transaction (and checkpointed the WAL at each last close).
        self.db.volume_type_create(self.ctx, 'a')
        seen = set()
        for engine in (self.db.engine,
                       self.db._manager.reader.get_engine()):
            self.assertIsInstance(engine.pool, sqlalchemy.pool.QueuePool)
            for _ in range(3):
                with engine.connect() as conn:
                    seen.add((engine, id(conn.connection.dbapi_connection)))
                    # the pooled connection kept its pragmas
                    self.assertEqual(1, conn.exec_driver_sql(
                        'PRAGMA synchronous').scalar())
        self.assertEqual(2, len(seen))
        names = [t.name for t in self.db.volume_type_get_all(self.ctx)]
        self.db.volume_type_create(self.ctx, 'b')
        self.assertEqual(len(names) + 1,
                         len(self.db.volume_type_get_all(self.ctx)))

    def test_no_eventlet_yield_at_checkin(self):
        # oslo.db's thread_checkin listener (time.sleep(0)) is for
        # eventlet; with native threads it gave the GIL away.
        for engine in (self.db.engine,
                       self.db._manager.reader.get_engine()):
            names = [getattr(fn, '__name__', '')
                     for fn in engine.pool.dispatch.checkin]
            self.assertNotIn('_thread_yield', names)

    def test_reads_do_not_wait_for_the_write_lock(self):
        # A writer holds the lock (as a long commit would): a read reads
        # its WAL snapshot at once instead of queueing behind it.
        self.db.volume_type_create(self.ctx, 'seen')
        path = self.db.connection[len('sqlite:///'):]
        holder = sqlite3.connect(path, isolation_level=None)
        self.addCleanup(holder.close)
        holder.execute('BEGIN IMMEDIATE')
        names = []
        reader = threading.Thread(target=lambda: names.extend(
            t.name for t in self.db.volume_type_get_all(self.ctx)))
        reader.start()
        reader.join(5)
        alive = reader.is_alive()
        holder.execute('ROLLBACK')
        reader.join()
        self.assertFalse(alive, 'the read waited for the write lock')
        self.assertIn('seen', names)


class CinderAPISQLiteWritesTest(base.TestCase):
    """The reported case: POST /types through the API, 16 at a time."""

    def test_concurrent_type_creates_over_the_api(self):
        cconf = service.aio_config(self.state_path, port=0)
        svc = service.CinderService(cconf)
        svc.start()
        self.addCleanup(svc.stop)

        def create(i):
            req = webob.Request.blank(
                '/v3/p1/types', method='POST',
                headers={'X-Auth-Token': 'admin:p1',
                         'Content-Type': 'application/json'})
            req.body = json.dumps(
                {'volume_type': {'name': 'api-type-%d' % i}}).encode()
            response = req.get_response(svc.app)
            if response.status_int != 200:
                raise AssertionError('%s %s' % (response.status,
                                                response.text))

        self.assertEqual([], _run_all(create))


class NovaSQLiteWritesTest(base.TestCase):

    def setUp(self):
        super().setUp()
        nova_db.configure('sqlite:///%s' % self.state_file('nova.sqlite'))
        self.addCleanup(nova_db.dispose)
        nova_migration.db_sync()

    def test_concurrent_instance_and_action_writes(self):
        def write(i):
            ctx = nova_context.RequestContext(
                user_id='u', project_id='p', is_admin=True)
            instance_uuid = str(uuid.uuid4())
            nova_db.instance_create(ctx, {
                'uuid': instance_uuid, 'project_id': 'p', 'user_id': 'u',
                'vm_state': 'active', 'display_name': 'vm-%d' % i})
            nova_db.action_start(ctx, instance_uuid, 'attach_volume')
            # Reads the action, then inserts: the lock-upgrade case.
            nova_db.action_event_start(ctx, instance_uuid, 'compute_attach')
            nova_db.action_event_finish(ctx, instance_uuid, 'compute_attach',
                                        'Success')

        self.assertEqual([], _run_all(write))
        with nova_db_engine.get_engine().connect() as conn:
            self.assertEqual(1, conn.exec_driver_sql(
                'PRAGMA synchronous').scalar())
        ctx = nova_context.get_admin_context()
        self.assertEqual(WRITES, len(nova_db.instance_get_all(
            ctx, all_tenants=True)))
