"""What both APIs' OpenAPI documents are held to, as a test mixin."""

from __future__ import annotations

import os
from types import ModuleType

from openapi_spec_validator import validate as validate_spec

ROOT = os.path.join(os.path.dirname(__file__), '..', '..')


class DocumentChecks:
    """Mixed into a TestCase whose setUp sets ``self.document``.

    ``openapi`` is the service's module (``document()``, ``dumps()``,
    ``LINKS``); ``shipped`` the document's path in the repository.
    """

    openapi: ModuleType
    shipped: str
    document: dict

    def test_valid_openapi_3_1(self):
        validate_spec(self.document)
        self.assertEqual('3.1.0', self.document['openapi'])

    def test_links_name_existing_operations_and_parameters(self):
        operations = {op['operationId']: op
                      for item in self.document['paths'].values()
                      for op in item.values()}
        for source, links in self.openapi.LINKS.items():
            self.assertIn(source, operations)
            for link in links.values():
                target = operations[link['operationId']]
                names = {p['name'] for p in target['parameters']
                         if 'name' in p}
                self.assertLessEqual(set(link.get('parameters', {})), names)

    def test_shipped_document_is_current(self):
        with open(os.path.join(ROOT, self.shipped)) as f:
            self.assertEqual(self.openapi.dumps(), f.read(),
                             '%s is stale: run `make genapi`' % self.shipped)
