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
meet the project's in the test runner. ``python watcher_action.py
--serve`` imports Watcher once (about 3 s of CPU) and then, for each
request line ``{"argv": [...], "stdout": PATH, "stderr": PATH}`` on its
stdin, forks a child that runs ``main(argv)`` with its output in those
files and answers ``{"returncode": N}``: still one process per run, its
configuration parsed in it alone.

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
import os
import sys
import time
import traceback

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


def _import_watcher():
    """The backend, then Watcher's modules the action and loader need."""
    from oslo_service import backend
    backend.init_backend(backend.BackendType.THREADING)
    from watcher.applier.actions import volume_migration  # noqa: F401
    from watcher.applier.loading import default
    from watcher.common import cinder_helper
    from watcher.common import exception
    from watcher import conf
    return default, cinder_helper, exception, conf


def main(argv: list[str]) -> int:
    config_file, parameters = argv[1], json.loads(argv[2])
    phases = argv[3].split(',') if len(argv) > 3 else list(PHASES)

    default, cinder_helper, exception, conf = _import_watcher()

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


def _child(request: dict) -> None:
    for target, path in ((1, request['stdout']), (2, request['stderr'])):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, target)
        os.close(fd)
    code = 1
    try:
        code = main(request['argv'])
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve() -> int:
    """Fork a child per request line; Watcher is imported once, here."""
    _import_watcher()
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request)
        _pid, status = os.waitpid(pid, 0)
        print(json.dumps({'returncode': os.waitstatus_to_exitcode(status)}),
              flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(serve() if sys.argv[1:] == ['--serve'] else main(sys.argv))
