"""Check a volume against the guest writer's acknowledged writes.

The writer acknowledges a write (an A line, see ``writer.c``) only once it
is durable, and its writes follow from (seed, mix, disk size, align), so
the expected volume is the base content with writes ``0..acked-1``
applied in order. Each 4 KiB block of the volume is then one of:

* ``ok`` - its last acknowledged content (or the base, if no acknowledged
  write covers it);
* ``newer`` - the content of a later write that covers it and was issued
  but not (yet) acknowledged: in flight, or written after the log was read;
* ``stale`` - an older acknowledged write's content, where a newer
  acknowledged write covers the block: a lost acknowledged write;
* ``missing`` - the base content where an acknowledged write covers it;
* ``corrupt`` - anything else.

Only stale, missing and corrupt blocks fail. Mid-run, read the log
*before* the volume: what the volume holds can then only be as new as the
log says or newer, and a later write shows as ``newer``. Every block the
writer writes names itself (MAGIC, seed, seq, its own offset), which is how
a block that is not the expected one is traced to the write it came from.
"""

from __future__ import annotations

import dataclasses
import errno
import mmap
import os

import numpy as np

from volmig_bench import exception
from volmig_bench.guest import expected
from volmig_bench.guest import protocol

SECTOR = protocol.SECTOR
WORDS = SECTOR // 8
_CHUNK_BLOCKS = 1024           # 4 MiB read at a time
_MAX_EXAMPLES = 20
_WORD_INDEX = np.arange(1, WORDS + 1, dtype=np.uint64)


@dataclasses.dataclass(frozen=True)
class Verdict:
    """How a volume's 4 KiB blocks compare with the acknowledged log."""

    ok: int = 0
    newer: int = 0
    stale: int = 0
    missing: int = 0
    corrupt: int = 0
    #: writes acknowledged in the log the volume was checked against
    acknowledged: int = 0
    #: the first bad blocks: (byte offset, kind, what it holds)
    examples: tuple[tuple[int, str, str], ...] = ()

    @property
    def blocks(self) -> int:
        return self.ok + self.newer + self.stale + self.missing + self.corrupt

    @property
    def passed(self) -> bool:
        """No acknowledged write lost, nothing unexplained."""
        return self.stale == self.missing == self.corrupt == 0

    @property
    def verdict(self) -> str:
        return 'ok' if self.passed else 'LOST'

    def as_dict(self) -> dict:
        return dict(dataclasses.asdict(self), blocks=self.blocks,
                    verdict=self.verdict,
                    examples=[list(e) for e in self.examples])

    def __str__(self) -> str:
        return ('%s: %d acknowledged writes; blocks ok %d, newer %d, stale %d,'
                ' missing %d, corrupt %d' % (
                    self.verdict, self.acknowledged, self.ok, self.newer,
                    self.stale, self.missing, self.corrupt))


def block_patterns(seed: int, seqs: np.ndarray, write_offsets: np.ndarray,
                   block_offsets: np.ndarray) -> np.ndarray:
    """The writer's 4 KiB blocks, one row of 512 uint64 words each.

    Row i is the block at ``block_offsets[i]`` of write ``seqs[i]``, which
    starts at ``write_offsets[i]`` (the content of ``fill()`` in writer.c).
    """
    seqs = seqs.astype(np.uint64)
    with np.errstate(over='ignore'):
        keys = (np.uint64(seed) ^ (seqs * expected.K1)
                ^ (write_offsets.astype(np.uint64) * expected.K2))
        out = expected._mix64(keys[:, None] + _WORD_INDEX * expected.GAMMA)
    out[:, 0] = expected.MAGIC
    out[:, 1] = np.uint64(seed)
    out[:, 2] = seqs
    out[:, 3] = block_offsets.astype(np.uint64)
    return out


