"""Inference latency of found models, measured side by side in one process.

    python bench/latency.py runs/a/proxylessnas runs/b/proxylessnas     # run folders (final_desc.yaml)
    python bench/latency.py model.yaml other.yaml --repeats 15 --runs 40 --batch 1 --device cpu

A single measurement of a network that runs in about a millisecond varies by tens of percent on
a shared CPU; here the models take turns, ``--repeats`` times, each turn the median of ``--runs``
forward passes after ``--warmup`` (:func:`archai.space.cost.measure_latency`), and the median of
each model's turns is printed (with the fastest turn), so drift hits every model alike.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from archai.space.cost import measure_latency  # noqa: E402
from archai.space.model import build_model  # noqa: E402
from archai.space.model_desc import ModelDesc  # noqa: E402


def load(path: str) -> ModelDesc:
    p = Path(path)
    return ModelDesc.load(p / "final_desc.yaml" if p.is_dir() else p)


def main(argv=None) -> dict[str, dict[str, float]]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", help="run folders (their final_desc.yaml) or description files")
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args(argv)
    descs = {m: load(m) for m in args.models}
    models = {m: build_model(d).eval() for m, d in descs.items()}
    turns: dict[str, list[float]] = {m: [] for m in models}
    for _ in range(args.repeats):
        for m, model in models.items():
            d = descs[m]
            shape = (d.in_channels, d.image_size, d.image_size)
            turns[m].append(
                measure_latency(
                    model,
                    shape,
                    batch_size=args.batch,
                    device=args.device,
                    warmup=args.warmup,
                    runs=args.runs,
                )
            )
    out = {m: {"median_ms": statistics.median(t), "min_ms": min(t)} for m, t in turns.items()}
    width = max(len(m) for m in out)
    print(
        f"{'model':{width}s}  median ms  fastest ms  (batch {args.batch}, {args.device}, {args.repeats} turns)"
    )
    for m, r in out.items():
        print(f"{m:{width}s}  {r['median_ms']:9.3f}  {r['min_ms']:10.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
