"""Options of one backend ("array"); one group per enabled backend.

``[backend_defaults]`` holds the fallback of every option, as in Cinder:
a backend group's unset option takes the value found there.
"""

from __future__ import annotations

from oslo_config import cfg

BACKEND_DEFAULTS = 'backend_defaults'

backend_opts = [
    cfg.StrOpt('volume_backend_name',
               help='Name reported for the backend, matched by volume '
                    'types\' "volume_backend_name" extra spec; defaults '
                    'to the group name.'),
    cfg.DictOpt('pools',
                help='Pools of the array: "pool1:/dir,pool2:/dir"; each '
                     'pool is a directory of raw volume files.'),
    cfg.StrOpt('export_protocol',
               choices=[('file', 'the compute host opens the volume file '
                                 'itself (driver_volume_type file)'),
                        ('nbd', 'qemu-storage-daemon serves the volume '
                                'over NBD (driver_volume_type nbd)')],
               help='How attached volumes reach the compute host. '
                    'Default: file.'),
    cfg.HostAddressOpt('nbd_listen_address',
                       help='Address NBD exports listen on (inside '
                            'nbd_netns when set). Default: 127.0.0.1.'),
    cfg.StrOpt('nbd_connect_address',
               help='Address given to the compute host in nbd '
                    'connection_info; defaults to nbd_listen_address.'),
    cfg.StrOpt('nbd_port_range',
               help='"first:last" TCP ports of NBD exports. Default: '
                    '10809:10999.'),
    cfg.StrOpt('nbd_netns',
               help='Network namespace that runs the array\'s '
                    'qemu-storage-daemon (through "ip netns exec").'),
    cfg.IntOpt('nbd_throttle_bytes_sec', min=0,
               help='Limit each NBD export to this many bytes/s in each '
                    'direction (a QEMU throttle group); 0 = unlimited. '
                    'For tests and benchmarks that cannot shape a real '
                    'link.'),
    cfg.IntOpt('copy_bandwidth', min=0,
               help='Rate limit of this backend\'s migration copies in '
                    'bytes/s (0 = unlimited); overrides [DEFAULT] '
                    'migration_copy_bandwidth. A migrate request\'s '
                    '"bandwidth" (3.72) overrides both.'),
    cfg.IntOpt('array_copy_throughput', min=0,
               help='Emulated arrays: bytes/s that this array\'s own copy '
                    'engine moves in all, shared by every native copy '
                    'running on it at once (a real array copies at a '
                    'finite rate, whatever the host\'s CPU); 0 = as fast '
                    'as the host copies files. For benchmarks. '
                    'Default: 0.'),
    cfg.IntOpt('migration_stall_timeout', min=0,
               help='Seconds a migration copy from or to this backend may '
                    'make no progress at all before it is ended as an '
                    'error (an attached migration is then cancelled on '
                    'Nova); 0 = never. The lower of src\'s and dst\'s '
                    'nonzero values applies. Default: 300.'),
    cfg.IntOpt('max_concurrent_migrations', min=0,
               help='Migrations of volumes of this backend that run at '
                    'once; further requests wait in a FIFO queue '
                    '(migration_status "queued") instead of failing. '
                    '0 = no cap. Default: 0.'),
]

_FALLBACKS = {
    'export_protocol': 'file',
    'nbd_listen_address': '127.0.0.1',
    'nbd_port_range': '10809:10999',
    'nbd_throttle_bytes_sec': 0,
    'migration_stall_timeout': 300,
    'array_copy_throughput': 0,
}


def register_backend(conf: cfg.ConfigOpts, name: str) -> None:
    """Register the backend options in group ``name`` (idempotent)."""
    conf.register_opts(backend_opts, group=name)


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(backend_opts, group=BACKEND_DEFAULTS)


def get(conf: cfg.ConfigOpts, backend: str, option: str):
    """A backend's option, else ``[backend_defaults]``'s, else built-in."""
    register_backend(conf, backend)
    value = conf[backend][option]
    if value is None:
        value = conf[BACKEND_DEFAULTS][option]
    if value is None:
        value = _FALLBACKS.get(option)
    return value


def list_opts():
    return {BACKEND_DEFAULTS: backend_opts}
