"""Signal handling shared by the long-running entry points."""

from __future__ import annotations

import signal
import threading
from typing import Callable

from oslo_config import cfg
from oslo_log import log as logging

from nova_volmig import config
from nova_volmig.db import api as db
from nova_volmig import rpc

LOG = logging.getLogger(__name__)


def serve(argv: list[str], make_service: Callable,
          banner: Callable[[object], str]) -> int:
    """Run one service of the Nova side until SIGTERM/SIGINT.

    Parses the config, connects the database and the transport, starts
    ``make_service()``, prints ``banner(service)`` once it serves, and on
    a signal stops it gracefully; exit code 0.
    """
    config.set_defaults()
    config.parse_args(argv)
    db.configure()
    rpc.init()
    svc = make_service()
    svc.start()
    print(banner(svc), flush=True)

    def stop():
        svc.stop()
        rpc.cleanup()

    return run_until_signalled(stop)


def reload_config(conf: cfg.ConfigOpts = cfg.CONF) -> dict:
    """Re-read the config files; mutable options take their new values.

    As upstream services do on SIGHUP. Returns oslo.config's
    ``{(group, option): (old, new)}`` of what changed.
    """
    changed = conf.mutate_config_files()
    LOG.info('Configuration reloaded (SIGHUP); changed: %s',
             ', '.join('%s.%s' % (group or 'DEFAULT', name)
                       for group, name in sorted(
                           changed, key=lambda k: (k[0] or '', k[1])))
             or 'nothing')
    return changed


def run_until_signalled(stop: Callable[[], None]) -> int:
    """Block until SIGTERM/SIGINT, then call ``stop`` once; exit code 0.

    SIGHUP reloads the configuration files (mutable options only).
    """
    done = threading.Event()
    reload = threading.Event()

    def _handler(signum, frame):
        LOG.info('Received %s, stopping', signal.Signals(signum).name)
        done.set()

    def _reload_handler(signum, frame):
        reload.set()

    signal.signal(signal.SIGTERM, _handler)
    signal.signal(signal.SIGINT, _handler)
    signal.signal(signal.SIGHUP, _reload_handler)
    while not done.wait(0.2):
        if reload.is_set():
            reload.clear()
            try:
                reload_config()
            except Exception:
                LOG.exception('Reloading the configuration failed')
    stop()
    return 0
