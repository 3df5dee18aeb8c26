"""The same schema migrations and the same compare-and-swaps on PostgreSQL.

Alembic upgrades a PostgreSQL and a SQLite database of each side to the
same schema, which is exactly the models'; the unit tests' whole-stack
checks (50 concurrent starts with exactly one winner, the state machine)
run again with the database on PostgreSQL.
"""

from __future__ import annotations

import os
import uuid

from alembic import autogenerate
from alembic import config as alembic_config
from alembic import migration as alembic_migration
from alembic import script as alembic_script
import fixtures
import sqlalchemy as sa

from cinder_driver_side import conf as cinder_conf
from cinder_driver_side.db import api as cinder_db
from cinder_driver_side.db import migration as cinder_migration
from cinder_driver_side.db import models as cinder_models
from cinder_driver_side import service as cinder_service
from nova_volmig.db import api as nova_db
from nova_volmig.db import migration as nova_migration
from nova_volmig.db import models as nova_models
from tests import base
from tests import nova_fixtures as nf
from tests.unit.cinder import test_hostile_input as cinder_hostile
from tests.unit.nova import test_hostile_strings as nova_hostile
from tests.unit.nova import test_rest_integration as rest_tests
from tests.unit.nova import test_volume_migration as flow_tests
from volmig_distributed import deployment as dep
from volmig_distributed import services


class PostgreSQLDatabaseFixture(fixtures.Fixture):
    """A fresh, empty PostgreSQL database, dropped afterwards.

    The host's PostgreSQL is started if needed and held for the test
    process (stopped at its exit when it was started here).
    """

    def _setUp(self):
        self.server = services.PostgreSQL()
        self.server.hold_for_this_process()
        with services.admin_lock():
            self.server.ensure_role(dep.DB_USER, dep.DB_PASSWORD)
        self.name = 'vtdb_%s' % uuid.uuid4().hex[:16]
        with services.admin_lock():
            self.server.create_database(self.name, dep.DB_USER)
        self.addCleanup(self._drop)
        self.url = self.server.url(dep.DB_USER, dep.DB_PASSWORD, self.name)

    def _drop(self):
        with services.admin_lock():
            self.server.drop_database(self.name)


def schema(engine: sa.engine.Engine) -> dict:
    """Tables -> columns (name, generic type, nullable), indexes, uniques."""
    inspector = sa.inspect(engine)
    result = {}
    for table in inspector.get_table_names():
        if table == 'alembic_version':
            continue
        columns = {c['name']: (type(c['type'].as_generic()).__name__,
                               c['nullable'])
                   for c in inspector.get_columns(table)}
        # PostgreSQL also lists the index behind each unique constraint.
        indexes = {(tuple(i['column_names']), bool(i['unique']))
                   for i in inspector.get_indexes(table)
                   if not i.get('duplicates_constraint')}
        uniques = {tuple(u['column_names'])
                   for u in inspector.get_unique_constraints(table)}
        foreign = {(tuple(f['constrained_columns']), f['referred_table'])
                   for f in inspector.get_foreign_keys(table)}
        primary = tuple(inspector.get_pk_constraint(table)[
            'constrained_columns'])
        result[table] = {'columns': columns, 'indexes': indexes,
                         'uniques': uniques, 'foreign_keys': foreign,
                         'primary_key': primary}
    return result


def differences_from_models(engine: sa.engine.Engine, metadata) -> list:
    with engine.connect() as connection:
        context = alembic_migration.MigrationContext.configure(
            connection, opts={'compare_type': True})
        return autogenerate.compare_metadata(context, metadata)


def head_revision(ini_path: str) -> str:
    config = alembic_config.Config(ini_path)
    config.set_main_option('script_location', os.path.dirname(ini_path))
    return alembic_script.ScriptDirectory.from_config(
        config).get_current_head()


