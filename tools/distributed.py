#!/usr/bin/env python3
"""Start, stop and inspect the distributed nova-volmig deployment.

    tools/distributed.py start  --state-path DIR [--nova-port 8774] ...
    tools/distributed.py status --state-path DIR
    tools/distributed.py listen --state-path DIR      # notifications
    tools/distributed.py stop   --state-path DIR [--purge]

``start`` starts RabbitMQ and PostgreSQL when they are not running,
creates the role, databases and vhost, renders the configuration under
DIR/etc, runs ``nova-volmig-manage db sync``, starts nova-volmig-api, two
nova-volmig-compute hosts (``compute-live``: libvirt; ``compute-offline``:
no live storage migration) and cinder-volmig, and prints the endpoints.
``stop`` sends SIGTERM to each service and stops RabbitMQ / PostgreSQL
again only if this tool started them and nothing else holds them. Run it
with the project's venv: ``.venv/bin/python tools/distributed.py ...``.
"""

from oslo_service import backend

backend.init_backend(backend.BackendType.THREADING)

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402

from volmig_distributed import deployment as dep  # noqa: E402
from volmig_distributed import identity  # noqa: E402
from volmig_distributed import services  # noqa: E402

EXIT_NOT_RUNNING = 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='distributed.py', description=__doc__.split('\n\n')[0])
    sub = parser.add_subparsers(dest='command', required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text)
        p.add_argument('--state-path', required=True,
                       help='directory of the deployment')
        return p

    start = command('start', 'set up and start every service')
    start.add_argument('--name', default='volmig',
                       help='prefix of the databases and the RabbitMQ '
                            'vhost (default: volmig)')
    start.add_argument('--listen', default=services.LOOPBACK)
    start.add_argument('--nova-port', type=int, default=8774,
                       help='compute API port (0: any free port)')
    start.add_argument('--cinder-port', type=int, default=8776,
                       help='volume API port (0: any free port)')
    start.add_argument('--volume-protocol', default='file',
                       choices=['file', 'nbd'])
    start.add_argument('--auth', default='noauth2',
                       choices=['noauth2', 'keystone'],
                       help='keystone: a real Keystone (from PyPI) with '
                            'fernet tokens, service and member users; '
                            'Nova and Cinder validate its tokens')
    start.add_argument('--keystone-port', type=int, default=5000,
                       help='identity API port with --auth keystone '
                            '(0: any free port)')
    start.add_argument('--debug', action='store_true')
    start.add_argument('--fresh', action='store_true',
                       help='drop and recreate the databases first')
    stop = command('stop', 'SIGTERM every service, release RabbitMQ and '
                           'PostgreSQL')
    stop.add_argument('--purge', action='store_true',
                      help='also drop the databases and the vhost')
    command('status', 'show services, PIDs and endpoints')
    listen = command('listen', 'print the versioned notifications as JSON '
                               'lines until interrupted')
    listen.add_argument('--pool',
                        help='listener pool (its own queue); default: the '
                             'topic\'s default queue, as a real consumer')
    return parser


def _holder(state_path: str) -> str:
    return 'deploy:%s' % os.path.abspath(state_path)


def cmd_start(args) -> int:
    settings = dep.Settings(
        name=args.name, listen=args.listen, nova_port=args.nova_port,
        cinder_port=args.cinder_port, volume_protocol=args.volume_protocol,
        auth=args.auth, keystone_port=args.keystone_port, debug=args.debug)
    deployment = dep.Deployment(args.state_path, settings,
                                lease_holder=_holder(args.state_path))
    if os.path.exists(deployment.info_file):
        deployment.load()
        running = [n for n in deployment.services
                   if deployment.is_running(n)]
        if running:
            print('already running: %s (stop it first)' % ', '.join(running),
                  file=sys.stderr)
            return 1
        deployment = dep.Deployment(args.state_path, settings,
                                    lease_holder=_holder(args.state_path))
    try:
        if args.fresh:
            deployment.acquire_infrastructure()
            deployment.create_databases(recreate=True)
        info = deployment.start()
    except Exception:
        # Nothing of ours runs: let RabbitMQ and PostgreSQL go again.
        deployment.release_infrastructure()
        raise
    print('nova-volmig distributed deployment ready')
    print('  compute API:   %s' % info['compute_api'])
    print('  volume API:    %s' % info['volume_api'])
    print('  transport_url: %s' % info['transport_url'])
    if info.get('auth_url'):
        print('  identity API:  %s (admin / %s)' % (
            info['auth_url'], identity.ADMIN_PASSWORD))
    print('  databases:     %s' % info['nova_database'])
    print('                 %s' % info['cinder_database'])
    for name, svc in info['services'].items():
        print('  %-16s pid %-7s log %s' % (name, svc['pid'], svc['log']))
    return 0


def cmd_stop(args) -> int:
    deployment = dep.Deployment(args.state_path,
                                lease_holder=_holder(args.state_path))
    if not os.path.exists(deployment.info_file):
        print('no deployment under %s' % args.state_path, file=sys.stderr)
        return 1
    deployment.load()
    rc = 0
    try:
        deployment.stop()
    except dep.DeploymentError as e:
        print('stop: %s' % e, file=sys.stderr)
        rc = 1
    if args.purge:
        deployment.drop_data()
    stopped = deployment.release_infrastructure()
    print('stopped the services%s' % (
        '; and %s (started by this tool)' % ', '.join(stopped)
        if stopped else ''))
    return rc


def cmd_status(args) -> int:
    deployment = dep.Deployment(args.state_path)
    if not os.path.exists(deployment.info_file):
        print('no deployment under %s' % args.state_path, file=sys.stderr)
        return EXIT_NOT_RUNNING
    deployment.load()
    status = deployment.status()
    print(json.dumps(status, indent=1))
    all_up = all(s['running'] for s in status['services'].values())
    return 0 if all_up else EXIT_NOT_RUNNING


def cmd_listen(args) -> int:
    from volmig_distributed import listener

    deployment = dep.Deployment(args.state_path)
    deployment.load()
    collector = listener.NotificationCollector(
        deployment.transport_url, pool=args.pool,
        on_message=lambda m: print(json.dumps(m), flush=True))
    done = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: done.set())
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    collector.start()
    print('listening on %s' % listener.TOPIC, file=sys.stderr, flush=True)
    while not done.wait(1):
        pass
    collector.stop()
    return 0


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        return {'start': cmd_start, 'stop': cmd_stop, 'status': cmd_status,
                'listen': cmd_listen}[args.command](args)
    except (dep.DeploymentError, services.ServiceError) as e:
        print('%s: %s' % (args.command, e), file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
