"""[nova] options: how cinder-volmig reaches Nova's compute API."""

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

nova_group = cfg.OptGroup('nova', title='Compute service options')

nova_opts = [
    cfg.URIOpt('endpoint', default='http://127.0.0.1:8774/v2.1',
               help='Nova compute API endpoint (with /v2.1).'),
    cfg.StrOpt('auth_strategy', default='noauth2',
               choices=['noauth2', 'keystone'],
               help='noauth2 sends the token below with X-Roles: service; '
                    'keystone uses the keystoneauth plugin of this group.'),
    cfg.StrOpt('noauth_token', default='cinder:service',
               help='"<user>:<project>" token sent with noauth2.'),
    cfg.FloatOpt('http_timeout', default=600.0, min=1.0,
                 help='Timeout, in seconds, of one Nova API request '
                      '(start and complete are synchronous).'),
    cfg.IntOpt('http_retries', default=3, min=0,
               help='Retries of a Nova request that failed to connect.'),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(nova_group)
    conf.register_opts(nova_opts, group=nova_group)
    ks_loading.register_session_conf_options(conf, nova_group.name)
    ks_loading.register_auth_conf_options(conf, nova_group.name)


def list_opts():
    return {
        nova_group: (
            nova_opts
            + ks_loading.get_session_conf_options()
            + ks_loading.get_auth_common_conf_options()
            + ks_loading.get_auth_plugin_conf_options('password')),
    }
