"""Run upstream Watcher's ``volume_migrate`` action once, unpatched.

``python watcher_action.py WATCHER_CONF PARAMETERS_JSON [PHASES]`` loads
the action class the way watcher-applier does (stevedore entry point
``watcher_actions: volume_migrate`` through Watcher's
``DefaultActionLoader``), gives it the input parameters, and runs the
phases of Watcher's workflow engine in order: ``validate``
(``validate_parameters``), ``pre_condition``, ``execute``,
``post_condition`` (PHASES, comma-separated, default all). It prints one
JSON line: the phase that ended the run, the outcome (``succeeded``,
``failed`` or ``skipped``), the exception message if any, and every log
record of the ``watcher`` loggers (the action reports its refusals there:
``execute`` returns False after logging them).

A process of its own: Watcher configures the global ``oslo.config``
object with its own ``[nova]`` and ``[cinder]`` groups, which must not
meet the project's in the test runner.

One thing differs from watcher-applier: Watcher's Cinder helper sleeps
10 s between two looks at a migrating, retyping or deleting volume (its
``retry_interval`` default, which the action does not set), and here it
sleeps ``POLL_SECONDS``. It makes the same calls in the same order and
waits for the same states; only the pauses between them are shorter (it
still gives up on a deletion after 120 looks: here after a minute).
"""

from __future__ import annotations

import json
import logging
import sys
import time

PHASES = ('validate', 'pre_condition', 'execute', 'post_condition')
#: seconds between two of Watcher's looks at a volume (its default: 10)
POLL_SECONDS = 0.5


class _ShortPolls:
    """The ``time`` module for Watcher's Cinder helper, shorter sleeps."""

    def __getattr__(self, name):
        return getattr(time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        time.sleep(min(seconds, POLL_SECONDS))


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        line = '%s %s: %s' % (record.levelname, record.name,
                              record.getMessage())
        if record.exc_info and record.exc_info[1] is not None:
            line += ' [%s: %s]' % (type(record.exc_info[1]).__name__,
                                   record.exc_info[1])
        self.lines.append(line)


def main(argv: list[str]) -> int:
    config_file, parameters = argv[1], json.loads(argv[2])
    phases = argv[3].split(',') if len(argv) > 3 else list(PHASES)

    from oslo_service import backend
    backend.init_backend(backend.BackendType.THREADING)
    from watcher.applier.loading import default
    from watcher.common import cinder_helper
    from watcher.common import exception
    from watcher import conf

    cinder_helper.time = _ShortPolls()

    conf.CONF(['--config-file', config_file], project='watcher')
    records = _Records()
    logging.getLogger('watcher').addHandler(records)
    logging.getLogger('watcher').setLevel(logging.DEBUG)

    result = {'phase': None, 'outcome': 'succeeded', 'message': None}
    action = default.DefaultActionLoader().load('volume_migrate')
    action.input_parameters = parameters
    for phase in phases:
        result['phase'] = phase
        try:
            if phase == 'validate':
                action.validate_parameters()
            elif phase == 'pre_condition':
                action.pre_condition()
            elif phase == 'execute':
                if not action.execute():
                    result['outcome'] = 'failed'
            else:
                action.post_condition()
        except exception.ActionSkipped as e:
            result.update(outcome='skipped', message=str(e))
        except Exception as e:
            result.update(outcome='failed', message='%s: %s' % (
                type(e).__name__, e))
        if result['outcome'] != 'succeeded':
            break
    result['logs'] = records.lines
    print(json.dumps(result))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
