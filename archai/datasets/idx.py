"""Reading IDX files (the MNIST family's format), plain or gzipped, with size checks."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from archai.datasets.provider import DatasetCorruptError

_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


_FIX = "replace it with an intact copy (for Fashion-MNIST: apt-get install --reinstall dataset-fashion-mnist)"


def _header(path: Path, raw: bytes, size: int) -> tuple[list[int], np.dtype, int]:
    """(shape, dtype, header length) of an IDX file whose first bytes are ``raw`` and whose
    whole (uncompressed) length is ``size``; raises :class:`DatasetCorruptError`."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise DatasetCorruptError(f"{path} is not an IDX file (bad magic number); {_FIX}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetCorruptError(f"{path} ends inside its header; {_FIX}")
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    dtype = np.dtype(_DTYPES[raw[2]])
    expected = header + int(np.prod(dims)) * dtype.itemsize
    if size != expected:
        raise DatasetCorruptError(
            f"{path} holds {size} bytes but its header promises {expected} "
            f"(shape {dims}); the file is truncated or damaged: {_FIX}"
        )
    return dims, dtype, header


def _raw(path: Path) -> bytes:
    try:
        return gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (EOFError, OSError, zlib.error) as e:
        raise DatasetCorruptError(f"{path} cannot be decompressed ({e}); the file is damaged: {_FIX}") from e


def read_idx(path: str | Path) -> np.ndarray:
    """Reads an IDX file; raises :class:`DatasetCorruptError` if it is truncated or malformed."""
    path = Path(path)
    raw = _raw(path)
    dims, dtype, header = _header(path, raw, len(raw))
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)


def idx_shape(path: str | Path) -> list[int]:
    """The shape an IDX file declares, after checking that its length matches it (a plain
    file is checked from its header and size alone; a gzipped one is decompressed); raises
    :class:`DatasetCorruptError`."""
    path = Path(path)
    if path.suffix == ".gz":
        raw = _raw(path)
        return _header(path, raw, len(raw))[0]
    with open(path, "rb") as f:
        raw = f.read(4 + 4 * 255)
    return _header(path, raw, path.stat().st_size)[0]


def find_idx(folder: Path, stem: str) -> Path | None:
    """``folder/stem`` or ``folder/stem.gz``, whichever exists."""
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None
