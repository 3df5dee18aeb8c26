"""nova-volmig-aio: the embedded default, everything in one process.

The compute API, one compute host and the Cinder companion, talking over
the in-process ``volmig-inproc:/`` transport, each side with its own
SQLite file under ``--state-path``. It prints its endpoints once ready
(and writes them to ``<state-path>/aio.json``) and stops cleanly on
SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from nova_volmig import cmd  # noqa: F401  (threading backend first)
from nova_volmig.cmd import common
from nova_volmig import config
from nova_volmig.db import api as db
from nova_volmig.db import migration
from nova_volmig import rpc
from nova_volmig import service
from nova_volmig.volume import cinder as cinder_client
from volmig_common import inproc_transport

CONF = config.CONF


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='nova-volmig-aio',
        description='Nova API + compute + Cinder companion in one process.')
    parser.add_argument('--state-path', required=True,
                        help='directory for databases, arrays, overlays')
    parser.add_argument('--nova-port', type=int, default=8774,
                        help='compute API port (0: any free port)')
    parser.add_argument('--cinder-port', type=int, default=8776,
                        help='volume API port (0: any free port)')
    parser.add_argument('--listen', default='127.0.0.1')
    parser.add_argument('--host', default='aio',
                        help='name of the compute host (default: aio)')
    parser.add_argument('--compute-driver', default='libvirt',
                        choices=['libvirt', 'offline'])
    parser.add_argument('--volume-protocol', default='file',
                        choices=['file', 'nbd'],
                        help='how the arrays export volumes')
    parser.add_argument('--config-file', action='append', default=[],
                        help='Nova-side oslo.config file (repeatable)')
    parser.add_argument('--cinder-config-file', action='append',
                        default=[],
                        help='Cinder-side oslo.config file (repeatable)')
    return parser


def main(argv=None) -> int:
    argv = list(argv or sys.argv)
    args = _parser().parse_args(argv[1:])
    state_path = os.path.abspath(args.state_path)
    os.makedirs(state_path, exist_ok=True)

    oslo_args = [argv[0]]
    for path in args.config_file:
        oslo_args += ['--config-file', path]
    config.set_defaults()
    config.parse_args(oslo_args, default_config_files=[])
    CONF.set_override('state_path', state_path)
    CONF.set_override('host', args.host)
    CONF.set_override('compute_driver', args.compute_driver)
    # Several embedded deployments may share one libvirtd: a config file
    # may still set the upstream template.
    CONF.set_default('instance_name_template', 'instance-%(uuid)s')
    CONF.set_override('listen', args.listen, group='api')

    db.configure()
    migration.db_sync()
    rpc.init(url=inproc_transport.URL)

    from cinder_driver_side import service as cinder_service

    compute = service.ComputeService()
    api = service.APIService(args.listen, args.nova_port)
    cinder = None
    try:
        compute.start()
        api.start()
        cinder_conf = cinder_service.aio_config(
            os.path.join(state_path, 'cinder'), args.cinder_port,
            nova_endpoint=api.endpoint,
            config_files=args.cinder_config_file,
            protocol=args.volume_protocol)
        cinder = cinder_service.CinderService(cinder_conf)
        cinder.start()
        CONF.set_override('endpoint_override', cinder.endpoint,
                          group='cinder')
        cinder_client.reset()
    except Exception:
        _stop(compute, api, cinder)
        raise

    endpoints = {'compute': api.endpoint, 'volume': cinder.endpoint,
                 'host': args.host, 'compute_driver': args.compute_driver,
                 'state_path': state_path, 'pid': os.getpid()}
    # Whole or absent: the launcher reads it as soon as it exists.
    info = os.path.join(state_path, 'aio.json')
    with open(info + '.tmp', 'w') as f:
        json.dump(endpoints, f, indent=1)
    os.replace(info + '.tmp', info)
    print('nova-volmig-aio ready', flush=True)
    print('  compute API: %s' % api.endpoint, flush=True)
    print('  volume API:  %s' % cinder.endpoint, flush=True)
    return common.run_until_signalled(lambda: _stop(compute, api, cinder))


def _stop(compute, api, cinder) -> None:
    # Front doors first, so nothing new starts while the rest winds down.
    for part in (api, cinder, compute):
        if part is None:
            continue
        try:
            part.stop()
        except Exception as e:
            print('nova-volmig-aio: stopping %s failed: %s'
                  % (type(part).__name__, e), file=sys.stderr)
    rpc.cleanup()


if __name__ == '__main__':
    sys.exit(main())
