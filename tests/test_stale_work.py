"""Work made from other inputs is never reused as if it were this run's.

A job folder records the fingerprint of its inputs; a search result records the digest of each
candidate; config.yaml records the digest of its settings. A resumed run that finds any of them
changed stops with one line (exit 2) and keeps the work; it never reports a stale result.
"""

import json
import re
from pathlib import Path

import pytest
import yaml
from toy_runs import copy_run, one_line_error, recovered, run, unfinish

from archai.search.jobs import StaleJobError, TrainJob, job_inputs, run_train_job
from archai.search.trainer import trainer_conf
from archai.space.genotypes import GENOTYPES, genotype_to_desc


def mtimes(run_dir: Path) -> dict:
    return {p: p.stat().st_mtime_ns for p in run_dir.glob("jobs/*/*") if p.is_file()}


def test_a_candidate_file_copied_over_the_final_one_is_refused(random_run, tmp_path, capsys):
    exp = copy_run(random_run, tmp_path / "exp")
    run_dir = exp / "random"
    final = json.loads((run_dir / "summary.json").read_text())["final_candidate"]
    other = next(p for p in (run_dir / "candidates").glob("*.yaml") if p.stem != final)
    (run_dir / "candidates" / f"{final}.yaml").write_text(other.read_text())
    (run_dir / "summary.json").unlink()
    (exp / "summary.json").unlink()
    before = mtimes(run_dir)
    assert run("random", exp, "--resume") == 2
    err = one_line_error(capsys)
    assert f"candidates/{final}.yaml" in err and "changed after the search" in err
    assert not (run_dir / "summary.json").exists()  # no summary naming one model with another's figures
    assert mtimes(run_dir) == before  # nothing retrained, nothing overwritten


def test_an_edited_config_with_matching_overrides_is_refused(random_run, tmp_path, capsys):
    exp = copy_run(random_run, tmp_path / "exp")
    run_dir = exp / "random"
    config = run_dir / "config.yaml"
    text = config.read_text()
    data = yaml.safe_load(text)
    assert data["search"]["trainer"]["epochs"] == 1
    config.write_text(text.replace("epochs: 1\n", "epochs: 2\n", 1))
    assert yaml.safe_load(config.read_text())["search"]["trainer"]["epochs"] == 2
    before = mtimes(run_dir)
    assert run("random", exp, "--resume", "--search.trainer.epochs", "2") == 2  # finished run, too
    assert "config.yaml was edited after the run started" in one_line_error(capsys)
    unfinish(run_dir)
    assert run("random", exp, "--resume", "--search.trainer.epochs", "2") == 2
    assert "was edited" in one_line_error(capsys)
    assert mtimes(run_dir) == before


def test_a_job_folder_refuses_other_inputs_and_keeps_its_work(random_run, tmp_path, capsys):
    """The job-level guard, reached past the run-level ones (a config.yaml from before
    settings digests, edited, with a matching override)."""
    exp = copy_run(random_run, tmp_path / "exp")
    run_dir = exp / "random"
    unfinish(run_dir)
    inputs = json.loads((run_dir / "jobs" / "sample_000" / "inputs.json").read_text())
    assert inputs["inputs"]["trainer"]["epochs"] == 1 and "digest" in inputs["inputs"]["desc"]
    config = run_dir / "config.yaml"
    config.write_text(re.sub(r"^# settings digest.*\n", "", config.read_text()))  # an older folder
    config.write_text(config.read_text().replace("seed: 2", "seed: 3"))
    before = mtimes(run_dir)
    assert run("random", exp, "--resume", "--common.seed", "3") == 2
    err = one_line_error(capsys)
    assert "jobs/sample_000 holds work made from other inputs" in err and "seed: 2 -> 3" in err
    assert mtimes(run_dir) == before


def job(tmp_path, genotype="DARTS_V2", epochs=1, **kw):
    desc = genotype_to_desc(
        GENOTYPES[genotype], init_channels=4, n_cells=3, n_nodes=4, in_channels=1, image_size=28
    )
    loader = {"batch_size": 32, "eval_batch_size": 200, "val_fraction": 0.2, "train_limit": 96}
    loader.update(test_limit=64, augment=False, cutout=0, num_workers=0, pin_memory=False)
    trainer = trainer_conf(epochs=epochs, channels_last=False, log_every_steps=0).to_dict()
    data = {"name": "fashion_mnist_mini", "dataroot": None, "download": False}
    return TrainJob("j", desc.to_data(), data, loader, trainer, str(tmp_path / "j"), device="cpu", **kw)


def test_a_finished_job_is_not_reused_for_another_description(tmp_path):
    first = run_train_job(*job(tmp_path).as_args())
    result = (tmp_path / "j" / "result.json").read_bytes()
    with pytest.raises(StaleJobError, match=r"desc\.digest: '\w+' -> '\w+'"):
        run_train_job(*job(tmp_path, "DARTS_V1").as_args())
    with pytest.raises(StaleJobError, match="trainer.epochs: 1 -> 2"):
        run_train_job(*job(tmp_path, epochs=2).as_args())
    assert (tmp_path / "j" / "result.json").read_bytes() == result
    assert run_train_job(*job(tmp_path).as_args()) == first  # the same inputs: reused as before


