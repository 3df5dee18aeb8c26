"""The bench's results: the document, its schema, its JSON file.

A result document (``schema: volmig-bench/1``)::

    {
      "schema": "volmig-bench/1",
      "started_at": "2026-11-21T23:00:00Z",     ISO 8601, UTC
      "host": {...},                             free-form: qemu, kernel...
      "params": {...},                           free-form: writer, link...
      "notes": ["...", ...],                     fallbacks taken, warnings
      "rows": [ROW, ...],
      "timeseries": {ROW_ID: {"t_s": [...], "p50_ms": [...],
                              "p99_ms": [...], "max_ms": [...],
                              "events": [{"t_s": .., "name": ..}]}}
    }

Each ROW is one migration (flow x link x array x size x iteration):

=========================  =============================================
``id``                     unique, e.g. ``1g-nbd-xfs-new-0``
``flow``                   a registered flow (:mod:`volmig_bench.flows`):
                           ``new`` (start, native copy, complete; two-step
                           complete), ``new-write_blocking`` (the
                           single-step complete mode), ``new-rebase``
                           (the live-rebase complete) or ``legacy`` (swap)
``link``                   ``file`` | ``nbd``
``link_kind``              ``local`` | ``netns-veth`` | ``throttle-group``
``array``                  ``cfr`` (copy_file_range pool on the state
                           path) | ``xfs-reflink`` (FICLONE pool)
``size``                   volume size, bytes
``iteration``              0, 1, ... (flows alternate within a run)
``total_s``                wall time of the whole migration
``cinder_complete_wait_s`` time Cinder waited in complete until src was
                           releasable (null for legacy)
``write_block_s``          ``{"start": s|null, "pivots": [s, ...]}``:
                           longest guest write at start and each pivot
``bytes_through_compute``  bytes that crossed the compute host (link
                           counters; null for ``file``)
``guest_latency``          ``{"before": SUMMARY, "during": SUMMARY}``,
                           SUMMARY = ``{count, p50_ms, p99_ms, max_ms}``
``legacy_converged``       legacy only: whether the mirror caught up and
                           the guest switched to dst (pivot done)
``converge_s``             legacy only: time until it did (swap call to
                           the pivot's completed event)
``raw_copy_s``             the array's own copy of the same bytes,
                           measured in the same run (the physical limit)
``copy_phase_s``           the new flow's copy phase (start to complete)
``copy_ratio``             copy_phase_s / raw_copy_s
``checksum_ok``            the final image matched the expected sha256
``error``                  message, or null
=========================  =============================================

Optional fields the full run adds (absent or null otherwise):

=========================  =============================================
``status``                 ``success`` | ``error`` (Cinder's verdict)
``rate``                   the guest's target write rate, bytes/s
``cinder_done_s``          migrate call until Cinder's record said
                           success (src deleted, dst under src's id)
``nova_finish_s``          new flows: complete returned until Nova's
                           asynchronous finish (two-step commit) ended;
                           ``total_s`` includes it
``complete_mode``          Nova's ``volume_migration_complete_mode``
``copy_method``            how Cinder copied: ``reflink``,
                           ``copy_file_range``, ``read_write``
``bytes_source``           ``link counters`` (nbd) or ``qemu process io``
                           (file: the hypervisor's own disk reads and
                           writes, nothing crosses a network)
``guest_bytes_during``     bytes the guest issued during the migration
                           (they cross the link too)
``guest_chunk_bytes_during``
                           the bytes of the distinct 64 KiB-aligned
                           chunks those writes touched: the least a
                           block job copying whole chunks moves for them
``ready_s``                legacy: swap call until the mirror's first
                           ``ready`` (the pivot may wait long after it)
``phases_s``               Cinder's phase timestamps (Nova calls, copy)
                           as seconds since the migrate call
``raw_copy_method``        how the array's raw copy went (``reflink``,
                           ``copy_file_range``), measured just before
                           the migration
``bytes_to_array``,        nbd: the two directions of
``bytes_from_array``       ``bytes_through_compute`` (pushes, pulls)
=========================  =============================================

A result may also carry ``runs`` (one entry per guest run: fill, raw
copy, boot, writes, checksums), ``summary`` (means per configuration and
the legacy / new ratios), ``checks`` (the run's verdicts) and
``elapsed_s``.

Use :func:`validate` before writing; a row with ``checksum_ok`` false makes
:func:`assert_integrity` raise.
"""

