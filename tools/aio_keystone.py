#!/usr/bin/env python3
"""Run a real Keystone for nova-volmig-aio (the aio's ``--auth keystone``).

    tools/aio_keystone.py --state-path DIR [--port 5000]
        [--compute-url http://127.0.0.1:8774/v2.1]
        [--volume-url http://127.0.0.1:8776/v3]

sets up a fresh Keystone under DIR (``volmig_distributed/identity.py``:
SQLite, fernet tokens, the admin, the service users, the ``demo`` member,
the catalog of the given endpoints), serves it until interrupted, and
writes ``DIR/nova-keystone.conf`` and ``DIR/cinder-keystone.conf``: give
them to the aio, which then validates Keystone tokens and calls itself
across the two sides as the service users::

    .venv/bin/nova-volmig-aio --state-path /tmp/volmig \\
        --config-file DIR/nova-keystone.conf \\
        --cinder-config-file DIR/cinder-keystone.conf

Run it with the project's venv: ``.venv/bin/python tools/aio_keystone.py ...``.
"""

from oslo_service import backend

backend.init_backend(backend.BackendType.THREADING)

import argparse  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

from volmig_distributed import identity  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog='aio_keystone.py',
                                     description=__doc__.split('\n\n')[0])
    parser.add_argument('--state-path', required=True)
    parser.add_argument('--port', type=int, default=5000)
    parser.add_argument('--compute-url',
                        default='http://127.0.0.1:8774/v2.1')
    parser.add_argument('--volume-url', default='http://127.0.0.1:8776/v3')
    args = parser.parse_args(argv)
    state_path = os.path.abspath(args.state_path)
    os.makedirs(state_path, exist_ok=True)
    keystone, process = identity.serve_for_aio(
        state_path, args.port, args.compute_url, args.volume_url)
    print('keystone ready: %s (admin / %s)' % (keystone.auth_url,
                                               identity.ADMIN_PASSWORD))
    print('  nova-volmig-aio --config-file %s/nova-keystone.conf '
          '--cinder-config-file %s/cinder-keystone.conf ...'
          % (state_path, state_path), flush=True)
    signal.signal(signal.SIGTERM, lambda *_: process.terminate())
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.terminate()
        return process.wait(30)


if __name__ == '__main__':
    sys.exit(main())
