"""A real Keystone (from PyPI) for a deployment: its own identity service.

Keystone is served by cheroot (``keystone_wsgi``, a standard WSGI server)
on its own SQLite database with fernet tokens, bootstrapped with
``keystone-manage bootstrap``. :meth:`Keystone.populate` then adds what a
cloud around nova-volmig has (DevStack's names):

* the ``service`` project, and in it the service users ``nova``,
  ``cinder`` and ``watcher`` holding the ``service`` role (``watcher``
  the ``admin`` role too, as DevStack gives it);
* the ``demo`` project and its ``demo`` user with the ``member`` role;
* the catalog: ``compute`` (nova) and ``block-storage`` / ``volumev3``
  (cinder) in ``RegionOne``.

:meth:`nova_options` and :meth:`cinder_options` are the configuration
groups that switch both services to keystonemiddleware and make their
calls to each other with the service user of their ``[cinder]`` /
``[nova]`` auth section.
"""

from __future__ import annotations

import configparser
import grp
import os
import pwd
import shutil
import socket
import subprocess
import sys

from keystoneauth1.identity import v3
from keystoneauth1 import session as ks_session
import requests

from . import services

REGION = 'RegionOne'
# Loopback-only test deployments, as the database passwords.
ADMIN_PASSWORD = 'volmig-admin'
SERVICE_PASSWORD = 'volmig-service'
MEMBER_PASSWORD = 'volmig-demo'
SERVICE_PROJECT = 'service'
SERVICE_USERS = ('nova', 'cinder', 'watcher')
#: Watcher reads every project's servers and volumes: DevStack's watcher
#: plugin gives its service user the admin role too.
ADMIN_SERVICE_USERS = ('watcher',)
MEMBER_PROJECT = 'demo'
MEMBER_USER = 'demo'

_CONFIG = """\
# Keystone of a nova-volmig deployment (volmig_distributed).
[DEFAULT]
debug = {debug}

[database]
connection = sqlite:///{state}/keystone.sqlite

[token]
provider = fernet
expiration = {expiration}

[fernet_tokens]
key_repository = {state}/fernet-keys

[fernet_receipts]
key_repository = {state}/fernet-keys

[credential]
key_repository = {state}/credential-keys

[identity]
# bcrypt's minimum: every password authentication stays cheap on a test
# machine (Keystone's default is 12).
password_hash_rounds = 4

[cache]
enabled = false
"""


def for_deployment(deployment) -> Keystone | None:
    """The Keystone of a ``Deployment`` (None: it runs noauth2)."""
    settings = deployment.settings
    if settings.auth != 'keystone':
        return None
    return Keystone(os.path.join(deployment.state_path, 'keystone'),
                    settings.listen, settings.keystone_port,
                    debug=settings.debug)


def start_for(deployment, name: str) -> Keystone:
    """A deployment's fresh Keystone, set up and serving (no users yet).

    Picks its port (``keystone_port`` 0: a free one), then runs it as the
    deployment's service ``name``; stops the deployment if it fails.
    """
    settings = deployment.settings
    if not settings.keystone_port:
        settings.keystone_port = deployment_free_port(settings.listen)
    keystone = deployment.keystone = for_deployment(deployment)
    keystone.write_config()
    keystone.setup()
    for directory in (deployment.log_dir, deployment.run_dir):
        os.makedirs(directory, exist_ok=True)
    deployment._define_services()
    deployment.spawn(name)
    try:
        deployment.wait_ready([name])
    except Exception:
        deployment.stop()
        raise
    return keystone


