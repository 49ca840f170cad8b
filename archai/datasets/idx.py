"""Reading IDX files (the MNIST family's format), plain or gzipped, with size checks."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from archai.datasets.provider import DatasetCorruptError

_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """Reads an IDX file; raises :class:`DatasetCorruptError` if it is truncated or malformed."""
    path = Path(path)
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (EOFError, OSError, zlib.error) as e:
        raise DatasetCorruptError(f"{path} cannot be decompressed ({e}); the file is damaged") from e
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise DatasetCorruptError(f"{path} is not an IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    dtype = np.dtype(_DTYPES[raw[2]])
    expected = header + int(np.prod(dims)) * dtype.itemsize
    if len(raw) != expected:
        raise DatasetCorruptError(
            f"{path} holds {len(raw)} bytes but its header promises {expected} "
            f"(shape {dims}); the file is truncated or damaged"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)


def find_idx(folder: Path, stem: str) -> Path | None:
    """``folder/stem`` or ``folder/stem.gz``, whichever exists."""
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None
