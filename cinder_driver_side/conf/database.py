"""[database] options (oslo.db); the default is a SQLite file."""

from oslo_config import cfg
from oslo_db import options as db_options


def register_opts(conf: cfg.ConfigOpts) -> None:
    # The default connection is derived from state_path when the database
    # is configured (cinder_driver_side.db.api): a file, never :memory:.
    db_options.set_defaults(conf, connection=None)


def list_opts():
    return {'database': db_options.database_opts}