def deployment_free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def serve_for_aio(state_path: str, port: int, compute_url: str,
                  volume_url: str, listen: str = services.LOOPBACK
                  ) -> tuple[Keystone, subprocess.Popen]:
    """A Keystone for nova-volmig-aio (``tools/aio_keystone.py``).

    Sets it up under ``state_path/keystone``, serves it (the caller stops
    the process), populates it with the given endpoints, and writes
    ``state_path/nova-keystone.conf`` and ``cinder-keystone.conf`` for the
    aio's ``--config-file`` and ``--cinder-config-file``.
    """
    keystone = Keystone(os.path.join(state_path, 'keystone'), listen, port)
    keystone.write_config()
    keystone.setup()
    log_path = os.path.join(keystone.state_path, 'keystone.log')
    with open(log_path, 'ab') as log:
        process = subprocess.Popen(keystone.argv(), stdout=log,
                                   stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)

    def ready() -> bool:
        if process.poll() is not None:
            raise services.ServiceError('keystone exited (%s), see %s'
                                        % (process.returncode, log_path))
        try:
            return requests.get(keystone.auth_url, timeout=2).ok
        except requests.RequestException:
            return False

    try:
        services.wait_until(ready, 90, 'keystone to serve')
        keystone.populate(compute_url, volume_url)
    except BaseException:
        process.terminate()
        process.wait(30)
        raise
    for side, options in (('nova', keystone.nova_options()),
                          ('cinder', keystone.cinder_options())):
        parser = configparser.ConfigParser(interpolation=None)
        parser.optionxform = str
        parser.read_dict(options)
        path = os.path.join(state_path, '%s-keystone.conf' % side)
        with open(path, 'w') as f:
            parser.write(f)
        os.chmod(path, 0o600)  # it holds the service user's password
    return keystone, process


def keystone_manage() -> str:
    return os.path.join(os.path.dirname(sys.executable), 'keystone-manage')


