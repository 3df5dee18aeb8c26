"""Configuration of the Cinder side, on its *own* ConfigOpts instance.

The global ``cfg.CONF`` belongs to the Nova side; both run in one process
in nova-volmig-aio, so every piece here takes the ``conf`` it serves.
"""

from __future__ import annotations

import collections

from oslo_config import cfg
from oslo_log import log as logging

from cinder_driver_side.conf import backend
from cinder_driver_side.conf import database
from cinder_driver_side.conf import default
from cinder_driver_side.conf import nova

_MODULES = (default, database, nova, backend)


def register_opts(conf: cfg.ConfigOpts) -> None:
    for module in _MODULES:
        module.register_opts(conf)


def new_conf(register_logging: bool = False) -> cfg.ConfigOpts:
    """A fresh ConfigOpts with every Cinder-side option registered."""
    conf = cfg.ConfigOpts()
    register_opts(conf)
    if register_logging:
        logging.register_options(conf)
    return conf


def parse(conf: cfg.ConfigOpts, args=(),
          config_files=None) -> cfg.ConfigOpts:
    """Parse ``args`` and ``config_files`` and register backend groups.

    ``config_files`` None: oslo.config's usual search for
    cinder-volmig.conf.
    """
    conf(list(args), project='cinder-volmig',
         default_config_files=(None if config_files is None
                               else list(config_files)))
    for name in conf.enabled_backends:
        backend.register_backend(conf, name)
    return conf


def list_opts():
    """Entry point of oslo-config-generator."""
    merged = collections.defaultdict(list)
    for module in _MODULES:
        for group, opts in module.list_opts().items():
            merged[group].extend(opts)
    return list(merged.items())
