"""Found models leave as TorchScript and ONNX files that load and compute without Archai."""

import json
import shutil
import subprocess
import sys

import pytest
import torch
from toy_runs import copy_run, one_line_error, run

from archai.cli import export_main
from archai.space import GENOTYPES, genotype_to_desc, measure_cost
from archai.space.export import ExportError, check_export, export_model, inference_model


def _needs_onnx():
    for mod in ("onnxruntime", "onnxscript"):
        try:
            __import__(mod)
        except ImportError:
            pytest.skip(f"{mod} is not installed: pip install -e '.[onnx]' (CI installs it with .[dev])")


DESC = genotype_to_desc(
    GENOTYPES["DARTS_V2"], init_channels=4, n_cells=3, in_channels=1, image_size=16, aux_head=True
)


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_a_published_genotype_exports_and_runs_without_archai(tmp_path, fmt):
    if fmt == "onnx":
        _needs_onnx()
    out = export_model(DESC, None, tmp_path / f"m.{fmt}", fmt, {"genotype": "DARTS_V2"})
    assert out.max_abs_diff <= 1e-4  # checked in a fresh interpreter where archai cannot import
    meta = json.loads(out.sidecar.read_text())
    assert meta["input"]["shape"] == ["batch", 1, 16, 16] and meta["n_classes"] == 10
    assert meta["genotype"] == "DARTS_V2" and meta["format"] == fmt
    # the check compares with the model it is given: another model's outputs are refused
    other = inference_model(DESC)  # other random weights
    with pytest.raises(ExportError, match="differs from the PyTorch model"):
        check_export(out.path, fmt, other, [1, 16, 16])


def test_the_export_has_no_auxiliary_head_and_any_batch_size(tmp_path):
    out = export_model(DESC, None, tmp_path / "m.pt", "torchscript", check=False)
    code = (
        "import sys, torch\n"
        "sys.modules['archai'] = None\n"  # an import of archai would fail
        f"m = torch.jit.load({str(out.path)!r})\n"
        "print(m(torch.zeros(5, 1, 16, 16)).shape, any('aux' in n for n, _ in m.named_parameters()))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "torch.Size([5, 10]) False"


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_a_finished_runs_final_model_exports_in_both_formats(random_run, tmp_path, capsys):
    _needs_onnx()
    exp = copy_run(random_run, tmp_path / "exp")
    assert export_main([str(exp), "--format", "onnx"]) == 0
    onnx_file = exp / "random" / "export" / "model.onnx"
    meta = json.loads(onnx_file.with_suffix(".json").read_text())
    summary = json.loads((exp / "random" / "summary.json").read_text())
    assert (
        meta["test_top1"] == summary["test_top1"]
        and meta["source"]["candidate"] == summary["final_candidate"]
    )
    assert meta["normalize"]["mean"] and meta["dataset"] == "fashion_mnist_mini"
    assert export_main([str(exp / "random"), "--out", str(tmp_path / "final.pt")]) == 0
    assert "outputs match PyTorch within" in capsys.readouterr().out
    from archai import RunResult  # the notebook API's result exports the same model

    again = RunResult.load(exp / "random").export(out=tmp_path / "again.pt")
    assert again.max_abs_diff <= 1e-4 and again.sidecar.name == "again.json"
    # the exported weights are the final training's, not fresh ones
    ts = torch.jit.load(str(tmp_path / "final.pt"))
    saved = torch.load(
        exp / "random" / "jobs" / f"eval_{summary['final_candidate']}" / "checkpoint.pt", weights_only=True
    )
    first = next(k for k in saved["model"] if k.endswith("weight"))
    assert torch.equal(dict(ts.named_parameters())[first], saved["model"][first])


def test_export_errors_are_one_line(random_run, tmp_path, capsys):
    exp = copy_run(random_run, tmp_path / "exp")
    cases = [
        ([str(exp), "--format", "tflite"], "unknown export format 'tflite'; use one of torchscript, onnx"),
        ([str(tmp_path / "nowhere")], "is not a folder"),
        ([str(exp), "--algo", "darts"], "holds no finished run of darts"),
        (["--desc", str(exp / "random" / "final_desc.yaml")], "--desc needs --out PATH"),
    ]
    for args, message in cases:
        assert export_main(args) == 2
        assert message in one_line_error(capsys)
    shutil.rmtree(
        exp
        / "random"
        / "jobs"
        / f"eval_{json.loads((exp / 'random' / 'summary.json').read_text())['final_candidate']}"
    )
    assert export_main([str(exp)]) == 2
    assert "has no finished final training to export" in one_line_error(capsys)


def test_onnx_runtime_latency_is_a_pareto_objective(tmp_path):
    _needs_onnx()
    rep = measure_cost(DESC, latency_onnx=True)
    assert rep.latency_onnx_ms > 0 and rep.latency_ms is None
    exp = tmp_path / "exp"
    assert run("random", exp, "--pareto.objectives", "[val_error, latency_onnx_ms]") == 0
    header, *rows = (exp / "random" / "pareto.csv").read_text().splitlines()
    assert "latency_onnx_ms" in header.split(",") and rows
    col = header.split(",").index("latency_onnx_ms")
    assert all(float(r.split(",")[col]) > 0 for r in rows)


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_a_mobilenet_block_network_exports_and_runs_without_archai(tmp_path, fmt):
    """Inverted-residual blocks (ReLU6, depthwise convolutions, widening layers) and zero layers."""
    if fmt == "onnx":
        _needs_onnx()
    from archai.space.spaces import make_space

    space = make_space(
        "mobilenet",
        shape={"in_channels": 1, "image_size": 16, "n_classes": 10},
        stages=[[8, 2, 2], [12, 1, 1]],
        stem_channels=4,
        first_channels=4,
        head_channels=16,
    )
    desc = space.build(["mb_conv_7x7_e6", "zero", "mb_conv_5x5_e3"])
    out = export_model(desc, None, tmp_path / f"m.{fmt}", fmt)
    assert out.max_abs_diff <= 1e-4
