"""Command-line and config-file parsing shared by the entry points."""

from __future__ import annotations

from oslo_log import log as logging

from nova_volmig import conf as nova_conf

CONF = nova_conf.CONF


def parse_args(argv: list[str], default_config_files: list[str] | None = None
               ) -> None:
    logging.register_options(CONF)
    CONF(argv[1:], project='nova-volmig',
         default_config_files=default_config_files)
    logging.setup(CONF, 'nova-volmig')


def set_defaults() -> None:
    """Quiet chatty libraries, like Nova does."""
    logging.set_defaults(default_log_levels=logging.get_default_log_levels()
                         + ['libvirt=WARN', 'alembic=WARN',
                            'keystoneauth=WARN'])
