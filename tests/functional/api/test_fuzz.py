"""Property-based fuzz of both APIs of nova-volmig-aio (issue 16).

Schemathesis reads each API's own OpenAPI document (served at
``/v2.1/openapi.json`` and ``/v3/openapi.json``) and runs its examples,
coverage, fuzzing and stateful phases against the real aio (libvirt +
QEMU), bounded in time. Checks: no answer >= 500, every 4xx a JSON fault
body, no answer slower than 5 s. A failure lists each case with the curl
command that reproduces it.
"""

from __future__ import annotations

from concurrent import futures
import contextlib
import glob
import os
import sqlite3

import libvirt
import testtools

from tests import base
from tests.functional.fixtures import aio as aio_fixtures
from tests.functional.fixtures import fuzz

HEADERS = {'X-Auth-Token': 'admin:admin', 'X-Roles': 'admin'}
# Seconds of fuzzing per API: the whole test stays under ~90 s. Longer or
# other runs for a hunt: VOLMIG_FUZZ_SECONDS=600 VOLMIG_FUZZ_SEED=7.
MAX_TIME = int(os.environ.get('VOLMIG_FUZZ_SECONDS', 40))
SEED = int(os.environ.get('VOLMIG_FUZZ_SEED', 16))
MAX_EXAMPLES = 8
# Each accepted POST /servers boots a QEMU domain: a few are enough.
OPERATIONS = [{'include-operation-id': 'servers.create',
               'generation': {'max-examples': 3}}]


def remove_domains(state_path: str) -> None:
    """Undefine the domains of every instance the aio's Nova recorded."""
    paths = glob.glob(os.path.join(state_path, '**', 'nova-volmig.sqlite'),
                      recursive=True)
    uuids = []
    for path in paths:
        with contextlib.closing(sqlite3.connect(path)) as db:
            uuids += [row[0] for row in db.execute(
                'SELECT uuid FROM instances')]
    conn = libvirt.open('qemu:///system')

    def remove(dom):
        try:
            if dom.isActive():
                dom.destroy()
            dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)
        except libvirt.libvirtError:
            pass  # gone meanwhile

    try:
        # libvirt takes ~2 s per destroy: the fuzz boots dozens.
        doomed = [dom for dom in conn.listAllDomains()
                  if dom.UUIDString() in uuids]
        with futures.ThreadPoolExecutor(16) as pool:
            list(pool.map(remove, doomed))
    finally:
        conn.close()


def error_lines(log_path: str, limit: int = 300) -> str:
    """The aio log's ERROR messages, without their traceback lines."""
    with open(log_path, errors='replace') as f:
        lines = [line for line in f if ' ERROR ' in line
                 and '] ' in line.split(' ERROR ', 1)[1][:200]]
    return ''.join(lines[-limit:])


class FuzzTestCase(base.TestCase):
    """A real aio and schemathesis.

    One API per class: stestr groups tests by class, so the two run in
    parallel.
    """

    def setUp(self):
        super().setUp()
        state_path = self.state_file('aio')
        # Registered first, so it runs once the aio has stopped.
        self.addCleanup(remove_domains, state_path)
        self.aio = self.useFixture(aio_fixtures.Aio(state_path))
        self.fuzz = self.useFixture(fuzz.Schemathesis(
            self.state_file('fuzz'), operations=OPERATIONS))
        self.addOnException(self._attach_log)

    def _attach_log(self, exc_info):
        # What caused each 5xx: the fuzz's curl lines name the requests.
        self.addDetail('aio-errors', testtools.content.text_content(
            error_lines(self.aio.log_path)))

    def assertFuzzClean(self, result: fuzz.FuzzResult) -> None:
        self.addDetail('schemathesis', testtools.content.text_content(
            result.output))
        self.assertTrue(result.ok, 'schemathesis found failures:\n%s'
                        % result.findings)


