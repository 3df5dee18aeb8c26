"""Detach on real libvirt + QEMU through nova-volmig-aio (issue 16, 13).

``DELETE /servers/{id}/os-volume_attachments/{volume}`` on a running
server answers 202 at once, as upstream; the unplug (which waits for the
guest OS to answer ACPI) runs on the compute host and its outcome is the
``detach_volume`` instance action. A guest with a kernel releases the disk
(Success); a diskless guest cannot, and the event says so (Error) while
the volume stays attached.
"""

from __future__ import annotations

import os
import time

import libvirt

from tests.functional.e2e import test_new_flow
from tests.functional.fixtures import aio as aio_fixtures
from tests.functional.fixtures import libvirt as lv
from volmig_bench.guest import builder
from volmig_bench.guest import protocol

#: The guest's writer waits this long for a disk it will never get: the
#: kernel stays up, with its ACPI hot-plug, for the whole test.
GUEST_ALIVE_S = 600
BOOT_TIMEOUT = 180
SMALL_FLAVOR = '2'  # 256 MiB: the Debian kernel needs about 96


class DetachTestCase(test_new_flow.E2ETestCase):

    nova_conf: dict = {}

    def setUp(self):
        super(test_new_flow.E2ETestCase, self).setUp()
        self.aio = self.useFixture(aio_fixtures.Aio(
            self.state_file('aio'), nova_conf=self.nova_conf))
        self.addOnException(self._attach_log)

    def detach(self, server_id: str, volume_id: str) -> tuple[str, float]:
        """DELETE the attachment: (request id, seconds to answer)."""
        started = time.monotonic()
        resp = self.aio.nova.request(
            'DELETE', '/servers/%s/os-volume_attachments/%s'
            % (server_id, volume_id), expect=202, timeout=30)
        return (resp.headers['x-openstack-request-id'],
                time.monotonic() - started)

    def wait_action(self, server_id: str, request_id: str,
                    timeout: float = 90) -> dict:
        def finished():
            action = self.aio.nova.get(
                '/servers/%s/os-instance-actions/%s'
                % (server_id, request_id), expect=200).json()[
                'instanceAction']
            events = action.get('events') or []
            if events and all(e['result'] for e in events):
                return action
            return None
        return lv.wait_for(finished, timeout=timeout, interval=0.3,
                           what='detach action of %s' % server_id)

    @staticmethod
    def domain_has_disk(server_id: str, target: str, inactive: bool
                        ) -> bool:
        conn = libvirt.open('qemu:///system')
        try:
            dom = conn.lookupByUUIDString(server_id)
            flags = libvirt.VIR_DOMAIN_XML_INACTIVE if inactive else 0
            return "dev='%s'" % target in dom.XMLDesc(flags).replace(
                '"', "'")
        finally:
            conn.close()


class TestDetachBootedGuest(DetachTestCase):

    def booted_server(self) -> dict:
        """A server running the tiny Debian guest, kernel fully up."""
        image = 'detach-guest'
        builder.build(
            os.path.join(self.aio.state_path, 'images', image),
            protocol.WriterParams(device='serial:no-such-disk',
                                  wait_dev=GUEST_ALIVE_S))
        server = self.aio.create_server(imageRef=image,
                                        flavorRef=SMALL_FLAVOR)
        console = os.path.join(self.aio.state_path, 'instances',
                               server['id'], 'console.log')

        def booted():
            try:
                with open(console, errors='replace') as f:
                    return 'volmig-guest: booted' in f.read()
            except FileNotFoundError:
                return False
        lv.wait_for(booted, timeout=BOOT_TIMEOUT, interval=0.5,
                    what='guest kernel up (%s)' % console)
        return server

    def test_202_at_once_then_success_and_the_disk_is_gone(self):
        server = self.booted_server()
        volume = self.aio.create_volume()
        att = self.aio.attach(server['id'], volume['id'])
        target = att['device'].rsplit('/', 1)[-1]
        self.assertTrue(self.domain_has_disk(server['id'], target, False))

        request_id, took = self.detach(server['id'], volume['id'])
        self.assertLess(took, 2)
        action = self.wait_action(server['id'], request_id)
        self.assertEqual('detach_volume', action['action'])
        self.assertEqual([('compute_detach_volume', 'Success')],
                         [(e['event'], e['result'])
                          for e in action['events']])
        self.assertFalse(self.domain_has_disk(server['id'], target, False))
        self.assertFalse(self.domain_has_disk(server['id'], target, True))
        self.aio.wait_volume(volume['id'], 'available')
        self.assertEqual([], self.aio.nova.get(
            '/servers/%s/os-volume_attachments' % server['id'],
            expect=200).json()['volumeAttachments'])
        self.assertIsNone(self.aio.server(server['id'])[
            'OS-EXT-STS:task_state'])


class TestDetachDisklessGuest(DetachTestCase):

    # No guest OS answers the ACPI unplug: fail fast.
    nova_conf = {'libvirt': {'device_detach_timeout': 3}}

    def test_202_at_once_then_an_error_event_and_still_attached(self):
        server = self.aio.create_server()
        volume = self.aio.create_volume()
        att = self.aio.attach(server['id'], volume['id'])
        target = att['device'].rsplit('/', 1)[-1]

        request_id, took = self.detach(server['id'], volume['id'])
        self.assertLess(took, 2)
        action = self.wait_action(server['id'], request_id)
        events = action['events']
        self.assertEqual([('compute_detach_volume', 'Error')],
                         [(e['event'], e['result']) for e in events])
        self.assertIn('did not release disk %s' % target,
                      events[0]['details'])
        # The guest still has the disk, and so do Nova and Cinder.
        self.assertTrue(self.domain_has_disk(server['id'], target, False))
        self.assertEqual('in-use', self.aio.volume(volume['id'])['status'])
        self.aio.nova.get('/servers/%s/os-volume_attachments/%s'
                          % (server['id'], volume['id']), expect=200)
        self.assertIsNone(self.aio.server(server['id'])[
            'OS-EXT-STS:task_state'])
