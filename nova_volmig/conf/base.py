"""[DEFAULT] options: host identity, state path, driver selection."""

import socket

from oslo_config import cfg

base_opts = [
    cfg.StrOpt('host',
               default=socket.gethostname(),
               sample_default='<current_hostname>',
               help='Name of this compute host; the RPC server name and '
                    'the value of an instance\'s host field.'),
    cfg.StrOpt('state_path',
               default='/var/lib/nova-volmig',
               help='Top-level directory for the service\'s state: SQLite '
                    'databases, overlays, instance files.'),
    cfg.StrOpt('compute_driver',
               default='libvirt',
               choices=[('libvirt', 'libvirt + QEMU with live storage '
                                    'migration'),
                        ('offline', 'a hypervisor without live storage '
                                    'migration: instances must be shut '
                                    'off to migrate their volumes'),
                        ('fake', 'in-memory driver for unit tests')],
               help='Virtualisation driver of nova-volmig-compute.'),
    cfg.StrOpt('instance_name_template',
               default='instance-%08x',
               help='Template of the hypervisor name of an instance: '
                    'formatted with the instance\'s integer id, or with '
                    '%(id)s / %(uuid)s named fields. nova-volmig-aio uses '
                    'instance-%(uuid)s, as several embedded deployments may '
                    'share one libvirtd.'),
    cfg.StrOpt('default_availability_zone', default='nova',
               help='Availability zone reported for compute hosts.'),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(base_opts)


def list_opts():
    return {'DEFAULT': base_opts}