class TestComputeAPIFuzz(FuzzTestCase):

    def test_compute_api(self):
        server = self.aio.create_server('fuzz')
        volume = self.aio.create_volume()
        spare = self.aio.create_volume()
        att = self.aio.attach(server['id'], volume['id'])
        attachment_id = self.aio.cinder.get(
            '/attachments?volume_id=%s' % volume['id'],
            expect=200).json()['attachments'][0]['id']
        actions = self.aio.nova.get(
            '/servers/%s/os-instance-actions' % server['id'],
            expect=200).json()['instanceActions']
        server_id = {'parameters': {'server_id': server['id']}}
        on_volume = {'parameters': {'server_id': server['id'],
                                    'id': att['volumeId']}}
        on_attachment = {'parameters': {'id': attachment_id}}
        document = fuzz.document_with_examples(
            self.aio.info['compute'] + '/openapi.json', {
                'servers.show': {'parameters': {'id': server['id']}},
                'servers.action': {'parameters': {'id': server['id']}},
                'volume_attachments.index': server_id,
                'volume_attachments.create': dict(server_id, body={
                    'volumeAttachment': {'volumeId': spare['id']}}),
                'volume_attachments.show': on_volume,
                'volume_attachments.update': dict(on_volume, body={
                    'volumeAttachment': {'volumeId': spare['id']}}),
                'volume_attachments.delete': on_volume,
                'instance_actions.index': server_id,
                'instance_actions.show': {'parameters': {
                    'server_id': server['id'],
                    'id': actions[0]['request_id']}},
                'flavors.show': {'parameters': {'id': '1'}},
                'volume_migrations.create': {'body': {'volume_migration': {
                    'src_attachment_id': attachment_id}}},
                'volume_migrations.show': on_attachment,
                'volume_migrations.action': dict(on_attachment, body={
                    'cancel': None}),
            })
        result = self.fuzz.run(
            'compute', document, self.aio.info['compute'],
            dict(HEADERS, **{'OpenStack-API-Version': 'compute 2.105'}),
            max_examples=MAX_EXAMPLES, max_time=MAX_TIME, seed=SEED)
        self.assertFuzzClean(result)


class TestVolumeAPIFuzz(FuzzTestCase):

    def test_volume_api(self):
        volume = self.aio.create_volume()
        attached = self.aio.create_volume()
        attachment = self.aio.cinder.post('/attachments', {'attachment': {
            'volume_uuid': attached['id']}}, expect=200).json()['attachment']
        vtype = self.aio.cinder.post('/types', {'volume_type': {
            'name': 'fuzz', 'extra_specs': {'k': 'v'}}},
            expect=200).json()['volume_type']
        on_volume = {'parameters': {'id': volume['id']}}
        on_attachment = {'parameters': {'id': attachment['id']}}
        on_type = {'parameters': {'type_id': vtype['id']}}
        document = fuzz.document_with_examples(
            self.aio.info['volume'] + '/openapi.json', {
                'volumes.show': on_volume,
                'volumes.migration': on_volume,
                'volumes.action': dict(on_volume, body={
                    'os-migrate_volume': {'host': 'aio@array1#pool2'}}),
                'attachments.create': {'body': {'attachment': {
                    'volume_uuid': volume['id'],
                    'connector': {'host': 'fuzz', 'initiator': 'x'}}}},
                'attachments.show': on_attachment,
                'attachments.update': dict(on_attachment, body={
                    'attachment': {'connector': {'host': 'fuzz'}}}),
                'attachments.action': dict(on_attachment, body={
                    'os-complete': None}),
                'attachments.delete': on_attachment,
                'types.show': {'parameters': {'id': vtype['id']}},
                'types.extra_specs_index': on_type,
                'types.extra_specs_create': dict(on_type, body={
                    'extra_specs': {'fuzz': 'yes'}}),
                'types.extra_specs_delete': {'parameters': {
                    'type_id': vtype['id'], 'key': 'k'}},
            })
        result = self.fuzz.run(
            'volume', document, self.aio.info['volume'],
            dict(HEADERS, **{'OpenStack-API-Version': 'volume 3.72'}),
            max_examples=MAX_EXAMPLES, max_time=MAX_TIME, seed=SEED)
        self.assertFuzzClean(result)
