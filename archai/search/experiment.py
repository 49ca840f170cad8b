"""An experiment: for each algorithm, search, then train the found architecture(s), then report.

Run folder layout (``EXP_DIR/ALGO/``): ``config.yaml`` (the resolved config), ``events.jsonl``,
``console.log``, ``tb/``, ``search/`` (search checkpoints), ``jobs/`` (one folder per trained
description), ``candidates/`` and ``search_result.json``, ``final_desc.yaml`` and
``summary.json``. ``EXP_DIR/summary.json`` lists every algorithm's summary.

Every stage is resumable: a finished search is not redone (``search_result.json``), a search
stopped mid-way continues from its last checkpoint, and a finished job returns its saved result.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml

from archai.common.checks import OneOf, check_values
from archai.common.config import Config, ConfigError, confs_dir, deep_merge, load_config, load_yaml
from archai.common.errors import DamagedStateError, UserError
from archai.common.jsonio import json_safe, read_state, short_digest, tree_diff, write_json
from archai.common.logger import RunLogger
from archai.common.runlock import FolderLock
from archai.common.stopwatch import SavedStopwatch
from archai.datasets import get_provider
from archai.search.conf_rules import value_rules
from archai.search.evaluator import check_eval_shape, evaluate_final
from archai.search.executor import check_executor, job_threads, make_executor
from archai.search.pareto import candidate_records, front_from_conf
from archai.search.searcher import SEARCHERS, RunContext, Searcher, SearchResult, console_settings
from archai.search.tabular import TabularExecutor, resolve_table, table_layer, tabular_executor
from archai.space.genotypes import GenotypeError, desc_to_genotype, format_genotype
from archai.space.spaces import SPACES, SpaceError

SUMMARY_KEYS = (
    "algo",
    "final_desc",
    "val_top1",
    "test_top1",
    "params",
    "macs",
    "search_seconds",
    "eval_seconds",
    "table_rank",  # on a benchmark table: the found architecture's rank by test accuracy
    "evaluated_by",
)
# keys that may differ on --resume: console settings, and the folder's own location (a run folder
# can be moved or copied and resumed where it now is)
_RUNTIME_ONLY = {("common", "quiet"), ("common", "progress"), ("common", "exp_dir")}


class RunFolderError(UserError, RuntimeError):
    """A run folder already holds work that this command would overwrite."""


@dataclass
class ExperimentOptions:
    """What ``scripts/main.py`` passes in (each field mirrors a command-line flag)."""

    algos: list[str]
    full: bool = False
    dataset: str | None = None
    dataroot: str | None = None
    exp_dir: str | None = None
    config_files: list[str] = field(default_factory=list)
    overrides: list[str] = field(default_factory=list)
    resume: bool = False
    #: plugin modules every job imports first (what :func:`~archai.common.plugins.load_plugins` returned)
    plugins: list[str] = field(default_factory=list)
    #: the search space (``--space``; the same as ``--space.name``)
    space: str | None = None
    #: a tabular benchmark to look trainings up in (``--benchmark``; ``benchmark.table``)
    benchmark: str | None = None


def _searcher_layers(cls: type[Searcher], name: str) -> tuple[dict, dict]:
    """(the searcher's own section as ``{"algos": {name: ...}}``, its overrides of other sections)."""
    rest: dict = {}
    own: dict = dict(cls.defaults)
    if cls.defaults_file:
        data = load_yaml(confs_dir() / cls.defaults_file)
        own = deep_merge(own, (data.pop("algos", {}) or {}).get(name, {}))
        rest = data
    return {"algos": {name: own}}, rest


def config_schema() -> tuple[dict, dict[str, dict]]:
    """The schema every run's config is checked against: base.yaml extended with every
    registered space's and searcher's section; and each searcher's overrides of other sections
    (from its defaults file). Overlays such as ``toy.yaml`` layer on the first."""
    schema = load_yaml(confs_dir() / "base.yaml")
    schema = deep_merge(schema, {"space": {name: dict(SPACES.get(name).defaults) for name in SPACES.names()}})
    rests = {}
    for name in SEARCHERS.names():
        own, rests[name] = _searcher_layers(SEARCHERS.get(name), name)
        schema = deep_merge(schema, own)
    return schema, rests


def build_config(algo: str | None, opts: ExperimentOptions) -> Config:
    """Layers: base.yaml (+ the section of every registered searcher) -> the searcher's defaults
    -> toy.yaml and the searcher's toy overlay (unless ``full``) -> ``confs/datasets/NAME.yaml``
    -> the benchmark table's settings (``benchmark.table``: its space, dataset and search
    protocol) -> ``--config`` files -> command-line overrides. Any registered searcher's keys may be set
    (one command line can tune several algorithms); the result keeps only ``algos.<algo>``.

    The dataset layer is that of the dataset the run uses, however it was named (``--dataset``,
    ``--dataset.name`` or a ``--config`` file), so its skeleton comes with it. ``algo`` None:
    the protocol without any searcher's layers or section (what ``build_benchmark.py`` trains)."""
    schema, rests = config_schema()
    cls = SEARCHERS.get(algo) if algo else None
    protocol: list[Any] = [schema, rests[algo] if algo else {}]
    if not opts.full:
        protocol.append(confs_dir() / "toy.yaml")
        if cls is not None and cls.toy_file:
            protocol.append(confs_dir() / cls.toy_file)
    overrides = list(opts.overrides)
    if opts.space:
        overrides += ["--space.name", opts.space]
    if opts.dataroot:
        overrides += ["--dataset.dataroot", opts.dataroot]
    if opts.exp_dir:
        overrides += ["--common.exp_dir", opts.exp_dir]
    if opts.benchmark:
        overrides += ["--benchmark.table", opts.benchmark]

    def load(dataset: str | None, table_layer: dict | None = None) -> Config:
        layers, extra = list(protocol), []
        if dataset:
            ds_file = confs_dir() / "datasets" / f"{dataset}.yaml"
            if ds_file.is_file():
                layers.append(ds_file)
            extra = ["--dataset.name", dataset]
        if table_layer:
            layers.append(table_layer)
        try:
            return load_config([*layers, *opts.config_files], [*extra, *overrides])
        except ConfigError as e:
            raise _moved_key_error(e) from None

    conf = load(opts.dataset)
    if not opts.dataset and conf.dataset.name != load_config(protocol).dataset.name:
        conf = load(str(conf.dataset.name))  # named by --dataset.name or a --config file
    if conf.benchmark.table:  # the table's space, dataset and search protocol, under the user's layers
        layer = table_layer(resolve_table(str(conf.benchmark.table)))
        if opts.dataset and opts.dataset != layer["dataset"]["name"]:
            raise ConfigError(
                f"--dataset {opts.dataset}: the benchmark table {conf.benchmark.table} was built on "
                f"{layer['dataset']['name']}; drop --dataset (the table sets it) or use a table of {opts.dataset}"
            )
        conf = load(layer["dataset"]["name"], layer)
    space = str(conf.space.name)
    check_values(conf, [("space.name", OneOf(SPACES.names))])
    conf = conf.without(
        *(f"algos.{name}" for name in conf.algos if name != algo),
        *(f"space.{name}" for name in conf.space if name not in ("name", space)),
    )
    check_values(conf, value_rules(cls, algo, SPACES.get(space)))
    if cls is not None:
        if conf.benchmark.table and not cls.tabular:
            raise ConfigError(
                f"{algo} cannot run on a benchmark table: {cls.tabular_why}; run it without "
                f"--benchmark (real trainings)"
            )
        cls.check_space(SPACES.get(space))
        cls.check_conf(conf)
    check_eval_shape(conf)
    if int(conf.common.num_threads) == 0:  # recorded: results depend on the thread count
        conf = conf.with_overrides({"common.num_threads": torch.get_num_threads()})
    return conf


_MOVED = re.compile(r"unknown config key 'algos\.(\w+)\.(primitives|edges_per_node)'")


def _moved_key_error(e: ConfigError) -> ConfigError:
    """``e``, or for a key that moved to the space section, where it went."""
    m = _MOVED.search(str(e))
    if m is None:
        return e
    other = (
        " (or 'space.<name>.primitives' of the space the run uses, --space NAME)"
        if m[2] == "primitives"
        else ""
    )
    return ConfigError(
        f"{str(e).split(';')[0]}: the ops and edges of the search belong to the space now; set "
        f"'space.darts.{m[2]}'{other}"
    )


def load_run_config(run_dir: str | Path) -> Config:
    """The saved ``config.yaml`` of a run, layered on the schema of every registered searcher,
    so that keys without a value keep their declared types: change it with ``with_overrides``
    and pass it on to reproduce or vary the run."""
    saved = load_config([Path(run_dir) / "config.yaml"])
    schema, _ = config_schema()
    conf = load_config([schema, saved.to_dict()])
    kept = saved.get("space", {})
    return conf.without(
        *(f"algos.{name}" for name in conf.algos if name not in saved.algos),
        *(f"space.{name}" for name in conf.space if name != "name" and name not in kept),
    )


def _may_differ(path: tuple, saved: Any) -> bool:
    # num_threads 0: saved before 0 was resolved and recorded
    return path in _RUNTIME_ONLY or (path == ("common", "num_threads") and saved == 0)


def _diff(saved: dict, now: dict) -> list[str]:
    """The settings of a saved run that ``--resume`` would change."""
    return tree_diff(saved, now, skip=_may_differ)


def _finished_summary(run_dir: Path, notes: list[str]) -> dict | None:
    """The run's ``summary.json``; one that cannot be read is set aside (the run then finishes
    again from its saved search result and job results, without training)."""
    return read_state(run_dir / "summary.json", notes, "rebuilt")


def _load_search_result(run_dir: Path, notes: list[str]) -> SearchResult | None:
    """The finished search's result; a ``search_result.json`` that cannot be parsed is set aside
    and the search runs again (it resumes from its own state, reusing finished jobs)."""
    data = read_state(run_dir / "search_result.json", notes, "the search resumes from its saved state")
    return None if data is None else SearchResult.from_data(run_dir, data)


_DIGEST_LINE = re.compile(r"# settings digest (\w+)")


def _settings_digest(yaml_text: str) -> str:
    """The digest of a config's settings, less those that may change on --resume."""
    data = yaml.safe_load(yaml_text)
    for section, key in _RUNTIME_ONLY:
        (data.get(section) or {}).pop(key, None)
    return short_digest(data)


def save_run_config(conf: Config, path: Path) -> Path:
    """Writes ``config.yaml`` with a first line holding the digest of its settings, so that
    ``--resume`` can tell a file edited by hand (whose run's work was made with other settings)
    from the one the run wrote."""
    body = conf.to_yaml()
    path.write_text(
        f"# settings digest {_settings_digest(body)}: written by the run and checked on --resume; "
        f"to change a setting, pass it on the command line with a new --exp-dir\n{body}"
    )
    return path


def _config_intact(path: Path) -> bool:
    """False when ``config.yaml``'s settings differ from its digest line (no line: written
    before digests, trusted)."""
    text = path.read_text()
    m = _DIGEST_LINE.match(text)
    return m is None or m[1] == _settings_digest(text)


def prepare_run_dir(run_dir: Path, conf: Config, resume: bool) -> bool:
    """Checks what the run folder holds; returns True when the run already finished."""
    finished = (run_dir / "summary.json").is_file()
    saved = run_dir / "config.yaml"
    if run_dir.is_dir() and any(run_dir.iterdir()):
        if not resume:
            state = "a finished run" if finished else "an unfinished run"
            raise RunFolderError(
                f"{run_dir} already holds {state}; pass --resume to continue (or reuse) it, "
                f"or choose another folder with --exp-dir"
            )
        if saved.is_file():
            try:
                before = load_config([saved]).to_dict()
            except ConfigError as e:
                raise DamagedStateError(
                    saved, "restore it, or resume with a copy of the folder without it", str(e)
                ) from None
            if not _config_intact(saved):
                raise RunFolderError(
                    f"{saved} was edited after the run started (it no longer matches the digest it "
                    f"was written with), so the work in {run_dir} was made with other settings than "
                    f"it now holds; restore it, or run the new settings in another --exp-dir"
                )
            changed = _diff(before, conf.to_dict())
            if changed:
                raise RunFolderError(
                    f"--resume with settings that differ from the saved run in {run_dir}: "
                    + "; ".join(changed[:8])
                    + ". Resume with the same settings, or use another --exp-dir"
                )
    return finished


def _report(log: RunLogger, notes: list[str]) -> None:
    """Each repair of damaged state as a ``recovered`` warning (console and events.jsonl)."""
    for n in notes:
        log.event("recovered", level="warning", notes=[n])
    notes.clear()


def _make_folder(path: Path, what: str) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunFolderError(
            f"cannot create the {what} {path}: {e.strerror or e}; choose another --exp-dir"
        ) from None


def _search_and_evaluate(ctx: RunContext, notes: list[str]) -> dict[str, Any]:
    """The search (or its saved result), the Pareto front, the final training and the summary."""
    conf, algo, run_dir, log = ctx.conf, ctx.algo, ctx.run_dir, ctx.logger
    searcher = SEARCHERS.get(algo)(ctx)
    tabular = isinstance(ctx.executor, TabularExecutor)
    timing_path = run_dir / "timing.json"  # seconds per stage, summed over sessions
    with log.scope("search", algo=algo):
        result = _load_search_result(run_dir, notes)
        if result is not None:
            log.info("search already finished; reusing search_result.json")
        else:
            started = ctx.now()
            with SavedStopwatch(timing_path, "search_seconds", notes=notes) as clock:
                result = searcher.search()
                result.save(run_dir)
            log.event(
                "timing", session_seconds=round(clock.session_seconds, 3), total=round(clock.seconds, 3)
            )
            if tabular and ctx.executor.trace:  # what its trainings took when the table was built
                times = read_state(timing_path, notes, "its times are lost") or {}
                write_json(timing_path, {**times, "simulated_search_seconds": ctx.now() - started})
    timing = read_state(timing_path, notes, "its times are lost") or {}
    _report(log, notes)
    records = candidate_records(result, algo, run_dir)
    front = front_from_conf(records, conf.pareto)
    front.to_csv(run_dir / "pareto.csv")
    if len(front.objectives) >= 2:
        front.plot(run_dir / "pareto.png", title=f"{algo}: {len(records)} models")
    log.event("pareto", n_models=len(records), on_front=[r["id"] for r in front.front_records()])
    best = result.get(result.final[0])
    summary: dict[str, Any] = {
        "algo": algo,
        "final_candidate": best.id,
        "n_candidates": len(result.candidates),
        "val_top1": best.metrics.get("val_top1"),
        "test_top1": None,
        "search_seconds": timing.get("search_seconds"),
        "eval_seconds": None,
    }
    if tabular:  # search_seconds: simulated, unless nothing was looked up (a one-shot search
        # trains its supernet for real: its wall-clock time)
        simulated = timing.get("simulated_search_seconds")
        summary.update(
            search_seconds=timing.get("search_seconds") if simulated is None else simulated,
            search_clock="wall" if simulated is None else "simulated",
            search_wall_seconds=timing.get("search_seconds"),
            evaluated_by=f"table {ctx.executor.table.path}",
        )
    final_desc = best.desc
    if bool(conf.eval.enabled):
        with (
            log.scope("eval", algo=algo),
            SavedStopwatch(timing_path, "eval_seconds", notes=notes) as clock,
        ):
            outcomes = evaluate_final(ctx, result)
        summary["eval_seconds"] = clock.seconds
        _report(log, notes)
        good = [o for o in outcomes if o.ok]
        if not good:
            raise RuntimeError(f"{algo}: every final training failed; see {run_dir / 'events.jsonl'}")
        top = good[0]  # the searcher's ranking (validation), never the test set, picks the final model
        final_desc = top.desc
        summary.update(
            final_candidate=top.candidate,
            test_top1=top.metrics["test_top1"],
            val_top1=result.get(top.candidate).metrics.get("val_top1"),
            params=top.metrics["params"],
            macs=top.metrics["macs"],
            eval=[{"candidate": o.candidate, "ok": o.ok, **o.metrics} for o in outcomes],
        )
        for key in ("table_rank", "table_size", "oracle_test_top1"):  # on a benchmark table
            if key in top.metrics:
                summary[key] = top.metrics[key]
    else:
        summary.update(params=best.metrics.get("params"), macs=best.metrics.get("macs"))
    final_desc.save(run_dir / "final_desc.yaml")
    summary["final_desc"] = "final_desc.yaml"  # relative to the run folder (which can move)
    try:
        summary["genotype"] = format_genotype(desc_to_genotype(final_desc))
    except (GenotypeError, StopIteration):
        summary["genotype"] = None
    try:
        summary["architecture"] = ctx.space.label(final_desc)  # the space's readable form
    except SpaceError:
        summary["architecture"] = None
    summary["space"] = str(conf.space.name)
    summary = json_safe(summary)
    log.event("summary", data={k: summary[k] for k in SUMMARY_KEYS if k in summary})
    return summary


def run_algo(algo: str, conf: Config, resume: bool, plugins: Sequence[str] = ()) -> dict[str, Any]:
    """Search, final training and summary for one algorithm (see the module docstring)."""
    run_dir = Path(conf.common.exp_dir) / algo
    notes: list[str] = []  # damaged state found and repaired, reported once the logger is open
    if prepare_run_dir(run_dir, conf, resume) and (done := _finished_summary(run_dir, notes)) is not None:
        return done
    _make_folder(run_dir, "run folder")
    save_run_config(conf, run_dir / "config.yaml")
    if int(conf.common.num_threads) > 0:
        torch.set_num_threads(int(conf.common.num_threads))
    c = conf.common
    with RunLogger(run_dir, tensorboard=bool(c.tensorboard), **console_settings(c)) as log:
        try:
            threads = job_threads(int(c.num_threads), conf.executor)
            with make_executor(conf.executor, plugins, threads) as executor:
                ctx = RunContext(conf, algo, run_dir, log, executor)
                if conf.benchmark.table:  # trainings looked up, on a simulated clock
                    ctx.executor = tabular_executor(conf, ctx.space)
                summary = _search_and_evaluate(ctx, notes)
        except BaseException as e:  # in events.jsonl too (with its traceback unless a user error)
            log.exception(e)
            raise
    write_json(run_dir / "summary.json", summary)
    return summary


def format_table(summaries: Sequence[dict]) -> str:
    """The end-of-run table (one row per algorithm)."""
    head = ["algo", "val_top1", "test_top1", "params", "MACs", "search_s", "eval_s"]
    ranked = any("table_rank" in s for s in summaries)  # on a benchmark table
    if ranked:
        head.append("table rank")
    rows = []
    for s in summaries:

        def pct(v):
            return f"{100 * v:.2f}%" if isinstance(v, (int, float)) else "-"

        def num(v, scale=1.0, fmt="{:.0f}"):
            return fmt.format(v / scale) if isinstance(v, (int, float)) else "-"

        rows.append(
            [
                s["algo"],
                pct(s.get("val_top1")),
                pct(s.get("test_top1")),
                num(s.get("params"), 1e6, "{:.3f}M"),
                num(s.get("macs"), 1e6, "{:.1f}M"),
                num(s.get("search_seconds")),
                num(s.get("eval_seconds")),
            ]
        )
        if ranked:
            rows[-1].append(f"{s['table_rank']}/{s['table_size']}" if "table_rank" in s else "-")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths))  # noqa: E731
    return "\n".join([line(head), line(["-" * w for w in widths]), *map(line, rows)])


