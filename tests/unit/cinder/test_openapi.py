"""The volume API's OpenAPI document: valid, complete, not restated."""

from unittest import mock

from cinder_driver_side.api import openapi
from cinder_driver_side.api import route_table
from cinder_driver_side.api import validation
from tests.unit.cinder import base
from tests.unit import openapi_checks

SOME_ID = '11111111-2222-3333-4444-555555555555'


class Validated(Exception):
    """Raised by the patched validation.validate: the schema was reached."""


def resolve(document: dict, schema: dict) -> dict:
    prefix = '#/components/schemas/'
    if '$ref' not in schema:
        return schema
    return document['components']['schemas'][schema['$ref'][len(prefix):]]


class OpenAPIDocumentTest(openapi_checks.DocumentChecks, base.CinderTestCase):

    openapi = openapi
    shipped = 'doc/source/cinder/openapi.json'

    def setUp(self):
        super().setUp()
        self.document = openapi.document()

    def test_every_route_and_method(self):
        expected = {(r.path, r.method.lower()) for r in route_table.ROUTES}
        expected.add((openapi.DOCUMENT_PATH, 'get'))
        documented = {(path, method)
                      for path, item in self.document['paths'].items()
                      for method in item}
        self.assertEqual(expected, documented)

    def _handler_schema(self, route: route_table.Route, body: dict) -> dict:
        """The schema the route's handler validates ``body`` with."""
        path = route.path.format(id=SOME_ID, type_id=SOME_ID, key='k')
        if route.controller == 'volumes' and '{id}' in route.path:
            path = path.replace(SOME_ID, self.create_volume())
        seen = []

        def spy(value, schema, name='body'):
            seen.append(schema)
            raise Validated()
        with mock.patch.object(validation, 'validate', spy):
            self.api(route.method, path, body)
        self.assertEqual(1, len(seen), route)
        return seen[0]

    def test_schemas_are_the_handlers_own(self):
        checked = 0
        for route in route_table.ROUTES:
            op = self.document['paths'][route.path][route.method.lower()]
            if route.body is not None:
                documented = resolve(self.document, op['requestBody'][
                    'content']['application/json']['schema'])
                self.assertIs(route.body, documented)
                self.assertIs(route.body, self._handler_schema(route, {}))
                checked += 1
            for name, schema in (route.actions or {}).items():
                variants = op['requestBody']['content'][
                    'application/json']['schema']['oneOf']
                self.assertTrue(any(
                    resolve(self.document, v['properties'][name]) is schema
                    for v in variants if name in v['properties']), name)
                if schema is not route_table._ANY:
                    self.assertIs(schema, self._handler_schema(
                        route, {name: {}}))
                    checked += 1
        self.assertEqual(10, checked)  # + snapshots, cancel

    def test_served_without_auth(self):
        status, body = self.api('GET', '/v3/openapi.json', token=None,
                                version=None)
        self.assertEqual(200, status)
        self.assertEqual(self.document, body)
        status, body = self.api('DELETE', '/v3/openapi.json', token=None)
        self.assertEqual(405, status)
        self.assertIn('badMethod', body)