class _Reader:
    """Reads a file or block device by 4 MiB; O_DIRECT where supported.

    O_DIRECT keeps the host page cache out of the way while QEMU writes
    the same file with ``cache=none``.
    """

    def __init__(self, path: str):
        try:
            self.fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
        except OSError as exc:
            if exc.errno != errno.EINVAL:   # e.g. tmpfs
                raise
            self.fd = os.open(path, os.O_RDONLY)
        self.size = os.lseek(self.fd, 0, os.SEEK_END)
        self.buf = mmap.mmap(-1, _CHUNK_BLOCKS * SECTOR)  # page aligned

    def blocks(self, first: int, n: int) -> np.ndarray:
        """Blocks ``first..first+n-1`` as (n, 512) little-endian words."""
        view = memoryview(self.buf)[:n * SECTOR]
        try:
            got = os.preadv(self.fd, [view], first * SECTOR)
        finally:
            view.release()
        if got != n * SECTOR:
            raise exception.BenchError('short read of %d blocks at %d'
                                       % (n, first * SECTOR))
        return np.frombuffer(self.buf, dtype='<u8',
                             count=n * WORDS).reshape(n, WORDS).copy()

    def close(self) -> None:
        os.close(self.fd)
        self.buf.close()


class _Schedule:
    """The writer's schedule, write by write, for blocks traced to it."""

    def __init__(self, params: protocol.WriterParams, disk_size: int):
        self.params = params
        self.disk_size = disk_size

    def write(self, seq: int) -> expected.Write:
        offsets, sizes = expected.schedule_arrays(
            self.params.seed, self.params.mix, self.disk_size, seq + 1, seq,
            self.params.align)
        return expected.Write(seq, int(offsets[0]), int(sizes[0]))


