"""End-to-end runs in tests: the command line, and the toy protocol made smaller still.

>>> flags({"search.trainer.epochs": 1, "algos.petridish.seeds.n_cells": "[3]"})
['--search.trainer.epochs', '1', '--algos.petridish.seeds.n_cells', '[3]']
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import main as cli  # noqa: E402, F401  (scripts/main.py, for the tests that run it in-process)
import model_info  # noqa: E402, F401  (scripts/model_info.py)

from archai.common.logger import read_events  # noqa: E402

#: one-epoch searches and final trainings on a few hundred images, nothing on the console; jobs
#: in the test's process (tests of the local executor's worker processes set workers themselves)
SMALL = {
    "executor.workers": 1,
    "loader.train_limit": 512,
    "loader.test_limit": 256,
    "search.loader.train_limit": 256,
    "search.trainer.epochs": 1,
    "eval.trainer.epochs": 1,
    "common.progress": "false",
    "common.quiet": "true",
}

#: a Petridish search of two 3-cell seeds and two children, one epoch each
PETRIDISH_SMALL = {
    "algos.petridish.seeds.n_cells": "[3]",
    "algos.petridish.seeds.init_channels": "[4, 8]",
    "algos.petridish.max_models": 4,
    "algos.petridish.seed_epochs": 1,
    "algos.petridish.child_epochs": 1,
    "eval.final_descs": 1,
}


def flags(settings: dict) -> list[str]:
    """``{"a.b": 3}`` as command-line overrides, ``["--a.b", "3"]``."""
    return [part for key, value in settings.items() for part in (f"--{key}", str(value))]


#: the smallest runs the fault tests damage: a few hundred images, one thread, three samples
TINY_SETTINGS = {
    **SMALL,
    "loader.train_limit": 320,
    "loader.test_limit": 128,
    "common.num_threads": 1,
    "algos.random.n_samples": 3,
    "algos.random.jobs_per_round": 1,
    **PETRIDISH_SMALL,
}
TINY = flags(TINY_SETTINGS)


def run(algo, exp, *extra, settings=TINY) -> int:
    """``scripts/main.py --algos ALGO --exp-dir EXP`` in this process; its exit status."""
    return cli.main(["--algos", algo, "--exp-dir", str(exp), *settings, *extra])


def kill_point(after: str, signal: str = "KILL", wait_for=None) -> tuple[dict, list[str]]:
    """(environment, extra arguments) that make a ``scripts/main.py`` child process send itself
    ``signal`` the moment it has written a file whose path ends with ``after`` (and once
    ``wait_for``, a path, exists): see ``kill_points.py``. The fault lands at that exact point
    on any machine, however slow or loaded."""
    path = os.pathsep.join(filter(None, [str(Path(__file__).parent), os.environ.get("PYTHONPATH")]))
    env = {
        **os.environ,
        "PYTHONPATH": path,
        "ARCHAI_KILL_AFTER": after,
        "ARCHAI_KILL_SIGNAL": signal,
        "ARCHAI_KILL_WAIT_FOR": str(wait_for or ""),
    }
    return env, ["--plugins", "kill_points"]


def run_killed(algo, exp, after: str, *extra, settings=TINY, wait_for=None, signal="KILL"):
    """``scripts/main.py --algos ALGO`` in a child process stopped by :func:`kill_point`;
    returns the finished :class:`subprocess.CompletedProcess`."""
    env, plugin = kill_point(after, signal, wait_for)
    cmd = [sys.executable, str(ROOT / "scripts" / "main.py"), "--algos", algo, "--exp-dir", str(exp)]
    return subprocess.run([*cmd, *settings, *extra, *plugin], capture_output=True, text=True, env=env)


def one_line_error(capsys) -> str:
    """What the command printed on stderr, checked to be one line without a traceback."""
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def cut_in_half(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def unfinish(run_dir: Path) -> None:
    """What an interrupted run looks like to --resume: no summary, no search result."""
    for name in ("summary.json", "search_result.json"):
        (run_dir / name).unlink(missing_ok=True)


def recovered(run_dir: Path) -> list[str]:
    return [n for e in read_events(run_dir) if e["kind"] == "recovered" for n in e["fields"]["notes"]]


def candidate_metrics(run_dir: Path) -> dict:
    data = json.loads((run_dir / "search_result.json").read_text())
    return {c["id"]: (c["metrics"].get("val_top1"), c["metrics"].get("failed")) for c in data["candidates"]}


def copy_run(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    (dst / ".archai.lock").unlink(missing_ok=True)
    return dst
