"""[database] options (oslo.db); the default is a SQLite file."""

from oslo_config import cfg
from oslo_db import options as db_options


def register_opts(conf: cfg.ConfigOpts) -> None:
    # The real default is derived from state_path at start-up
    # (nova_volmig.db.api.configure); a SQLite *file*, never :memory:.
    db_options.set_defaults(conf, connection=None)


def list_opts():
    return {'database': db_options.database_opts}
