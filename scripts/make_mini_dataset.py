"""Makes the bundled ``fashion_mnist_mini`` dataset from the official Fashion-MNIST IDX files.

    apt-get install -y dataset-fashion-mnist
    python scripts/make_mini_dataset.py [--src /usr/share/datasets/fashion-mnist]

Takes a stratified, seeded sample (600 train and 200 test images per class by default), writes
``archai/datasets/data/fashion_mnist_mini.npz`` and prints its SHA-256, which must match
``MINI_SHA256`` in ``archai/datasets/mnist_family.py``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np

from archai.datasets.idx import find_idx, read_idx
from archai.datasets.mnist_family import MINI_FILE, SYSTEM_FASHION_MNIST


def stratified(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    picks = [rng.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in np.unique(labels)]
    return np.sort(np.concatenate(picks))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", type=Path, default=SYSTEM_FASHION_MNIST)
    ap.add_argument("--train-per-class", type=int, default=600)
    ap.add_argument("--test-per-class", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parents[1] / "archai/datasets/data" / MINI_FILE
    )
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    arrays = {}
    for split, per_class in (("train", args.train_per_class), ("t10k", args.test_per_class)):
        x = read_idx(find_idx(args.src, f"{split}-images-idx3-ubyte"))
        y = read_idx(find_idx(args.src, f"{split}-labels-idx1-ubyte"))
        idx = stratified(y, per_class, rng)
        key = "train" if split == "train" else "test"
        arrays[f"x_{key}"], arrays[f"y_{key}"] = x[idx], y[idx].astype(np.uint8)
    buf = io.BytesIO()
    # Written by hand rather than np.savez_compressed so that entry timestamps are fixed and the
    # file (and so its checksum) is the same on every run.
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, arr in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w") as f:
                np.lib.format.write_array(f, arr, allow_pickle=False)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(buf.getvalue())
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")
    print(f"sha256 {hashlib.sha256(buf.getvalue()).hexdigest()}")


if __name__ == "__main__":
    main()
