"""The run's checks: the data's integrity and the verdicts on the results.

* :func:`verify_volume` - the final volume against its base image plus
  every write the guest's writer acknowledged (sha256 of both);
* :func:`run_checks` - the run's verdicts: every case ran, integrity,
  the new flows all succeeded (fatal), and the issue's bars (Cinder's
  wait in complete, bytes through the compute host, a flow no slower
  than the one it replaces, new flows several times below legacy;
  findings);
* :func:`verdict` - raise on a fatal one, after the files are written.
"""

from __future__ import annotations

from volmig_bench import exception
from volmig_bench import flows
from volmig_bench.guest import expected
from volmig_bench.guest import protocol
from volmig_bench import results

#: the bench's verdicts: new flow several times below legacy
SEVERAL = 3.0
#: bytes through the compute host over what the guest wrote during the
#: migration (in the units the flow's copy moves): each crosses the host
#: once, plus little
BYTES_OVER_GUEST_LIMIT = 1.2
BYTES_PER_WORDS = {
    'guest_chunk_bytes_during': "the guest's 64 KiB chunks written",
    'guest_bytes_during': 'the bytes the guest wrote',
}


def verify_volume(final_path: str, base_path: str,
                  params: protocol.WriterParams,
                  log: protocol.WriterLog) -> dict:
    """Checksum of the final volume against base + acknowledged writes.

    ``base_path`` (the volume's initial contents) is rewritten in place
    with the writes (:func:`volmig_bench.guest.expected.apply_writes`).
    The writer must also have stopped cleanly and reported no error.
    """
    actual = expected.sha256_file(final_path)
    expected.apply_writes(base_path, params.seed, params.mix,
                          log.acknowledged, align=params.align)
    want = expected.sha256_file(base_path)
    ok = (actual == want and log.done.ok and not log.errors)
    return {'checksum_ok': ok, 'expected_sha256': want,
            'actual_sha256': actual, 'writes': log.acknowledged,
            'writer_errors': log.errors, 'final_path': final_path}


def mismatch_note(label: str, checked: dict,
                  log: protocol.WriterLog) -> str:
    """The note a failed :func:`verify_volume` leaves in the result."""
    return ('DATA INTEGRITY FAILURE in %s: expected sha256 %s, found '
            '%s (writer status %s, errors %s)' % (
                label, checked['expected_sha256'], checked['actual_sha256'],
                log.done.status if hasattr(log.done, 'status')
                else log.done.ok, log.errors))


def run_checks(result: dict) -> list[dict]:
    """The run's verdicts (integrity, convergence, the issue's bars)."""
    rows = result['rows']
    new = [r for r in rows if not flows.is_baseline(r['flow'])]
    verified = [c for c in result['runs'] if 'checksum_ok' in c]
    checks = [
        {'name': 'every case ran to the end', 'fatal': True,
         'ok': bool(result['runs']) and not any(
             c.get('error') for c in result['runs']),
         'detail': '; '.join('%s: %s' % (c['case'], c['error'])
                             for c in result['runs'] if c.get('error'))},
        {'name': 'data integrity (checksum of every case)',
         'ok': all(c['checksum_ok'] for c in verified), 'fatal': True,
         'detail': '; '.join('%s: expected %s, found %s' % (
             c['case'], c['expected_sha256'], c['actual_sha256'])
             for c in verified if not c['checksum_ok'])},
        {'name': 'new flows all succeeded (never failed to converge)',
         'ok': all(r['status'] == 'success' for r in new), 'fatal': True,
         'detail': '; '.join('%s: %s' % (r['id'], r['error'])
                             for r in new if r['status'] != 'success')},
    ]
    for flow in flows.new_flows():
        waits = [r['cinder_complete_wait_s'] for r in new
                 if r['flow'] == flow.name
                 and r['cinder_complete_wait_s'] is not None
                 and (flow.wait_checked_links is None
                      or r['link'] in flow.wait_checked_links)]
        if not waits:
            continue
        name = 'Cinder waits under %g s in complete (%s)' % (
            flow.complete_wait_limit_s, flow.name)
        if flow.wait_checked_links:
            name = name[:-1] + ', %s only)' % ', '.join(
                flow.wait_checked_links)
        if flow.complete_wait_note:
            name += '; ' + flow.complete_wait_note
        if flow.wait_checked_why:
            name += '; ' + flow.wait_checked_why
        checks.append({'name': name, 'fatal': False,
                       'ok': max(waits) < flow.complete_wait_limit_s,
                       'detail': 'max %.3f s' % max(waits)})
    checks.extend(_bytes_checks(new))
    checks.extend(_no_slower_checks(new))
    for summary in result.get('summary', []):
        if summary['link'] != 'nbd' or summary['flow'] != flows.HEADLINE:
            continue
        for what in ('time', 'bytes'):
            ratio = summary.get('%s_ratio' % what)
            if ratio is None:
                continue
            checks.append({
                'name': '%s nbd %s: new flow %s several times below '
                        'legacy' % (results.format_size(summary['size']),
                                    summary['array'], what),
                'ok': ratio >= SEVERAL, 'fatal': False,
                'detail': 'legacy / new = %.1fx' % ratio})
    return checks