from __future__ import annotations

import datetime
import json
import os

import jsonschema

from volmig_bench import exception
from volmig_bench import flows

SCHEMA_ID = 'volmig-bench/1'
_NUM = {'type': ['number', 'null']}
_SUMMARY = {
    'type': 'object',
    'required': ['count', 'p50_ms', 'p99_ms', 'max_ms'],
    'properties': {'count': {'type': 'integer', 'minimum': 0},
                   'p50_ms': _NUM, 'p99_ms': _NUM, 'max_ms': _NUM},
}
ROW_SCHEMA = {
    'type': 'object',
    'required': ['id', 'flow', 'link', 'link_kind', 'array', 'size',
                 'iteration', 'total_s', 'cinder_complete_wait_s',
                 'write_block_s', 'bytes_through_compute',
                 'guest_latency', 'legacy_converged', 'converge_s',
                 'raw_copy_s', 'copy_phase_s', 'copy_ratio',
                 'checksum_ok', 'error'],
    'properties': {
        'id': {'type': 'string'},
        'flow': {'enum': list(flows.names())},
        'link': {'enum': ['file', 'nbd']},
        'link_kind': {'enum': ['local', 'netns-veth', 'throttle-group']},
        'array': {'enum': ['cfr', 'xfs-reflink']},
        'size': {'type': 'integer', 'minimum': 1},
        'iteration': {'type': 'integer', 'minimum': 0},
        'total_s': _NUM,
        'cinder_complete_wait_s': _NUM,
        'write_block_s': {
            'type': 'object', 'required': ['start', 'pivots'],
            'properties': {'start': _NUM,
                           'pivots': {'type': 'array', 'items': _NUM}}},
        'bytes_through_compute': {'type': ['integer', 'null'],
                                  'minimum': 0},
        'guest_latency': {
            'type': 'object', 'required': ['before', 'during'],
            'properties': {'before': _SUMMARY, 'during': _SUMMARY}},
        'legacy_converged': {'type': ['boolean', 'null']},
        'converge_s': _NUM,
        'raw_copy_s': _NUM,
        'copy_phase_s': _NUM,
        'copy_ratio': _NUM,
        'checksum_ok': {'type': 'boolean'},
        'error': {'type': ['string', 'null']},
        'status': {'enum': ['success', 'error', None]},
        'rate': {'type': ['integer', 'null'], 'minimum': 0},
        'cinder_done_s': _NUM,
        'nova_finish_s': _NUM,
        'complete_mode': {'type': ['string', 'null']},
        'copy_method': {'type': ['string', 'null']},
        'bytes_source': {'enum': ['link counters', 'qemu process io',
                                  None]},
        'guest_bytes_during': {'type': ['integer', 'null'], 'minimum': 0},
        'guest_chunk_bytes_during': {'type': ['integer', 'null'],
                                     'minimum': 0},
        'bytes_to_array': {'type': ['integer', 'null'], 'minimum': 0},
        'bytes_from_array': {'type': ['integer', 'null'], 'minimum': 0},
        'raw_copy_method': {'type': ['string', 'null']},
        'ready_s': _NUM,
        'phases_s': {'type': 'object',
                     'additionalProperties': {'type': 'number'}},
    },
}
RESULT_SCHEMA = {
    'type': 'object',
    'required': ['schema', 'started_at', 'params', 'notes', 'rows'],
    'properties': {
        'schema': {'const': SCHEMA_ID},
        'started_at': {'type': 'string'},
        'host': {'type': 'object'},
        'params': {'type': 'object'},
        'notes': {'type': 'array', 'items': {'type': 'string'}},
        'rows': {'type': 'array', 'items': ROW_SCHEMA},
        'timeseries': {'type': 'object'},
        'runs': {'type': 'array', 'items': {'type': 'object'}},
        'summary': {'type': 'array', 'items': {'type': 'object'}},
        'checks': {'type': 'array', 'items': {
            'type': 'object', 'required': ['name', 'ok'],
            'properties': {'name': {'type': 'string'},
                           'ok': {'type': 'boolean'}}}},
    },
}