def _owners(params: protocol.WriterParams, disk_size: int, acked: int
            ) -> tuple[np.ndarray, np.ndarray]:
    """Per block: the last acknowledged write over it, and its offset.

    The owner is -1 where no acknowledged write covers the block.
    """
    blocks = disk_size // SECTOR
    owner = np.full(blocks, -1, dtype=np.int64)
    offsets, sizes = expected.schedule_arrays(
        params.seed, params.mix, disk_size, acked, 0, params.align)
    first = (offsets // SECTOR).astype(np.int64)
    last = ((offsets + sizes) // SECTOR).astype(np.int64)
    for seq in range(acked):        # in order: later writes win
        owner[first[seq]:last[seq]] = seq
    owner_off = np.zeros(blocks, dtype=np.uint64)
    mask = owner >= 0
    owner_off[mask] = offsets[owner[mask]]
    return owner, owner_off


def verify_volume(volume: str, base: str, params: protocol.WriterParams,
                  acked: int, disk_size: int | None = None,
                  issued: int | None = None) -> Verdict:
    """Check ``volume`` against ``base`` plus writes ``0..acked-1``.

    :param disk_size: the disk size the guest saw (the H line's ``size``);
        default the volume's size, rounded down to 4 KiB
    :param issued: writes the guest may have issued (the D line's count
        once it stopped); None: any later write may be in flight
    """
    vol, ref = _Reader(volume), _Reader(base)
    try:
        if disk_size is None:
            disk_size = vol.size
        disk_size -= disk_size % SECTOR
        if vol.size < disk_size or ref.size < disk_size:
            raise exception.InvalidParameter(
                name='volume/base size', value=(vol.size, ref.size),
                reason='smaller than the guest disk (%d)' % disk_size)
        owner, owner_off = _owners(params, disk_size, acked)
        counts = dict(ok=0, newer=0, stale=0, missing=0, corrupt=0)
        examples: list[tuple[int, str, str]] = []
        sched = _Schedule(params, disk_size)
        for first in range(0, disk_size // SECTOR, _CHUNK_BLOCKS):
            n = min(_CHUNK_BLOCKS, disk_size // SECTOR - first)
            actual = vol.blocks(first, n)
            want = ref.blocks(first, n)
            own = owner[first:first + n]
            written = np.nonzero(own >= 0)[0]
            base_rows = want[written].copy()
            if written.size:
                want[written] = block_patterns(
                    params.seed, own[written], owner_off[first + written],
                    (first + written) * SECTOR)
            good = np.all(actual == want, axis=1)
            counts['ok'] += int(good.sum())
            is_base = np.ones(n, dtype=bool)
            is_base[written] = np.all(actual[written] == base_rows, axis=1)
            for i in np.nonzero(~good)[0]:
                kind, what = _classify(actual[i], int(own[i]), bool(
                    is_base[i]), (first + int(i)) * SECTOR, params, sched,
                    acked, issued)
                counts[kind] += 1
                if kind != 'newer' and len(examples) < _MAX_EXAMPLES:
                    examples.append(((first + int(i)) * SECTOR, kind, what))
    finally:
        vol.close()
        ref.close()
    return Verdict(acknowledged=acked, examples=tuple(examples), **counts)


def _classify(block: np.ndarray, owner: int, holds_base: bool, offset: int,
              params: protocol.WriterParams, sched: _Schedule, acked: int,
              issued: int | None) -> tuple[str, str]:
    """Why a block is not its expected content: (kind, what it holds)."""
    seq = int(block[2])
    if (block[0] == expected.MAGIC and int(block[1]) == params.seed
            and int(block[3]) == offset):
        write = sched.write(seq)
        covers = write.offset <= offset < write.offset + write.size
        if covers and np.array_equal(block, block_patterns(
                params.seed, np.array([seq]), np.array([write.offset]),
                np.array([offset]))[0]):
            if seq > owner and seq >= acked and (issued is None
                                                 or seq < issued):
                return 'newer', 'write %d (not acknowledged)' % seq
            if seq < owner:
                return 'stale', 'write %d, not the acknowledged %d' % (
                    seq, owner)
            return 'corrupt', 'write %d, never issued' % seq
    if owner >= 0 and holds_base:
        return 'missing', 'the base, not the acknowledged write %d' % owner
    return 'corrupt', 'neither the base nor a write (expected %s)' % (
        'write %d' % owner if owner >= 0 else 'the base')


def params_from_header(log: protocol.WriterLog) -> protocol.WriterParams:
    """What the writer wrote with, as its H line states it."""
    try:
        h = log.header
        return protocol.WriterParams(seed=int(h['seed']),
                                     mix=protocol.parse_mix(h['mix']),
                                     align=int(h['align']))
    except (KeyError, ValueError) as exc:
        raise exception.WriterLogError(path='-', reason='no usable H line: '
                                       '%s' % exc)


def verify_log(volume: str, base: str, params: protocol.WriterParams,
               log: protocol.WriterLog) -> Verdict:
    """Check ``volume`` against what ``log`` acknowledged so far.

    Works mid-run (read the log first, then call this) and after the
    writer stopped (its D line bounds the writes that may be in flight).
    Raises :class:`exception.WriterLogError` when the log is not a
    version 2 writer's or its last acknowledged write is not the one the
    host recomputes (the schedules disagree: nothing could be verified).
    """
    if log.version < protocol.PROTOCOL_VERSION:
        raise exception.WriterLogError(
            path='-', reason='writer protocol %d acknowledges nothing per '
                             'write (need %d)' % (log.version,
                                                  protocol.PROTOCOL_VERSION))
    mine = {'seed': str(params.seed), 'align': str(params.align),
            'mix': protocol.format_mix(params.mix)}
    theirs = {k: log.header.get(k) for k in mine}
    if mine != theirs:
        raise exception.WriterLogError(
            path='-', reason='the guest wrote with %s, not %s'
            % (theirs, mine))
    disk_size = int(log.header['size'])
    # Read once: a monitor thread may be feeding the log meanwhile.
    ack, done = log.last_ack, log.done
    acked = ack.last + 1 if ack is not None else 0
    if ack is not None:
        write = _Schedule(params, disk_size).write(ack.last)
        if (write.offset, write.size) != (ack.offset, ack.length):
            raise exception.WriterLogError(
                path='-', reason='the guest acknowledged write %d at %d+%d, '
                'the host recomputes %d+%d: different parameters?' % (
                    ack.last, ack.offset, ack.length, write.offset,
                    write.size))
    issued = done.count if done is not None else None
    return verify_volume(volume, base, params, acked, disk_size, issued)