def _bytes_checks(new: list[dict]) -> list[dict]:
    """Per new flow: what crossed the host against what the guest wrote.

    Only rows whose bytes are the storage link's counters (nbd) count:
    what the guest wrote during the migration, in the units the flow's
    copy moves (``Flow.bytes_per``: 64 KiB chunks, or the guest's own
    bytes), should cross the compute host about once.
    """
    checks = []
    for flow in flows.new_flows():
        per = flow.bytes_per
        ratios = [(r['bytes_through_compute'] / r[per], r)
                  for r in new if r['flow'] == flow.name
                  and r.get('bytes_source') == 'link counters'
                  and r.get(per)
                  and r.get('bytes_through_compute') is not None]
        if not ratios:
            continue
        worst, row = max(ratios, key=lambda pair: pair[0])
        checks.append({
            'name': 'bytes via compute at most %gx %s during the '
                    'migration (%s)' % (BYTES_OVER_GUEST_LIMIT,
                                        BYTES_PER_WORDS[per], flow.name),
            'fatal': False, 'ok': worst <= BYTES_OVER_GUEST_LIMIT,
            'detail': 'max %.2fx, %s' % (
                worst, results.format_size(row['size']))})
    return checks


def _nova_part_s(row: dict) -> float | None:
    """Cinder's wait in complete plus Nova's asynchronous finish."""
    if row['cinder_complete_wait_s'] is None or row['nova_finish_s'] is None:
        return None
    return row['cinder_complete_wait_s'] + row['nova_finish_s']


def _configuration(row: dict) -> tuple:
    """What two flows' rows share when they are compared."""
    return tuple(row[k] for k in ('size', 'link', 'array', 'rate',
                                  'iteration'))


def _no_slower_checks(new: list[dict]) -> list[dict]:
    """Per flow with ``no_slower_than``: the worst ratio over its pairs.

    A pair is the two flows' rows of one configuration (size, link,
    array, rate, repetition). Total time includes Cinder's copy phase,
    which varies between rows of one run; Nova's part does not.
    """
    checks = []
    for flow in flows.new_flows():
        other = flow.no_slower_than
        if other is None:
            continue
        links = flow.wait_checked_links
        theirs = {_configuration(r): r for r in new
                  if r['flow'] == other and r['status'] == 'success'}
        pairs = [(r, theirs[_configuration(r)]) for r in new
                 if r['flow'] == flow.name and r['status'] == 'success'
                 and (links is None or r['link'] in links)
                 and _configuration(r) in theirs]
        scope = ', %s only' % ', '.join(links) if links else ''
        for what, value in (('total time', lambda r: r['total_s']),
                            ("Nova's part (wait in complete + async "
                             'finish)', _nova_part_s)):
            ratios = [(value(mine) / value(base), mine)
                      for mine, base in pairs
                      if value(mine) is not None and value(base)]
            if not ratios:
                continue
            worst, row = max(ratios, key=lambda pair: pair[0])
            checks.append({
                'name': '%s no worse than %s (%s%s)' % (
                    what, other, flow.name, scope),
                'fatal': False, 'ok': worst <= 1.0,
                'detail': 'max %.2fx of %s, %s' % (
                    worst, other, results.format_size(row['size']))})
    return checks


def verdict(result: dict) -> None:
    """Raise when the run proved a failure (after everything was written)."""
    failed = [c for c in result['checks'] if c['fatal'] and not c['ok']]
    integrity = [c for c in failed if c['name'].startswith('data integ')]
    if integrity:
        raise exception.ChecksumMismatch(
            'DATA INTEGRITY FAILURE: the final volume differs from its '
            'base plus every acknowledged guest write: %s'
            % integrity[0]['detail'])
    if failed:
        raise exception.BenchError('%s: %s' % (failed[0]['name'],
                                               failed[0].get('detail')))