class Keystone:
    """Keystone's configuration, set-up, process and users.

    :param state_path: directory of its database, keys and configuration
    :param expiration: token lifetime in seconds (``[token] expiration``)
    """

    def __init__(self, state_path: str, listen: str, port: int,
                 debug: bool = False, expiration: int = 3600):
        self.state_path = os.path.abspath(state_path)
        self.listen = listen
        self.port = port
        self.debug = debug
        self.expiration = expiration
        self.config_file = os.path.join(self.state_path, 'keystone.conf')

    @property
    def url(self) -> str:
        return 'http://%s:%d' % (self.listen, self.port)

    @property
    def auth_url(self) -> str:
        return self.url + '/v3'

    def argv(self) -> list[str]:
        """The server process: Keystone's WSGI app under cheroot."""
        # By path: the service runs in its state directory, where the
        # repository's tools/ is not importable.
        return [sys.executable, os.path.join(os.path.dirname(
                    os.path.abspath(__file__)), 'keystone_wsgi.py'),
                '--config-file', self.config_file,
                '--listen', self.listen, '--port', str(self.port)]

    def write_config(self) -> None:
        """A fresh Keystone: each start bootstraps a new database."""
        shutil.rmtree(self.state_path, ignore_errors=True)
        os.makedirs(self.state_path)
        with open(self.config_file, 'w') as f:
            f.write(_CONFIG.format(state=self.state_path,
                                   debug=str(self.debug).lower(),
                                   expiration=self.expiration))
        os.chmod(self.config_file, 0o600)

    def _manage(self, *args: str) -> str:
        return services.execute(keystone_manage(), '--config-file',
                                self.config_file, *args)

    def setup(self) -> None:
        """Schema, fernet and credential keys, the bootstrap admin.

        ``keystone-manage bootstrap`` creates the ``admin`` user and
        project, the ``admin``, ``manager``, ``member``, ``reader`` and
        ``service`` roles, and Keystone's own catalog entry.
        """
        user = pwd.getpwuid(os.getuid()).pw_name
        group = grp.getgrgid(os.getgid()).gr_name
        self._manage('db_sync')
        for command in ('fernet_setup', 'credential_setup'):
            self._manage(command, '--keystone-user', user,
                         '--keystone-group', group)
        self._manage('bootstrap', '--bootstrap-password', ADMIN_PASSWORD,
                     '--bootstrap-admin-url', self.auth_url,
                     '--bootstrap-public-url', self.auth_url,
                     '--bootstrap-internal-url', self.auth_url,
                     '--bootstrap-region-id', REGION)

    # Users, projects, catalog

    def session(self, username: str = 'admin',
                password: str = ADMIN_PASSWORD,
                project_name: str = 'admin') -> ks_session.Session:
        """A keystoneauth session with a password of this Keystone."""
        auth = v3.Password(auth_url=self.auth_url, username=username,
                           password=password, project_name=project_name,
                           user_domain_id='default',
                           project_domain_id='default')
        return ks_session.Session(auth=auth)

    def populate(self, compute_url: str, volume_url: str) -> None:
        """Service and member users, projects, roles and the catalog.

        :param compute_url: Nova's endpoint (``.../v2.1``)
        :param volume_url: Cinder's endpoint (``.../v3``); the catalog
            holds it with ``%(project_id)s`` as upstream's does
        """
        admin = _Admin(self.session())
        roles = {r['name']: r['id'] for r in admin.list('roles')}
        service_project = admin.create('projects', name=SERVICE_PROJECT,
                                       domain_id='default')
        member_project = admin.create('projects', name=MEMBER_PROJECT,
                                      domain_id='default')
        for name in SERVICE_USERS:
            user = admin.create('users', name=name, domain_id='default',
                                password=SERVICE_PASSWORD,
                                default_project_id=service_project)
            admin.grant(service_project, user, roles['service'])
            if name in ADMIN_SERVICE_USERS:
                admin.grant(service_project, user, roles['admin'])
        demo = admin.create('users', name=MEMBER_USER, domain_id='default',
                            password=MEMBER_PASSWORD,
                            default_project_id=member_project)
        admin.grant(member_project, demo, roles['member'])
        volume = volume_url.rstrip('/') + '/%(project_id)s'
        for name, kind, url in (
                ('nova', 'compute', compute_url),
                ('cinder', 'block-storage', volume),
                ('cinderv3', 'volumev3', volume)):
            service = admin.create('services', name=name, type=kind)
            for interface in ('public', 'internal', 'admin'):
                admin.create('endpoints', service_id=service,
                             interface=interface, url=url, region_id=REGION)

    # The services' configuration

    def _authtoken(self, user: str) -> dict[str, str]:
        return {'www_authenticate_uri': self.auth_url,
                'auth_url': self.auth_url,
                'auth_type': 'password',
                'username': user,
                'password': SERVICE_PASSWORD,
                'project_name': SERVICE_PROJECT,
                'user_domain_name': 'Default',
                'project_domain_name': 'Default',
                'region_name': REGION,
                'service_type': '',
                'service_token_roles_required': 'true'}

    def _client_auth(self, user: str) -> dict[str, str]:
        return {'auth_strategy': 'keystone',
                'auth_type': 'password',
                'auth_url': self.auth_url,
                'username': user,
                'password': SERVICE_PASSWORD,
                'project_name': SERVICE_PROJECT,
                'user_domain_name': 'Default',
                'project_domain_name': 'Default'}

    def nova_options(self) -> dict[str, dict[str, str]]:
        authtoken = self._authtoken('nova')
        authtoken['service_type'] = 'compute'
        return {'api': {'auth_strategy': 'keystone'},
                'keystone_authtoken': authtoken,
                'cinder': self._client_auth('nova')}

    def cinder_options(self) -> dict[str, dict[str, str]]:
        authtoken = self._authtoken('cinder')
        authtoken['service_type'] = 'block-storage'
        return {'DEFAULT': {'auth_strategy': 'keystone'},
                'keystone_authtoken': authtoken,
                'nova': self._client_auth('cinder')}


class _Admin:
    """Keystone's identity v3 API through an admin session."""

    def __init__(self, session: ks_session.Session):
        self.session = session
        self.endpoint = {'service_type': 'identity', 'interface': 'public'}

    def list(self, collection: str) -> list[dict]:
        return self.session.get('/%s' % collection,
                                endpoint_filter=self.endpoint
                                ).json()[collection]

    def create(self, collection: str, **body) -> str:
        """POST a new entity; its id."""
        resp = self.session.post('/%s' % collection,
                                 json={collection[:-1]: body},
                                 endpoint_filter=self.endpoint)
        return resp.json()[collection[:-1]]['id']

    def grant(self, project_id: str, user_id: str, role_id: str) -> None:
        self.session.put('/projects/%s/users/%s/roles/%s'
                         % (project_id, user_id, role_id),
                         endpoint_filter=self.endpoint)
