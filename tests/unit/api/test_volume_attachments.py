"""REST tests of os-volume_attachments, legacy swap included."""

from nova_volmig import exception
from tests.unit.api import fakes

VOLUME = '0d4f3c2b-1a09-4876-9543-21fedcba9876'
NEW_VOLUME = 'a1b2c3d4-e5f6-4789-8abc-def012345678'


class VolumeAttachmentsTest(fakes.APITestCase):

    def setUp(self):
        super().setUp()
        self.instance = fakes.instance()
        self.compute_api.get.return_value = self.instance
        self.bdm = fakes.bdm(self.instance.uuid, volume_id=VOLUME)
        self.compute_api.get_attachment.return_value = self.bdm
        self.compute_api.get_attachments.return_value = [self.bdm]
        self.url = '/v2.1/servers/%s/os-volume_attachments' % \
            self.instance.uuid

    def test_bodies_per_microversion(self):
        old = self.request('GET', self.url).json_body['volumeAttachments']
        self.assertEqual([{'id': VOLUME, 'volumeId': VOLUME,
                           'serverId': self.instance.uuid,
                           'device': '/dev/vdb'}], old)

        v279 = self.request('GET', self.url, version='2.79').json_body
        body = v279['volumeAttachments'][0]
        self.assertIsNone(body['tag'])
        self.assertFalse(body['delete_on_termination'])
        self.assertIn('id', body)

        v289 = self.request('GET', '%s/%s' % (self.url, VOLUME),
                            version='2.89').json_body['volumeAttachment']
        self.assertNotIn('id', v289)
        self.assertEqual(self.bdm.attachment_id, v289['attachment_id'])
        self.assertEqual(36, len(v289['bdm_uuid']))
        again = self.request('GET', '%s/%s' % (self.url, VOLUME),
                             version='2.89').json_body['volumeAttachment']
        self.assertEqual(v289['bdm_uuid'], again['bdm_uuid'])
        self.assertNotIn('swap_progress', v289)

    def test_swap_progress_at_2_105_only(self):
        self.bdm.swap_progress = '42'
        path = '%s/%s' % (self.url, VOLUME)
        body = self.request('GET', path, version='2.105').json_body
        self.assertEqual('42', body['volumeAttachment']['swap_progress'])
        body = self.request('GET', path, version='2.104').json_body
        self.assertNotIn('swap_progress', body['volumeAttachment'])
        self.bdm.swap_progress = None
        body = self.request('GET', path, version='2.105').json_body
        self.assertNotIn('swap_progress', body['volumeAttachment'])

    def test_attach_answers_200(self):
        self.compute_api.attach_volume.return_value = self.bdm
        resp = self.request('POST', self.url,
                            {'volumeAttachment': {'volumeId': VOLUME}})
        self.assertEqual(200, resp.status_int)
        self.assertEqual(VOLUME, resp.json_body['volumeAttachment']['id'])
        call = self.compute_api.attach_volume.call_args
        self.assertEqual(VOLUME, call.args[2])
        self.assertIsNone(call.kwargs['device'])

    def test_attach_with_device(self):
        self.compute_api.attach_volume.return_value = self.bdm
        resp = self.request('POST', self.url, {'volumeAttachment': {
            'volumeId': VOLUME, 'device': '/dev/vdc'}})
        self.assertEqual(200, resp.status_int)
        self.assertEqual('/dev/vdc', self.compute_api.attach_volume
                         .call_args.kwargs['device'])

    def test_attach_schema_errors(self):
        for body, version, message in (
                ({'volumeAttachment': {'volumeId': 'vol'}}, None,
                 'vol is not a valid UUID'),
                ({'volumeAttachment': {}}, None, "'volumeId' is a required"),
                ({'volumeAttachment': {'volumeId': VOLUME, 'tag': 't'}},
                 '2.48', "('tag' was unexpected)"),
                ({'volumeAttachment': {'volumeId': VOLUME, 'tag': 't'}},
                 '2.49', 'tagged volume attachments are not supported'),
                ({'volumeAttachment': {'volumeId': VOLUME,
                                       'delete_on_termination': True}},
                 '2.79', 'delete_on_termination=true is not supported'),
                ({'volumeAttachment': {'volumeId': VOLUME,
                                       'device': 'vdb; rm'}},
                 None, 'Invalid input for field/attribute device')):
            resp = self.request('POST', self.url, body, version=version)
            self.assertFault(resp, 400, 'badRequest', message)
        self.compute_api.attach_volume.assert_not_called()

    def test_attach_multiattach_is_409(self):
        self.compute_api.attach_volume.side_effect = \
            exception.MultiattachNotSupported(volume_id=VOLUME)
        resp = self.request('POST', self.url,
                            {'volumeAttachment': {'volumeId': VOLUME}})
        self.assertFault(resp, 409, 'conflict', 'multiattach')

    def test_detach_answers_202(self):
        resp = self.request('DELETE', '%s/%s' % (self.url, VOLUME))
        self.assertEqual(202, resp.status_int)
        self.assertEqual(VOLUME,
                         self.compute_api.detach_volume.call_args.args[2])

    def test_detach_unknown_volume_is_404(self):
        self.compute_api.detach_volume.side_effect = \
            exception.VolumeBDMNotFound(volume_id='nope',
                                        instance_uuid=self.instance.uuid)
        resp = self.request('DELETE', '%s/nope' % self.url)
        self.assertFault(resp, 404, 'itemNotFound', 'is not attached')

    def test_swap_answers_202_for_the_service(self):
        resp = self.service('PUT', '%s/%s' % (self.url, VOLUME),
                            {'volumeAttachment': {'volumeId': NEW_VOLUME}},
                            version=None)
        self.assertEqual(202, resp.status_int)
        self.assertEqual((VOLUME, NEW_VOLUME),
                         self.compute_api.swap_volume.call_args.args[2:])

    def test_swap_is_admin_or_service_only(self):
        resp = self.request('PUT', '%s/%s' % (self.url, VOLUME),
                            {'volumeAttachment': {'volumeId': NEW_VOLUME}})
        self.assertFault(resp, 403, 'forbidden',
                         'os-volumes-attachments:swap')
        self.compute_api.swap_volume.assert_not_called()

    def test_swap_refused_without_cinder_migration_is_409(self):
        self.compute_api.swap_volume.side_effect = \
            exception.VolumeSwapRefused(volume_id=VOLUME,
                                        reason='no migration_status')
        resp = self.admin('PUT', '%s/%s' % (self.url, VOLUME),
                          {'volumeAttachment': {'volumeId': NEW_VOLUME}})
        self.assertFault(resp, 409, 'conflict', 'no migration_status')

    def test_swap_schema_errors(self):
        for body, message in (
                ({'volumeAttachment': {'volumeId': 'x'}},
                 'x is not a valid UUID'),
                ({'volumeAttachment': {'volumeId': NEW_VOLUME,
                                       'device': '/dev/vdb'}},
                 "('device' was unexpected)"),
                ({'volumeAttachment': {'volumeId': VOLUME}},
                 'cannot be swapped for itself')):
            resp = self.admin('PUT', '%s/%s' % (self.url, VOLUME), body)
            self.assertFault(resp, 400, 'badRequest', message)

    def test_locked_instance_is_409(self):
        self.compute_api.detach_volume.side_effect = \
            exception.InstanceIsLocked(instance_uuid=self.instance.uuid)
        resp = self.request('DELETE', '%s/%s' % (self.url, VOLUME))
        self.assertFault(resp, 409, 'conflict', 'locked')
