"""[cinder] options: how Nova reaches the Cinder companion."""

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

cinder_group = cfg.OptGroup('cinder', title='Block storage service options')

cinder_opts = [
    cfg.URIOpt('endpoint_override',
               default='http://127.0.0.1:8776/v3',
               help='Cinder volume v3 endpoint, without the project id.'),
    cfg.StrOpt('auth_strategy',
               default='noauth2',
               choices=['noauth2', 'keystone'],
               help='noauth2 sends "<user>:<project>" tokens and X-Roles; '
                    'keystone uses the keystoneauth plugin of this group.'),
    cfg.FloatOpt('http_timeout', default=30.0, min=1.0,
                 help='Timeout, in seconds, of one Cinder API request.'),
    cfg.IntOpt('http_retries', default=3, min=0,
               help='Retries of a Cinder request that failed to connect.'),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(cinder_group)
    conf.register_opts(cinder_opts, group=cinder_group)
    ks_loading.register_session_conf_options(conf, cinder_group.name)
    ks_loading.register_auth_conf_options(conf, cinder_group.name)


def list_opts():
    return {
        cinder_group: (
            cinder_opts
            + ks_loading.get_session_conf_options()
            + ks_loading.get_auth_common_conf_options()
            + ks_loading.get_auth_plugin_conf_options('password')),
    }
