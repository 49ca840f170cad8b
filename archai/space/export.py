"""Found models as files that need no Archai: TorchScript (``torch.jit.load``) and ONNX.

:func:`export_model` builds the network of a description, loads its trained weights, puts it in
inference form (eval mode, auxiliary head removed, plain convolutions: no CPU training
shortcuts) and writes it with a JSON sidecar (``NAME.json``: input shape, normalisation, classes,
where it came from). :func:`check_export` runs the file in a fresh interpreter in which
``archai`` cannot be imported and compares its outputs with the PyTorch model's.

    >>> from archai.space.genotypes import GENOTYPES, genotype_to_desc
    >>> import tempfile, pathlib
    >>> desc = genotype_to_desc(GENOTYPES["DARTS_V2"], init_channels=4, n_cells=3, in_channels=1, image_size=16)
    >>> out = export_model(desc, None, pathlib.Path(tempfile.mkdtemp()) / "m.pt", "torchscript")
    >>> out.path.name, out.sidecar.name, out.max_abs_diff < 1e-4
    ('m.pt', 'm.json', True)
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from archai.common.errors import UserError
from archai.space.model import Model, build_model
from archai.space.model_desc import ModelDesc
from archai.space.ops import DepthwiseConv2d

FORMATS = ("torchscript", "onnx")
ONNX_OPSET = 18
#: outputs of the exported file and of the PyTorch model must agree this closely (absolute)
TOLERANCE = 1e-4


class ExportError(UserError, RuntimeError):
    """The model cannot be exported as asked (unknown format, missing optional dependency,
    outputs that differ from the PyTorch model's)."""


@dataclass
class ExportResult:
    """What :func:`export_model` wrote and how closely the file matches the PyTorch model."""

    path: Path
    sidecar: Path
    format: str
    max_abs_diff: float


def inference_model(desc: ModelDesc, state_dict: Mapping[str, torch.Tensor] | None = None) -> Model:
    """The network of ``desc`` with ``state_dict`` loaded (random weights when None), in eval
    mode, without its auxiliary head, with plain convolutions only."""
    model = build_model(desc)
    if state_dict is not None:
        model.load_state_dict(state_dict)
    model.aux_head = None
    for m in model.modules():
        if isinstance(m, DepthwiseConv2d):
            m.by_phases = False  # the CPU training shortcut reshapes by batch: not for export
            m.weight_grad_by_blocks = False
    return model.eval()


def _write(model: nn.Module, example: torch.Tensor, path: Path, fmt: str) -> None:
    with torch.no_grad(), warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        # torch marks TorchScript deprecated (ONNX is the lasting format) and its ONNX exporter
        # prints progress lines: neither is the user's concern here
        warnings.simplefilter("ignore", FutureWarning)
        if fmt == "torchscript":
            torch.jit.save(torch.jit.trace(model, example), str(path))
            return
        try:
            import onnxscript  # noqa: F401  (torch's ONNX exporter needs it)
        except ImportError:
            raise ExportError(
                'ONNX export needs the onnx extra: pip install -e ".[onnx]" (onnx, onnxscript, onnxruntime)'
            ) from None
        batch = torch.export.Dim("batch", min=1)
        torch.onnx.export(
            model,
            (example,),
            str(path),
            input_names=["images"],
            output_names=["logits"],
            dynamic_shapes={"x": {0: batch}},
            opset_version=ONNX_OPSET,
            dynamo=True,
            verbose=False,
        )


def check_format(fmt: str) -> None:
    """Raises :class:`ExportError` unless ``fmt`` is one of :data:`FORMATS`."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format '{fmt}'; use one of {', '.join(FORMATS)}")


def export_model(
    desc: ModelDesc,
    state_dict: Mapping[str, torch.Tensor] | None,
    path: str | Path,
    fmt: str = "torchscript",
    info: Mapping[str, Any] | None = None,
    *,
    check: bool = True,
) -> ExportResult:
    """Writes ``desc`` with ``state_dict`` as ``path`` in ``fmt`` (``torchscript`` or ``onnx``,
    dynamic batch size) and ``path`` with ``.json`` beside it: the input (``[batch, C, H, W]``
    float32, and ``info``'s ``mean``/``std`` when given), ``n_classes``, and ``info``. With
    ``check`` the file is run without Archai and compared with the PyTorch model
    (:func:`check_export`)."""
    check_format(fmt)
    if fmt == "onnx" and check and importlib.util.find_spec("onnxruntime") is None:
        raise ExportError(
            'checking an ONNX file needs onnxruntime: pip install -e ".[onnx]" (or skip the check)'
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = inference_model(desc, state_dict)
    shape = [desc.in_channels, desc.image_size, desc.image_size]
    _write(model, torch.zeros(2, *shape), path, fmt)
    meta = {
        "format": fmt,
        **({"onnx_opset": ONNX_OPSET} if fmt == "onnx" else {}),
        "input": {"name": "images", "shape": ["batch", *shape], "dtype": "float32"},
        "output": {"name": "logits", "shape": ["batch", desc.n_classes]},
        "n_classes": desc.n_classes,
        **dict(info or {}),
    }
    sidecar = path.with_suffix(".json")
    sidecar.write_text(json.dumps(meta, indent=1) + "\n")
    diff = check_export(path, fmt, model, shape) if check else float("nan")
    return ExportResult(path, sidecar, fmt, diff)


#: run in a fresh interpreter: loads the exported file with archai made unimportable
_RUNNER = """
import importlib.abc, sys
class NoArchai(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "archai" or name.startswith("archai."):
            raise ImportError("archai is not available here (the export must not need it)")
sys.meta_path.insert(0, NoArchai())
fmt, model_path, x_path, out_path = sys.argv[1:5]
import numpy as np
x = np.load(x_path)
if fmt == "torchscript":
    import torch
    with torch.no_grad():
        y = torch.jit.load(model_path)(torch.from_numpy(x)).numpy()
else:
    import onnxruntime as ort
    session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    y = session.run(None, {session.get_inputs()[0].name: x})[0]
assert "archai" not in sys.modules
np.save(out_path, y)
"""


def check_export(path: str | Path, fmt: str, model: nn.Module, shape: list[int], batch: int = 3) -> float:
    """Runs the exported file on a random batch of ``batch`` (not the batch size it was traced
    with) in a fresh interpreter that cannot import ``archai``; returns the largest absolute
    difference from ``model``'s outputs, raising :class:`ExportError` above :data:`TOLERANCE`."""
    import numpy as np

    x = torch.randn(batch, *shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model(x).numpy()
    with tempfile.TemporaryDirectory() as tmp:
        x_path, out_path = Path(tmp) / "x.npy", Path(tmp) / "y.npy"
        np.save(x_path, x.numpy())
        run = subprocess.run(
            [sys.executable, "-c", _RUNNER, fmt, str(path), str(x_path), str(out_path)],
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            last = (run.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise ExportError(f"the exported {fmt} file {path} does not run without Archai: {last}")
        got = np.load(out_path)
    diff = float(np.abs(got - expected).max())
    if not diff <= TOLERANCE:
        raise ExportError(
            f"the exported {fmt} file {path} differs from the PyTorch model by {diff:.2e} (> {TOLERANCE})"
        )
    return diff


def measure_onnx_latency(
    desc: ModelDesc, *, batch_size: int = 1, warmup: int = 3, runs: int = 10, threads: int = 0
) -> float:
    """Median wall time in milliseconds of ``runs`` ONNX Runtime inferences of ``desc`` (random
    weights; exported as :func:`export_model` does) on the CPU; ``threads`` 0 is ONNX Runtime's
    default. Needs the onnx extra."""
    import statistics
    import time

    try:
        import numpy as np
        import onnxruntime as ort
    except ImportError:
        raise ExportError('latency_onnx_ms needs the onnx extra: pip install -e ".[onnx]"') from None
    shape = [desc.in_channels, desc.image_size, desc.image_size]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        _write(inference_model(desc), torch.zeros(2, *shape), path, "onnx")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((batch_size, *shape), dtype=np.float32)
    name, times = session.get_inputs()[0].name, []
    for i in range(warmup + runs):
        start = time.perf_counter()
        session.run(None, {name: x})
        if i >= warmup:
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)
