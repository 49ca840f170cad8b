"""How busy were the workers of a Petridish search? Busy time over slots x search wall time.

    python bench/petridish_utilisation.py runs/rounds runs/async     # one row per run folder
    python bench/petridish_utilisation.py runs/async --json util.json

For each experiment folder (or its ``petridish/`` run folder) it reads the run's ``events.jsonl``
(when the search began and ended) and every search job's own ``events.jsonl`` under ``jobs/``
(from its first to its last event: the job's training, after its data and model are built; the
final ``eval_*`` trainings are left out), and the slots from ``config.yaml``
(``executor.workers`` on the local executor, ``executor.num_cpus / executor.cpus_per_job`` on a
Ray the run started). Utilisation = summed job time / (slots x search wall time): 1.0 means no
slot ever waited. Compare a ``schedule: rounds`` run with a ``schedule: async`` one of the same
settings.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import yaml


def _events(path: Path) -> list[dict]:
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut by a kill
    return out


def _slots(conf: dict) -> int:
    ex = conf["executor"]
    if ex["kind"] == "ray":
        cpus = int(ex["num_cpus"]) or os.cpu_count() or 1
        return max(1, int(cpus / float(ex["cpus_per_job"])))
    return int(ex["workers"])


def utilisation(folder: Path) -> dict:
    run = folder / "petridish" if (folder / "petridish").is_dir() else folder
    conf = yaml.safe_load((run / "config.yaml").read_text())
    events = _events(run / "events.jsonl")
    begin = min(e["time"] for e in events if e.get("scope") == "search" and e.get("kind") == "begin")
    end = max(e["time"] for e in events if e.get("scope") == "search" and e.get("kind") == "timing")
    busy, jobs = 0.0, 0
    for job_events in sorted((run / "jobs").glob("*/events.jsonl")):
        if job_events.parent.name.startswith("eval_"):
            continue
        times = [e["time"] for e in _events(job_events)]
        if times:
            busy += max(times) - min(times)
            jobs += 1
    slots = _slots(conf)
    wall = end - begin
    return {
        "run": str(folder),
        "schedule": conf["algos"]["petridish"].get("schedule", "rounds"),
        "executor": conf["executor"]["kind"],
        "slots": slots,
        "jobs": jobs,
        "busy_s": round(busy, 1),
        "search_wall_s": round(wall, 1),
        "utilisation": round(busy / (slots * wall), 3) if wall > 0 else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folders", nargs="+", type=Path)
    ap.add_argument("--json", type=Path, help="write the rows as JSON")
    args = ap.parse_args()
    rows = [utilisation(f) for f in args.folders]
    keys = list(rows[0])
    print(" | ".join(keys))
    for r in rows:
        print(" | ".join(str(r[k]) for k in keys))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
