"""[api] options of nova-volmig-api."""

from oslo_config import cfg

from volmig_common.wsgi import opts

api_group = cfg.OptGroup('api', title='Compute REST API options')

api_opts = [
    cfg.StrOpt('auth_strategy',
               default='noauth2',
               choices=[('noauth2', 'X-Auth-Token "<user>:<project>" with '
                                    'roles from X-Roles; for loopback '
                                    'test deployments only'),
                        ('keystone', 'keystonemiddleware auth_token')],
               help='How API requests are authenticated.'),
    cfg.HostAddressOpt('listen', default='127.0.0.1',
                       help='Address the API listens on.'),
    cfg.PortOpt('port', default=8774, help='Port the API listens on.'),
    cfg.IntOpt('workers_threads', default=32, min=1,
               help='Maximum concurrent requests served (threads).'),
    *opts.server_opts(),
    cfg.IntOpt('max_request_body_size', default=114688, min=1024,
               help='Largest request body accepted, in bytes; larger '
                    'bodies answer 400.'),
    cfg.StrOpt('public_endpoint',
               help='Base URL advertised in links and version documents; '
                    'derived from the request when unset.'),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(api_group)
    conf.register_opts(api_opts, group=api_group)


def list_opts():
    return {api_group: api_opts}
