"""[compute] options: RPC timeouts and manager behaviour."""

from oslo_config import cfg

compute_group = cfg.OptGroup('compute', title='Compute service options')

compute_opts = [
    cfg.IntOpt('volume_migration_start_timeout', default=120, min=1,
               help='RPC call timeout, in seconds, of volume migration '
                    'start: the API answers 409 when the compute host does '
                    'not answer in time.'),
    cfg.IntOpt('volume_migration_complete_timeout', default=300, min=1,
               help='RPC call timeout, in seconds, of the synchronous part '
                    'of volume migration complete.'),
    cfg.IntOpt('rpc_call_timeout', default=60, min=1,
               help='Timeout, in seconds, of other compute RPC calls.'),
    cfg.IntOpt('service_down_time', default=30, min=1,
               help='Seconds without a heartbeat after which a compute '
                    'service counts as down.'),
    cfg.IntOpt('report_interval', default=5, min=1,
               help='Seconds between compute service heartbeats.'),
    cfg.FloatOpt('progress_update_interval', default=0.5, min=0.05,
                 help='Seconds between updates of a running block job\'s '
                      'progress in the database.'),
    cfg.IntOpt('max_concurrent_volume_migration_finishes', default=4,
               min=0,
               help='Maximum number of asynchronous finishes of volume '
                    'migrations (the block commit and pivot after complete, '
                    'the commit back to src after cancel) running at once '
                    'on this compute host. Others wait in a FIFO queue; '
                    'their record shows ``finish.state`` ``queued`` and '
                    'their ``finish.queue_position``. 0 means unlimited. '
                    'Like ``max_concurrent_live_migrations``.'),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(compute_group)
    conf.register_opts(compute_opts, group=compute_group)


def list_opts():
    return {compute_group: compute_opts}
