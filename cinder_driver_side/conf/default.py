"""[DEFAULT] options: identity, state path, backends, API listener."""

from oslo_config import cfg

from volmig_common.wsgi import opts

default_opts = [
    cfg.StrOpt('host', default='aio',
               help='Name of this volume service host; the first part of '
                    'every volume\'s "host@backend#pool".'),
    cfg.StrOpt('state_path', default='/var/lib/cinder-volmig',
               help='Top-level directory of the service\'s state: its '
                    'SQLite database, default pools, NBD daemon files.'),
    cfg.ListOpt('enabled_backends', default=[],
                help='Names of the config groups, one per backend '
                     '("array"), that this service runs.'),
    cfg.StrOpt('default_volume_type', default='__DEFAULT__',
               help='Volume type of volumes created without one.'),
    cfg.IntOpt('migration_copy_bandwidth', default=0, min=0,
               help='Rate limit of migration copies in bytes/s; 0 is '
                    'unlimited. A backend\'s copy_bandwidth overrides it.'),
    cfg.BoolOpt('migration_verify_copy', default=False,
                help='After a migration copy, compare SHA-256 digests of '
                     'src and dst before switching over (reads both '
                     'volumes once more).'),
    cfg.StrOpt('attached_migration_mode', default='volume_migration',
               choices=[('volume_migration',
                         'Nova start / copy by Cinder / complete'),
                        ('legacy', 'Nova swap-volume (drive-mirror through '
                                   'the compute host) and the '
                                   'os-migrate_volume_completion callback')],
               help='How an attached volume is migrated when '
                    'force_host_copy is not requested.'),
    cfg.IntOpt('migration_poll_interval', default=1, min=1,
               help='Seconds between polls of Nova while a legacy swap '
                    'runs (for swap_progress).'),
    cfg.IntOpt('nova_complete_timeout', default=3600, min=1,
               help='Seconds to wait for Nova to report a migration out '
                    'of "completing" when resolving an unclear outcome.'),
    cfg.HostAddressOpt('osapi_volume_listen', default='127.0.0.1',
                       help='Address the volume API listens on.'),
    cfg.PortOpt('osapi_volume_listen_port', default=8776,
                help='Port of the volume API; 0 picks a free one.'),
    cfg.IntOpt('osapi_volume_workers_threads', default=32, min=1,
               help='Maximum concurrent API requests (threads).'),
    *opts.server_opts(),
    cfg.StrOpt('auth_strategy', default='noauth2',
               choices=[('noauth2', 'X-Auth-Token "<user>:<project>", roles '
                                    'from X-Roles; loopback tests only'),
                        ('keystone', 'keystonemiddleware auth_token')],
               help='How API requests are authenticated.'),
    cfg.StrOpt('public_endpoint',
               help='Base URL advertised in links; derived from the '
                    'request when unset.'),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(default_opts)


def list_opts():
    return {'DEFAULT': default_opts}
