"""Serve Keystone's WSGI application with cheroot until SIGTERM.

``python volmig_distributed/keystone_wsgi.py --config-file F
--listen HOST --port N``: Keystone's own application factory
(``keystone.server.flask.core.initialize_application``, what its
``keystone-wsgi-public`` entry point calls) under cheroot, the WSGI server
nova-volmig's APIs use too. Exits 0 on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from cheroot import wsgi


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='keystone-wsgi (cheroot)')
    parser.add_argument('--config-file', required=True)
    parser.add_argument('--listen', default='127.0.0.1')
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--threads', type=int, default=8)
    args = parser.parse_args(argv)

    # As at every entry point of this project, before any oslo import.
    from oslo_service import backend
    backend.init_backend(backend.BackendType.THREADING)
    # Keystone's configuration parses sys.argv too: leave it only ours.
    sys.argv = sys.argv[:1]
    from keystone.server.flask import core

    app = core.initialize_application(name='public',
                                      config_files=[args.config_file])
    server = wsgi.Server((args.listen, args.port), app,
                         numthreads=args.threads,
                         server_name='keystone')
    stopping = threading.Event()

    def _stop(signum, _frame):
        stopping.set()
        threading.Thread(target=server.stop, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print('keystone: serving on http://%s:%d' % (args.listen, args.port),
          flush=True)
    try:
        server.start()
    except Exception:
        if not stopping.is_set():
            raise
    return 0


if __name__ == '__main__':
    sys.exit(main())
