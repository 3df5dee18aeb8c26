"""Volume contents for the bench: a deterministic mix of data and holes.

A volume of ``size`` bytes is cut into 64 KiB granules; ``fraction`` of
them (default 60 %) hold data, in extents of varied length (64 KiB to tens
of MiB, log-uniform, as a used file system looks), and the rest are holes
that are never written, so the file stays sparse. Each data extent is one
of three kinds:

* ``random`` - incompressible (media, encrypted or compressed files);
* ``text`` - compressible, low-entropy bytes (logs, source, databases);
* ``zeroish`` - allocated blocks that are almost all zeros (a pre-zeroed
  or freed area of a file system), one non-zero word per 4 KiB.

Everything follows from ``seed``; the sha256 of the whole volume (holes read
as zeros) is computed while writing, without reading it back.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os

import numpy as np

from volmig_bench import exception

GRANULE = 64 * 1024
KINDS = ('random', 'text', 'zeroish')
KIND_WEIGHTS = (0.5, 0.3, 0.2)
#: mean data extent, in granules (4 MiB)
MEAN_EXTENT_GRANULES = 64
_WRITE_CHUNK = 8 * 1024 * 1024
_ZEROS = bytes(_WRITE_CHUNK)


@dataclasses.dataclass(frozen=True)
class Extent:
    offset: int
    length: int
    kind: str


@dataclasses.dataclass(frozen=True)
class FillResult:
    path: str
    size: int
    allocated: int
    extents: int
    sha256: str
    bytes_by_kind: dict

    def describe(self) -> dict:
        return dataclasses.asdict(self)


def _partition(rng: np.random.Generator, total: int, parts: int,
               allow_zero: bool) -> list[int]:
    """``total`` split into ``parts`` integers with log-uniform weights."""
    if parts == 0:
        return []
    floor = 0 if allow_zero else 1
    if total < parts * floor:
        raise ValueError('cannot split %d into %d parts' % (total, parts))
    weights = np.exp(rng.uniform(0.0, np.log(512.0), size=parts))
    spare = total - parts * floor
    lengths = np.floor(weights / weights.sum() * spare).astype(np.int64)
    for i in rng.permutation(parts)[:spare - int(lengths.sum())]:
        lengths[i] += 1
    return [int(n) + floor for n in lengths]


def layout(size: int, fraction: float = 0.6, seed: int = 1
           ) -> list[Extent]:
    """The data extents of a volume, in offset order (holes between)."""
    if size <= 0 or size % GRANULE:
        raise exception.InvalidParameter(
            name='volume size', value=size,
            reason='must be a positive multiple of %d' % GRANULE)
    if not 0.0 <= fraction <= 1.0:
        raise exception.InvalidParameter(name='allocation fraction',
                                         value=fraction,
                                         reason='must be within 0..1')
    rng = np.random.default_rng(seed)
    granules = size // GRANULE
    data = int(round(fraction * granules))
    if data == 0:
        return []
    count = max(1, min(data, data // MEAN_EXTENT_GRANULES,
                       granules - data + 1))
    if data == granules:
        count = 1
    data_runs = _partition(rng, data, count, allow_zero=False)
    # Holes before, between (at least one granule each, or two extents
    # would merge) and after the extents.
    inner = count - 1
    hole_runs = _partition(rng, granules - data - inner, count + 1,
                           allow_zero=True)
    for i in range(1, inner + 1):
        hole_runs[i] += 1
    kinds = rng.choice(len(KINDS), size=count, p=KIND_WEIGHTS)
    extents = []
    pos = hole_runs[0]
    for i, run in enumerate(data_runs):
        extents.append(Extent(pos * GRANULE, run * GRANULE,
                              KINDS[int(kinds[i])]))
        pos += run + hole_runs[i + 1]
    return extents


def _extent_bytes(rng: np.random.Generator, kind: str, length: int
                  ) -> bytes:
    if kind == 'random':
        return rng.bytes(length)
    if kind == 'text':
        # Words of a small alphabet with spaces and newlines: ~4:1.
        alphabet = np.frombuffer(b'etaoinshrdlucmfwyp        \n',
                                 dtype=np.uint8)
        return alphabet[rng.integers(0, len(alphabet), size=length)
                        ].tobytes()
    if kind == 'zeroish':
        words = np.zeros(length // 8, dtype=np.uint64)
        words[::512] = rng.integers(1, 2 ** 63, size=len(words[::512]),
                                    dtype=np.uint64)
        return words.tobytes()
    raise ValueError(kind)


def fill_volume(path: str, size: int, fraction: float = 0.6, seed: int = 1
                ) -> FillResult:
    """Create (or overwrite) ``path`` as a sparse volume; its sha256."""
    extents = layout(size, fraction, seed)
    rng = np.random.default_rng([seed, 0x766F6C6D6967])
    digest = hashlib.sha256()
    by_kind = dict.fromkeys(KINDS, 0)
    pos = 0

    def hash_zeros(n):
        while n:
            step = min(n, len(_ZEROS))
            digest.update(_ZEROS[:step])
            n -= step

    with open(path, 'wb') as f:
        f.truncate(size)
        fd = f.fileno()
        for ext in extents:
            hash_zeros(ext.offset - pos)
            done = 0
            while done < ext.length:
                step = min(_WRITE_CHUNK, ext.length - done)
                data = _extent_bytes(rng, ext.kind, step)
                os.pwrite(fd, data, ext.offset + done)
                digest.update(data)
                done += step
            by_kind[ext.kind] += ext.length
            pos = ext.offset + ext.length
        hash_zeros(size - pos)
        os.fsync(fd)
    return FillResult(path=path, size=size,
                      allocated=sum(e.length for e in extents),
                      extents=len(extents), sha256=digest.hexdigest(),
                      bytes_by_kind=by_kind)


def allocated_extents(path: str) -> list[tuple[int, int]]:
    """(offset, length) of the data regions the file system reports."""
    out = []
    size = os.path.getsize(path)
    fd = os.open(path, os.O_RDONLY)
    try:
        pos = 0
        while pos < size:
            try:
                data = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:
                break
            hole = os.lseek(fd, data, os.SEEK_HOLE)
            out.append((data, hole - data))
            pos = hole
    finally:
        os.close(fd)
    return out