def new_result(params: dict, host: dict | None = None) -> dict:
    """An empty result document, started now."""
    return {'schema': SCHEMA_ID,
            'started_at': datetime.datetime.now(datetime.timezone.utc)
            .strftime('%Y-%m-%dT%H:%M:%SZ'),
            'host': host or {}, 'params': params, 'notes': [], 'rows': [],
            'timeseries': {}}


def new_row(flow: str, link: str, link_kind: str, array: str, size: int,
            iteration: int = 0, **values) -> dict:
    """A row with every field present (unknowns null), then ``values``."""
    empty = {'count': 0, 'p50_ms': None, 'p99_ms': None, 'max_ms': None}
    row = {
        'id': '%s-%s-%s-%s-%d' % (format_size(size).replace(' ', '')
                                  .lower(), link, array, flow, iteration),
        'flow': flow, 'link': link, 'link_kind': link_kind, 'array': array,
        'size': size, 'iteration': iteration, 'total_s': None,
        'cinder_complete_wait_s': None,
        'write_block_s': {'start': None, 'pivots': []},
        'bytes_through_compute': None,
        'guest_latency': {'before': dict(empty), 'during': dict(empty)},
        'legacy_converged': None, 'converge_s': None, 'raw_copy_s': None,
        'copy_phase_s': None, 'copy_ratio': None, 'checksum_ok': False,
        'error': None, 'status': None, 'rate': None, 'cinder_done_s': None,
        'nova_finish_s': None, 'complete_mode': None, 'copy_method': None,
        'bytes_source': None, 'guest_bytes_during': None,
        'guest_chunk_bytes_during': None,
        'bytes_to_array': None, 'bytes_from_array': None,
        'raw_copy_method': None, 'phases_s': {}, 'ready_s': None,
    }
    row.update(values)
    if row['copy_ratio'] is None and row['copy_phase_s'] is not None \
            and row['raw_copy_s']:
        row['copy_ratio'] = round(row['copy_phase_s'] / row['raw_copy_s'],
                                  3)
    return row


def validate(result: dict) -> None:
    """jsonschema against :data:`RESULT_SCHEMA`; InvalidParameter if not."""
    try:
        jsonschema.validate(result, RESULT_SCHEMA)
    except jsonschema.ValidationError as exc:
        raise exception.InvalidParameter(
            name='bench result', value='/'.join(map(str, exc.path)),
            reason=exc.message)


def assert_integrity(result: dict) -> None:
    """Raise when any row's final image did not match its checksum."""
    bad = [r['id'] for r in result['rows'] if not r['checksum_ok']]
    if bad:
        raise exception.ChecksumMismatch(
            what=', '.join(bad), expected='(see JSON)', actual='mismatch')


def format_size(n: int | None) -> str:
    """``1 GiB``, ``1.5 GiB``, ``64 MiB`` (binary units); ``-`` for None."""
    if n is None:
        return '-'
    for unit, div in (('GiB', 1 << 30), ('MiB', 1 << 20), ('KiB', 1 << 10)):
        if n >= div:
            value = n / div
            return ('%d %s' % (value, unit) if value == int(value)
                    else '%.1f %s' % (value, unit))
    return '%d B' % n


def write_json(result: dict, path: str) -> str:
    """Validate, then write ``path`` atomically (a temporary + rename)."""
    validate(result)
    return dump_json(result, path)


def dump_json(document: dict, path: str) -> str:
    """Write ``path`` atomically (a temporary + rename), sorted keys."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(document, f, indent=2, sort_keys=True)
        f.write('\n')
    os.replace(tmp, path)
    return path


def load_json(path: str) -> dict:
    """A result file, validated against the schema."""
    with open(path) as f:
        result = json.load(f)
    validate(result)
    return result
