"""Does search beat the baselines? Real runs of each searcher over seeds, next to random search
at the same wall-clock search budget and hand-made networks trained with the same final
protocol: ``scripts/compare.py`` without ``--benchmark``, with this benchmark's defaults.

    python bench/search_quality.py                                # petridish, darts, enas, random; seeds 0-2
    python bench/search_quality.py --algos darts,random --seeds 0,1 --out runs/quality
    python bench/search_quality.py --algos petridish,random --algos.petridish.schedule async

Random search is always run (added to ``--algos`` when missing) and gets the median search
time of the other searchers on each seed. Every other
flag is compare.py's (``--budget``, ``--final-descs``, ``--no-baselines``, ``--full``, config
overrides); the report (report.md, CSVs, anytime.png) is written to ``--out``
(default runs/search_quality) and printed. Finished runs there are reused.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archai.cli import compare_main  # noqa: E402

if __name__ == "__main__":
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--algos", default="petridish,darts,enas")
    ap.add_argument("--seeds", default="0-2")
    ap.add_argument("--out", default="runs/search_quality")
    args, rest = ap.parse_known_args()
    algos = [a for a in args.algos.split(",") if a and a != "random"] + ["random"]
    sys.exit(compare_main(["--algos", ",".join(algos), "--seeds", args.seeds, "--out", args.out, *rest]))