def test_the_fingerprint_ignores_where_and_how_visibly_a_job_runs(tmp_path):
    base = job(tmp_path).as_args()[0]
    moved = {**base, "job_dir": "/elsewhere/jobs/j", "name": "k", "console": {"quiet": True}}
    moved["trainer"] = {**base["trainer"], "log_every_steps": 7, "progress_every_s": 0.0}
    moved["dataset"] = {**base["dataset"], "dataroot": "/data"}
    assert job_inputs(moved) == job_inputs(base)
    for change in ({"seed": 1}, {"num_threads": 3}, {"init_weights": "/r/jobs/p/weights.pt"}):
        assert job_inputs({**base, **change}) != job_inputs(base), change
    warm = {**base, "init_weights": "/old/place/jobs/p/weights.pt"}
    assert job_inputs(warm) == job_inputs({**base, "init_weights": "/new/jobs/p/weights.pt"})


def test_a_job_folder_without_a_record_of_its_inputs_trains_again(random_run, tmp_path):
    """Made before fingerprints (or its inputs.json lost): its result cannot be vouched for."""
    exp = copy_run(random_run, tmp_path / "exp")
    run_dir = exp / "random"
    unfinish(run_dir)
    (run_dir / "jobs" / "sample_000" / "inputs.json").unlink()
    assert run("random", exp, "--resume") == 0
    assert (run_dir / "jobs" / "sample_000" / "result.json.damaged").is_file()  # set aside, kept
    assert (run_dir / "jobs" / "sample_000" / "inputs.json").is_file()
    assert any("sample_000/result.json has no record of its inputs" in n for n in recovered(run_dir))
    same = json.loads((random_run / "random" / "jobs" / "sample_000" / "result.json").read_text())
    again = json.loads((run_dir / "jobs" / "sample_000" / "result.json").read_text())
    assert again["val_top1"] == same["val_top1"]  # retrained from the same inputs: the same figure


def test_a_path_that_leads_out_of_the_run_folder_is_refused(random_run, tmp_path, capsys):
    exp = copy_run(random_run, tmp_path / "exp")
    run_dir = exp / "random"
    outside = tmp_path / "outside.yaml"
    outside.write_text((run_dir / "candidates" / "sample_000.yaml").read_text())
    state = json.loads((run_dir / "search_result.json").read_text())
    state["candidates"][0]["desc"] = "../../outside.yaml"
    (run_dir / "search_result.json").write_text(json.dumps(state))
    (run_dir / "summary.json").unlink()
    assert run("random", exp, "--resume") == 2
    err = one_line_error(capsys)
    assert "search_result.json" in err and "outside the run folder" in err
    assert not (run_dir / "summary.json").exists()


def test_petridish_state_paths_stay_inside_the_run_folder(tmp_path):
    from archai.common.errors import DamagedStateError
    from archai.common.jsonio import inside

    run_dir = tmp_path / "run"
    (run_dir / "jobs").mkdir(parents=True)
    assert inside(run_dir, "jobs/a/weights.pt", source=run_dir / "s.json") == run_dir / "jobs/a/weights.pt"
    for bad in ("../x.pt", str(tmp_path / "x.pt"), "jobs/../../x.pt"):
        with pytest.raises(DamagedStateError, match="outside the run folder"):
            inside(run_dir, bad, source=run_dir / "s.json")
    (run_dir / "jobs" / "link").symlink_to(tmp_path)  # a link made inside the folder is followed
    assert inside(run_dir, "jobs/link/x.pt", source=run_dir / "s.json") == run_dir / "jobs/link/x.pt"


def test_a_job_killed_mid_training_refuses_to_resume_with_other_inputs(tmp_path):
    """The checkpoint of another description would not even load (a state_dict traceback)."""
    run_train_job(*job(tmp_path, epochs=2).as_args())
    (tmp_path / "j" / "result.json").unlink()  # killed after its last checkpoint
    checkpoint = (tmp_path / "j" / "checkpoint.pt").read_bytes()
    with pytest.raises(StaleJobError, match="desc.digest"):
        run_train_job(*job(tmp_path, "DARTS_V1", epochs=2).as_args())
    assert (tmp_path / "j" / "checkpoint.pt").read_bytes() == checkpoint


def test_petridish_refuses_a_pool_model_whose_file_was_replaced(tmp_path, capsys):
    exp = tmp_path / "exp"
    assert run("petridish", exp, "--eval.enabled", "false") == 0
    run_dir = exp / "petridish"
    pool = json.loads((run_dir / "search" / "petridish.json").read_text())["pool"]
    first, other = pool[0], next(e for e in pool[1:] if e["digest"] != pool[0]["digest"])
    (run_dir / first["desc"]).write_text((run_dir / other["desc"]).read_text())
    unfinish(run_dir)
    assert run("petridish", exp, "--eval.enabled", "false", "--resume") == 2
    err = one_line_error(capsys)
    assert first["desc"] in err and "changed after it was trained" in err


def test_moving_a_run_and_its_exp_dir_line_is_no_edit(random_run, tmp_path):
    exp = copy_run(random_run, tmp_path / "moved")
    config = exp / "random" / "config.yaml"
    config.write_text(config.read_text().replace(str(random_run), str(exp)))  # the keys --resume may change
    unfinish(exp / "random")
    assert run("random", exp, "--resume") == 0