def run_experiment(opts: ExperimentOptions) -> list[dict[str, Any]]:
    """Runs every algorithm of ``opts`` in turn; writes ``EXP_DIR/summary.json``."""
    if not opts.algos:
        raise ConfigError("no algorithm given: use --algos NAME[,NAME...]")
    for name in opts.algos:
        SEARCHERS.get(name)  # fail before any work on an unknown name
    confs = {algo: build_config(algo, opts) for algo in opts.algos}  # validate all before starting
    for algo, conf in confs.items():  # a missing or damaged dataset, an executor that cannot start:
        d = conf.dataset  # reported before any run folder is made
        # on a benchmark table only a searcher that trains a supernet reads the data
        if not conf.benchmark.table or "one_shot" in SEARCHERS.get(algo).space_needs:
            get_provider(d.name).check(Path(d.dataroot) if d.dataroot else None, bool(d.download))
        check_executor(conf.executor)
    exp_dir = Path(confs[opts.algos[0]].common.exp_dir)
    _make_folder(exp_dir, "experiment folder")
    with FolderLock(exp_dir):  # one live process per experiment folder
        summaries = [run_algo(algo, confs[algo], opts.resume, opts.plugins) for algo in opts.algos]
        write_json(exp_dir / "summary.json", summaries)
        write_combined_front(exp_dir, confs[opts.algos[0]].pareto)
    return summaries


def write_combined_front(exp_dir: Path, pareto_conf: Config) -> None:
    """``EXP_DIR/pareto.csv`` and ``pareto.png``: every model evaluated by every algorithm run in
    this experiment folder (also by earlier commands)."""
    records, algos = [], []
    for run_dir in sorted(p for p in exp_dir.iterdir() if (p / "search_result.json").is_file()):
        algos.append(run_dir.name)
        records += candidate_records(SearchResult.load(run_dir), run_dir.name, run_dir)
    if not records:
        return
    front = front_from_conf(records, pareto_conf)
    front.to_csv(exp_dir / "pareto.csv")
    if len(front.objectives) >= 2:
        front.plot(exp_dir / "pareto.png", title=f"{', '.join(algos)}: {len(records)} models")