class TestMigrationsOnBothDialects(base.TestCase):

    def test_nova_side(self):
        pg = self.useFixture(PostgreSQLDatabaseFixture())
        engines = {}
        for dialect, url in (('sqlite', 'sqlite:///%s' % self.state_file(
                                 'nova.sqlite')),
                             ('postgresql', pg.url)):
            nova_db.configure(url)
            nova_migration.db_sync()
            self.assertEqual(head_revision(nova_migration._ALEMBIC_INI),
                             nova_migration.db_version())
            # Idempotent: a second sync changes nothing.
            nova_migration.db_sync()
            engine = nova_db.get_engine()
            self.assertEqual(dialect, engine.dialect.name)
            self.assertEqual([], differences_from_models(
                engine, nova_models.Base.metadata))
            engines[dialect] = schema(engine)
            nova_db.dispose()
        self.assertEqual(engines['sqlite'], engines['postgresql'])
        self.assertIn('volume_migrations', engines['postgresql'])

    def test_cinder_side(self):
        pg = self.useFixture(PostgreSQLDatabaseFixture())
        schemas = {}
        for dialect, url in (('sqlite', 'sqlite:///%s' % self.state_file(
                                 'cinder.sqlite')),
                             ('postgresql', pg.url)):
            conf = cinder_conf.new_conf()
            conf([], project='cinder-volmig', default_config_files=[])
            conf.set_override('state_path', self.state_path)
            conf.set_override('connection', url, group='database')
            connection = cinder_db.Connection(conf)
            self.addCleanup(connection.dispose)
            cinder_migration.db_sync(connection)
            cinder_migration.db_sync(connection)
            self.assertEqual(head_revision(cinder_migration._ALEMBIC_INI),
                             cinder_migration.db_version(connection))
            self.assertEqual(dialect, connection.engine.dialect.name)
            self.assertEqual([], differences_from_models(
                connection.engine, cinder_models.Base.metadata))
            schemas[dialect] = schema(connection.engine)
        self.assertEqual(schemas['sqlite'], schemas['postgresql'])


class _OnPostgreSQL:
    """Run a unit test class of the compute API with PostgreSQL."""

    def setUp(self):
        pg = self.useFixture(PostgreSQLDatabaseFixture())
        # ComputeTestCase builds nf.Database(<sqlite path>): the same
        # fixture, on the PostgreSQL database instead.
        self.useFixture(fixtures.MockPatchObject(
            nf, 'Database', lambda _path: nf.PostgreSQLDatabase(pg.url)))
        super().setUp()
        self.assertEqual('postgresql', nova_db.get_engine().dialect.name)


class TestConcurrentStartRestOnPostgreSQL(_OnPostgreSQL,
                                          rest_tests.TestConcurrentStart):
    """50 concurrent POST /os-volume-migrations: one 201, 49 409."""


class TestConcurrentStartOnPostgreSQL(_OnPostgreSQL,
                                      flow_tests.ComputeTestCase):
    test_fifty_concurrent_starts_one_winner = (
        flow_tests.TestVolumeMigrationConflicts.
        test_fifty_concurrent_starts_one_winner)


class TestVolumeMigrationFlowOnPostgreSQL(_OnPostgreSQL,
                                          flow_tests.TestVolumeMigrationFlow):
    """The state machine of DESIGN 4, step by step."""


class TestHostileStringsOnPostgreSQL(_OnPostgreSQL,
                                     nova_hostile.TestHostileStrings):
    """NUL and over-long strings: 400 (404 for ids), never a 500."""


class _CinderOnPostgreSQL:
    """Run a unit test class of the Cinder API with PostgreSQL."""

    def setUp(self):
        pg = self.useFixture(PostgreSQLDatabaseFixture())
        aio_config = cinder_service.aio_config

        def on_postgresql(*args, **kwargs):
            conf = aio_config(*args, **kwargs)
            conf.set_override('connection', pg.url, group='database')
            return conf
        # CinderTestCase builds the aio configuration (a SQLite file):
        # the same service, on the PostgreSQL database instead.
        self.useFixture(fixtures.MockPatchObject(
            cinder_service, 'aio_config', on_postgresql))
        super().setUp()
        self.assertEqual('postgresql', self.svc.db.engine.dialect.name)


class TestCinderStringLimitsOnPostgreSQL(_CinderOnPostgreSQL,
                                         cinder_hostile.StringLimitsTest):
    """NUL and over-long names, extra specs, zones: 400, nothing stored."""


class TestCinderConnectorOnPostgreSQL(_CinderOnPostgreSQL,
                                      cinder_hostile.base.CinderTestCase):
    """Connectors by schema; the volume stays available."""

    attach = cinder_hostile.AttachmentRollbackTest.attach
    assert_untouched = cinder_hostile.AttachmentRollbackTest.assert_untouched
    test_connector_host_not_a_string = (
        cinder_hostile.AttachmentRollbackTest.
        test_connector_host_not_a_string)
    test_connector_values_typed_and_bounded = (
        cinder_hostile.AttachmentRollbackTest.
        test_connector_values_typed_and_bounded)
    test_out_of_range_and_malformed_sizes = (
        cinder_hostile.SizeLimitsTest.test_out_of_range_and_malformed_sizes)
    create = cinder_hostile.SizeLimitsTest.create
    assert_nothing_stored = cinder_hostile.SizeLimitsTest.assert_nothing_stored
