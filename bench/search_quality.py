"""Does search beat the baselines? Each searcher over several seeds, next to random search at
the same wall-clock search budget and hand-made networks trained with the same final protocol.

    python bench/search_quality.py                              # toy protocol, 3 seeds, all searchers
    python bench/search_quality.py --algos darts,enas --seeds 0,1 --out runs/quality
    python bench/search_quality.py --json quality.json          # also save the rows
    python bench/search_quality.py --algos petridish --out runs/q_async --algos.petridish.schedule async

Flags the script does not know are passed to every searcher of ``--algos`` (not to random search).
For each seed, every searcher in ``--algos`` runs its toy protocol (``scripts/main.py``, each in
its own process); then random search runs with ``max_seconds`` set to the median search time of
those searchers for that seed (the same wall-clock budget; the samples it finished are stated).
Final models are picked on validation data by each searcher and tested once. The baselines
(logistic regression, two small CNNs) are trained with the toy eval protocol's trainer settings
on the same training set and tested on the same test set. Figures print as mean +- standard
deviation over the seeds; nothing is selected on the test set.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from archai.common.config import confs_dir, load_config  # noqa: E402
from archai.common.seeding import seed_everything  # noqa: E402
from archai.datasets import build_loaders  # noqa: E402
from archai.search.experiment import config_schema  # noqa: E402
from archai.search.trainer import Trainer  # noqa: E402
from archai.space.model import count_params  # noqa: E402


def run_searcher(algo: str, seed: int, out: Path, extra: list[str]) -> dict:
    exp = out / f"{algo}_seed{seed}"
    summary = exp / algo / "summary.json"
    if not summary.is_file():  # finished runs are reused: the benchmark resumes
        cmd = [sys.executable, str(ROOT / "scripts/main.py"), "--algos", algo, "--exp-dir", str(exp)]
        cmd += ["--common.seed", str(seed), "--common.quiet", "true", *extra]
        cmd += ["--resume"] if exp.exists() else []
        start = time.time()
        subprocess.run(cmd, check=True, cwd=ROOT)
        print(f"  {algo} seed {seed}: {time.time() - start:.0f} s", flush=True)
    s = json.loads(summary.read_text())
    return {
        "what": algo,
        "seed": seed,
        "test_top1": s["test_top1"],
        "val_top1": s["val_top1"],
        "params": s["params"],
        "search_s": s["search_seconds"],
        "total_s": (s["search_seconds"] or 0) + (s["eval_seconds"] or 0),
        "n_candidates": s.get("n_candidates"),
    }


def _cnn(widths: tuple[int, int, int], in_ch: int = 1, n_classes: int = 10) -> nn.Module:
    layers, c = [], in_ch
    for i, w in enumerate(widths):
        layers += [nn.Conv2d(c, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
        if i < len(widths) - 1:
            layers.append(nn.MaxPool2d(2))
        c = w
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, n_classes))


BASELINES = {
    "logistic regression": lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 10)),
    "CNN 16/32/32": lambda: _cnn((16, 32, 32)),
    "CNN 32/64/64": lambda: _cnn((32, 64, 64)),
}


def run_baseline(name: str, seed: int) -> dict:
    conf = load_config([config_schema()[0], confs_dir() / "toy.yaml"])
    loaders = build_loaders(conf.dataset, conf.eval.loader, seed=seed)
    seed_everything(seed)
    model = BASELINES[name]()
    start = time.time()
    trainer = Trainer(
        model,
        conf.eval.trainer,
        device="cpu",
        seed=seed,
    )
    trainer.fit(loaders.train)
    seconds = time.time() - start
    test = trainer.evaluate(loaders.test)["top1"]
    return {
        "what": name,
        "seed": seed,
        "test_top1": test,
        "val_top1": None,
        "params": count_params(model),
        "search_s": 0.0,
        "total_s": seconds,
        "n_candidates": None,
    }


def _fmt(values: list[float], pct: bool = False) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    scale = 100 if pct else 1
    mean = statistics.mean(values) * scale
    sd = statistics.stdev(values) * scale if len(values) > 1 else 0.0
    return f"{mean:.1f} +- {sd:.1f}" + ("%" if pct else "")


def table(rows: list[dict]) -> str:
    names = list(dict.fromkeys(r["what"] for r in rows))
    lines = [
        "| what | seeds | test top-1 | params | search s | total s | models tried |",
        "|---|---|---|---|---|---|---|",
    ]
    for n in names:
        rs = [r for r in rows if r["what"] == n]
        lines.append(
            f"| {n} | {len(rs)} | {_fmt([r['test_top1'] for r in rs], True)} | "
            f"{_fmt([r['params'] / 1000 for r in rs])}k | {_fmt([r['search_s'] for r in rs])} | "
            f"{_fmt([r['total_s'] for r in rs])} | {_fmt([r['n_candidates'] for r in rs])} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--algos", default="petridish,darts,enas")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "search_quality")
    ap.add_argument("--no-baselines", action="store_true")
    ap.add_argument("--json", type=Path, help="write every row as JSON")
    args, extra = ap.parse_known_args()  # other flags (--algos.petridish.schedule async) go to the searchers
    seeds = [int(s) for s in args.seeds.split(",")]
    algos = [a for a in args.algos.split(",") if a and a != "random"]
    rows: list[dict] = []
    for seed in seeds:
        found = [run_searcher(a, seed, args.out, extra) for a in algos]
        rows += found
        budget = statistics.median(r["search_s"] for r in found) if found else 60.0
        rows.append(
            {
                **run_searcher(
                    "random",
                    seed,
                    args.out,
                    ["--algos.random.max_seconds", f"{budget:.0f}", "--algos.random.n_samples", "200"],
                ),
                "what": "random (same search time)",
                "budget_s": round(budget, 1),
            }
        )
        if not args.no_baselines:
            rows += [run_baseline(name, seed) for name in BASELINES]
    print(table(rows))
    budgets = [r["budget_s"] for r in rows if "budget_s" in r]
    if budgets:
        print(f"\nrandom search's budget per seed (median search seconds of the others): {budgets}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
