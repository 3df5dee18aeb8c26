"""A distributed deployment behind a real Keystone (from PyPI).

``KeystoneTestCase`` runs the deployment with ``auth = keystone``
(``volmig_distributed/identity.py``): Keystone under cheroot with
fernet tokens, Nova and Cinder validating tokens with keystonemiddleware
and calling each other as their service users. Its ``cloud`` sends the
admin's real token; :meth:`KeystoneTestCase.session` gives keystoneauth
password sessions of the other users.
"""

from __future__ import annotations

import os
import subprocess
import sys

from keystoneauth1 import session as ks_session

from tests.functional.distributed import fixtures as dist
from tests.functional.fixtures import aio as aio_fixtures
from volmig_distributed import identity

#: user -> (password, project) of the deployment's Keystone
USERS = {
    'admin': (identity.ADMIN_PASSWORD, 'admin'),
    identity.MEMBER_USER: (identity.MEMBER_PASSWORD, identity.MEMBER_PROJECT),
    **{name: (identity.SERVICE_PASSWORD, identity.SERVICE_PROJECT)
       for name in identity.SERVICE_USERS},
}

# Mints a fernet token that expired an hour ago with Keystone's own token
# formatter and key repository: what a client holding an old token sends.
_EXPIRED_TOKEN = '''
import datetime, sys
from oslo_service import backend
backend.init_backend(backend.BackendType.THREADING)
import keystone.conf
from keystone.common import utils
from keystone.token import provider, token_formatters as tf
config_file, user_id, project_id = sys.argv[1:4]
keystone.conf.configure()
keystone.conf.CONF([], project='keystone', default_config_files=[config_file])
keystone.conf.auth.setup_authentication()
at = datetime.datetime.utcnow() - datetime.timedelta(hours=1)
print(tf.TokenFormatter().create_token(
    user_id, utils.isotime(at, subsecond=True),
    [provider.random_urlsafe_str()], tf.ProjectScopedPayload,
    methods=['password'], project_id=project_id))
'''


def openrc(deployment, user: str) -> dict[str, str]:
    """The ``OS_*`` variables of a password login as ``user``."""
    password, project = USERS[user]
    return {'OS_AUTH_URL': deployment.keystone.auth_url,
            'OS_AUTH_TYPE': 'password',
            'OS_USERNAME': user, 'OS_PASSWORD': password,
            'OS_PROJECT_NAME': project,
            'OS_USER_DOMAIN_NAME': 'Default',
            'OS_PROJECT_DOMAIN_NAME': 'Default',
            'OS_REGION_NAME': identity.REGION,
            'OS_IDENTITY_API_VERSION': '3'}


class KeystoneTestCase(dist.DistributedTestCase):
    """One deployment with Keystone per class; ``cloud`` acts as admin."""

    settings: dict = {}
    _sessions: dict[str, ks_session.Session]

    @classmethod
    def setUpClass(cls):
        cls.settings = {'auth': 'keystone', 'keystone_port': 0,
                        **cls.settings}
        super().setUpClass()
        cls._sessions = {}

    def setUp(self):
        super().setUp()
        self.use_cloud_as('admin')

    def use_cloud_as(self, user: str) -> None:
        """Point the REST helpers of ``self.cloud`` at ``user``'s token."""
        session = self.session(user)
        headers = {'X-Auth-Token': session.get_token()}
        info = self.deployment.info
        self.cloud.nova = aio_fixtures.RestClient(
            info['compute_api'], 'compute', '2.105', headers)
        self.cloud.cinder = aio_fixtures.RestClient(
            '%s/%s' % (info['volume_api'], session.get_project_id()),
            'volume', '3.72', headers)

    @classmethod
    def session(cls, user: str) -> ks_session.Session:
        """A password session of ``user`` (cached for the class)."""
        if user not in cls._sessions:
            password, project = USERS[user]
            cls._sessions[user] = cls.deployment.keystone.session(
                user, password, project)
        return cls._sessions[user]

    def rest(self, user: str, service: str) -> aio_fixtures.RestClient:
        """Nova's (``compute``) or Cinder's (``volume``) API as ``user``."""
        session = self.session(user)
        headers = {'X-Auth-Token': session.get_token()}
        info = self.deployment.info
        if service == 'compute':
            return aio_fixtures.RestClient(info['compute_api'], 'compute',
                                           '2.105', headers)
        return aio_fixtures.RestClient(
            '%s/%s' % (info['volume_api'], session.get_project_id()),
            'volume', '3.72', headers)

    def expired_token(self, user: str) -> str:
        session = self.session(user)
        return subprocess.run(
            [sys.executable, '-c', _EXPIRED_TOKEN,
             self.deployment.keystone.config_file,
             session.get_user_id(), session.get_project_id()],
            check=True, capture_output=True, text=True, timeout=60,
            env={**os.environ, 'PYTHONWARNINGS': 'ignore'}).stdout.strip()
