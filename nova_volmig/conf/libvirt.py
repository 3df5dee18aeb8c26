"""[libvirt] options of the libvirt driver."""

from oslo_config import cfg

libvirt_group = cfg.OptGroup('libvirt', title='libvirt driver options')

libvirt_opts = [
    cfg.StrOpt('virt_type',
               default='auto',
               choices=[('kvm', 'hardware acceleration'),
                        ('qemu', 'TCG software emulation'),
                        ('auto', 'kvm where /dev/kvm is a real hardware '
                                 'KVM, else qemu (TCG); the software '
                                 'kvm_pvm flavour counts as absent')],
               help='Domain type of the instances.'),
    cfg.StrOpt('connection_uri', default='qemu:///system',
               help='libvirt connection URI.'),
    cfg.IntOpt('instance_memory_mb', default=64, min=16,
               help='Memory of an instance created without a flavor; a '
                    'diskless SeaBIOS domain needs no more.'),
    cfg.StrOpt('instances_path', default='$state_path/instances',
               help='Where per-instance files (console logs, kernels '
                    'given by image) are kept.'),
    cfg.StrOpt('volume_migration_overlay_dir',
               default='$state_path/volume-migration-overlays',
               help='Local directory for the qcow2 overlays that take a '
                    'running guest\'s writes between start and the end '
                    'of complete or cancel.'),
    cfg.StrOpt('volume_migration_complete_mode',
               default='two_step',
               choices=[('two_step', 'shallow write-blocking copy of the '
                                     'overlay onto a new local overlay '
                                     'backed by dst, pivot, return; then '
                                     'an active commit into dst'),
                        ('write_blocking', 'one shallow write-blocking copy '
                                           'of the overlay straight onto '
                                           'dst, pivot, return'),
                        ('rebase', 'switch the overlay\'s backing node '
                                   'from src to dst in the running QEMU '
                                   '(QMP, no data copied), close src, '
                                   'return; then an active commit into '
                                   'dst. Network volumes only: file and '
                                   'block volumes, and a QEMU that '
                                   'cannot, fall back to two_step')],
               mutable=True,
               help='How complete moves the guest from src to dst. '
                    'Mutable: a SIGHUP applies a new value to the next '
                    'complete.'),
    cfg.StrOpt('volume_migration_overlay_options',
               default='extended_l2=on,cluster_size=128k',
               help='qemu-img -o options of migration overlays; '
                    'extended_l2 avoids copy-on-write of partial clusters '
                    'from a network backing file.'),
    cfg.IntOpt('block_job_ready_timeout', default=600, min=1,
               help='Seconds a block job may take to become ready before '
                    'the migration step fails.'),
    cfg.IntOpt('block_job_pivot_timeout', default=60, min=1,
               help='Seconds the pivot of a ready block job '
                    '(blockJobAbort with PIVOT) may take before the '
                    'migration step fails with an error naming the disk; '
                    'a pivot normally ends within a second.'),
    cfg.FloatOpt('block_job_progress_window', default=5.0, min=0.5,
                 help='Seconds the remaining work of a block job must '
                      'shrink within before the guest disk is throttled '
                      'to let the job converge.'),
    cfg.IntOpt('block_job_min_throttle_bytes_sec', default=1048576,
               min=4096,
               help='Lowest write throttle, in bytes per second, the '
                    'convergence logic applies to a guest disk.'),
    cfg.IntOpt('volume_migration_bandwidth', default=0, min=0,
               mutable=True,
               help='Bandwidth limit, in bytes per second, of the block '
                    'jobs that move a volume\'s data on the compute host: '
                    'the asynchronous commit of a volume migration\'s '
                    'complete and cancel, and the mirror of a legacy '
                    'swap (libvirt\'s bandwidth argument of blockCommit, '
                    'with VIR_DOMAIN_BLOCK_COMMIT_BANDWIDTH_BYTES, and of '
                    'blockCopy). 0 = unlimited. Saved in the migration '
                    'record\'s driver_data as commit_bandwidth. Mutable.'),
    cfg.StrOpt('images_path', default='$state_path/images',
               help='Where images live: an instance whose image_ref is X '
                    'boots the kernel, initrd and optional cmdline found '
                    'in <images_path>/X/ (direct kernel boot).'),
    cfg.IntOpt('device_detach_timeout', default=20, min=1,
               help='Seconds a running guest has to release a volume '
                    'being detached (ACPI unplug needs a guest OS).'),
    cfg.IntOpt('qemu_img_info_memory_mb', default=1024, min=64,
               help='Address-space limit of qemu-img info (prlimit).'),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(libvirt_group)
    conf.register_opts(libvirt_opts, group=libvirt_group)


def list_opts():
    return {libvirt_group: libvirt_opts}
