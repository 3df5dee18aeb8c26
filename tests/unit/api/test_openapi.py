"""The compute API's OpenAPI document: valid, complete, not restated."""

from nova_volmig.api import openapi
from nova_volmig.api.openstack.compute import routes
from nova_volmig.api.openstack.compute import servers
from nova_volmig.api.openstack.compute import volume_attachments
from nova_volmig.api.schemas import servers as servers_schema
from nova_volmig.api.schemas import volume_attachments as va_schema
from nova_volmig.api import validation
from tests.unit.api import fakes
from tests.unit import openapi_checks


def resolve(document: dict, ref: dict) -> dict:
    prefix = '#/components/schemas/'
    return document['components']['schemas'][ref['$ref'][len(prefix):]]


class OpenAPIDocumentTest(openapi_checks.DocumentChecks, fakes.APITestCase):

    openapi = openapi
    shipped = 'doc/source/api/openapi.json'

    def setUp(self):
        super().setUp()
        self.document = openapi.document()

    def test_every_route_and_method(self):
        expected = {(path, method.lower())
                    for path, methods in routes.ROUTE_LIST if path
                    for method in methods}
        expected.add((openapi.DOCUMENT_PATH, 'get'))
        documented = {(path, method)
                      for path, item in self.document['paths'].items()
                      for method in item}
        self.assertEqual(expected, documented)
        op_ids = [op['operationId'] for item in
                  self.document['paths'].values() for op in item.values()]
        self.assertEqual(len(op_ids), len(set(op_ids)))

    def test_body_schemas_are_the_validators_own(self):
        body = self.document['paths']['/servers']['post']['requestBody']
        self.assertIs(servers_schema.create,
                      resolve(self.document,
                              body['content']['application/json']['schema']))
        # Three microversion ranges: the three schemas, in order.
        body = self.document['paths'][
            '/servers/{server_id}/os-volume_attachments']['post'][
            'requestBody']['content']['application/json']
        self.assertEqual(
            [va_schema.create, va_schema.create_v249, va_schema.create_v279],
            [resolve(self.document, ref) for ref in body['schema']['anyOf']])
        for ref, (schema, low, high) in zip(
                body['x-openstack-microversions'],
                sorted(volume_attachments.VolumeAttachmentController.create
                       .request_body_schemas, key=lambda e: e[1])):
            self.assertIs(schema, resolve(self.document, ref['schema']))
            self.assertEqual((low, high), (ref['min_version'],
                                           ref['max_version']))
        # Actions: one schema per @action method.
        action = self.document['paths']['/servers/{id}/action']['post']
        self.assertCountEqual(
            [servers_schema.start, servers_schema.stop],
            [resolve(self.document, ref) for ref in action['requestBody'][
                'content']['application/json']['schema']['oneOf']])

    def test_every_recorded_schema_is_documented(self):
        components = self.document['components']['schemas']
        for _path, methods in routes.ROUTE_LIST:
            for controller, action in methods.values():
                cls = routes.CONTROLLERS[controller][0]
                handlers = ([getattr(cls, action)] if action != 'action'
                            else [m for m in vars(cls).values()
                                  if getattr(m, 'wsgi_action', None)])
                for handler in handlers:
                    for schema, _l, _h in getattr(
                            handler, 'request_body_schemas', []):
                        self.assertTrue(any(schema is c for c in
                                            components.values()),
                                        (controller, action))

    def test_query_parameters_are_the_query_schema_properties(self):
        params = {p['name']: p for p in self.document['paths'][
            '/servers']['get']['parameters'] if p.get('in') == 'query'}
        self.assertEqual(set(servers_schema.index_query['properties']),
                         set(params))
        for name, param in params.items():
            self.assertIs(servers_schema.index_query['properties'][name],
                          param['schema'])

    def test_served_without_auth(self):
        resp = self.request('GET', '/v2.1/openapi.json', user=None)
        self.assertEqual(200, resp.status_int)
        self.assertEqual('application/json', resp.content_type)
        self.assertEqual(self.document, resp.json_body)
        resp = self.request('POST', '/v2.1/openapi.json', user=None)
        self.assertFault(resp, 405, 'badMethod')


class DecoratorRecordTest(fakes.APITestCase):

    def test_stacked_schemas_are_recorded_apart(self):
        first, second = {'type': 'object'}, {'type': 'null'}

        @validation.schema(first, '2.1', '2.10')
        @validation.schema(second, '2.11')
        def handler(self, req, body):
            pass

        @validation.schema(second)
        def other(self, req, body):
            pass

        self.assertEqual([(second, '2.11', None), (first, '2.1', '2.10')],
                         handler.request_body_schemas)
        self.assertEqual([(second, None, None)], other.request_body_schemas)
        self.assertEqual([(servers_schema.index_query, None, None)],
                         servers.ServersController.index.query_schemas)
