"""tools/test_times.py: stestr learns the tests' durations on a clean clone."""

from dbm import dumb
import importlib.util
import json
import os

from tests import base

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def _module():
    spec = importlib.util.spec_from_file_location(
        'test_times', os.path.join(ROOT, 'tools', 'test_times.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TestTimesTest(base.TestCase):

    def test_load_adds_what_stestr_does_not_know_then_save(self):
        times = _module()
        repository = os.path.join(self.state_path, '.stestr')
        os.makedirs(repository)
        db = dumb.open(os.path.join(repository, 'times.dbm'), 'c')
        db['tests.a.A.test_measured_here'] = '2.5'
        db.close()
        saved = os.path.join(self.state_path, 'times.json')
        with open(saved, 'w') as f:
            json.dump({'tests.a.A.test_measured_here': 99.0,
                       'tests.b.B.test_new': 7.25}, f)
        self.assertEqual(1, times.load(saved, repository))
        out = os.path.join(self.state_path, 'out.json')
        self.assertEqual(2, times.save(out, repository))
        with open(out) as f:
            self.assertEqual({'tests.a.A.test_measured_here': 2.5,
                              'tests.b.B.test_new': 7.2}, json.load(f))

    def test_the_saved_durations_name_existing_tests(self):
        with open(os.path.join(ROOT, 'tests', 'test-times.json')) as f:
            durations = json.load(f)
        self.assertGreater(len(durations), 500)
        modules = {test.rsplit('.', 2)[0] for test in durations}
        missing = [m for m in modules if not os.path.exists(
            os.path.join(ROOT, *m.split('.')) + '.py')]
        self.assertEqual([], missing)
