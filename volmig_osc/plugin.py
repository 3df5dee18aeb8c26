"""The ``volume_migration`` plugin of python-openstackclient.

Registered under ``openstack.cli.extension`` (setup.cfg); its commands are
in the ``openstack.volume_migration.v1`` group. The client is a pair of
keystoneauth Adapters on the CLI's session: compute at microversion 2.105
(the volume-migration API) and block-storage at 3.72 (``migration_progress``).
"""

from __future__ import annotations

from osc_lib import utils

from volmig_osc import client

API_NAME = 'volume_migration'
API_VERSION_OPTION = 'os_volume_migration_api_version'
DEFAULT_API_VERSION = '1'
API_VERSIONS = {'1': 'volmig_osc.client.Client'}


def make_client(instance) -> client.Client:
    """The plugin's client, from OSC's ``ClientManager``."""
    return client.Client(instance.session,
                         region_name=instance.region_name,
                         interface=instance.interface)


def build_option_parser(parser):
    """The plugin's global option (one version so far)."""
    parser.add_argument(
        '--os-volume-migration-api-version',
        metavar='<volume-migration-api-version>',
        default=utils.env('OS_VOLUME_MIGRATION_API_VERSION',
                          default=DEFAULT_API_VERSION),
        help='Volume migration plugin API version, default=%s '
             '(Env: OS_VOLUME_MIGRATION_API_VERSION)' % DEFAULT_API_VERSION)
    return parser
