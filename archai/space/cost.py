"""Cost of a description: parameters, MACs, measured latency and peak training memory.

Example:
    >>> from archai.space.genotypes import GENOTYPES, genotype_to_desc
    >>> report = measure_cost(genotype_to_desc(GENOTYPES["DARTS_V2"], init_channels=16, n_cells=8))
    >>> report.params > 0 and report.macs > report.params
    True
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass

import torch
from torch import nn

from archai.space.export import measure_onnx_latency
from archai.space.model import build_model, count_params
from archai.space.model_desc import ModelDesc


@dataclass
class CostReport:
    """Costs of one network; latency and memory are ``None`` unless measured."""

    params: int
    params_with_aux: int
    macs: int
    latency_ms: float | None = None
    #: ONNX Runtime's CPU latency of the exported network (``latency_onnx=True``; the onnx extra)
    latency_onnx_ms: float | None = None
    peak_memory_mb: float | None = None
    device: str = "cpu"
    batch_size: int = 1

    def as_dict(self) -> dict:
        return asdict(self)


def count_macs(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of one forward pass on one sample (convolutions and linear layers).

    Pooling, BatchNorm and additions are not counted, as is usual when papers report FLOPs.
    """
    total = 0

    def conv_hook(m: nn.Conv2d, inp, out):
        nonlocal total
        per_out = (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
        total += out[0].numel() * per_out

    def linear_hook(m: nn.Linear, inp, out):
        nonlocal total
        total += out[0].numel() * m.in_features

    handles = []
    for mod in model.modules():
        if isinstance(mod, nn.Conv2d):
            handles.append(mod.register_forward_hook(conv_hook))
        elif isinstance(mod, nn.Linear):
            handles.append(mod.register_forward_hook(linear_hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            device = next(model.parameters()).device
            model(torch.zeros(1, *input_shape, device=device))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return int(total)


def measure_latency(
    model: nn.Module,
    input_shape: tuple[int, ...],
    *,
    batch_size: int = 1,
    device: str | torch.device = "cpu",
    warmup: int = 3,
    runs: int = 10,
) -> float:
    """Median wall time in milliseconds of ``runs`` inference forward passes."""
    device = torch.device(device)
    model = model.to(device).eval()
    x = torch.randn(batch_size, *input_shape, device=device)
    times = []
    with torch.no_grad():
        for i in range(warmup + runs):
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            model(x)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if i >= warmup:
                times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def measure_peak_memory(
    model: nn.Module,
    input_shape: tuple[int, ...],
    *,
    batch_size: int = 32,
    device: str | torch.device = "cpu",
) -> float:
    """Peak memory (MiB) of one training step (forward and backward).

    On CUDA it is what the allocator reports; on the CPU it is the sum of parameters, gradients
    and the activations autograd saves for backward (which is what grows with the batch).
    """
    device = torch.device(device)
    model = model.to(device).train()
    x = torch.randn(batch_size, *input_shape, device=device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        out = model(x)
        logits = out[0] if isinstance(out, tuple) else out
        logits.float().sum().backward()
        peak = torch.cuda.max_memory_allocated(device) - base
        model.zero_grad(set_to_none=True)
        return peak / 2**20
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor):
        try:
            key = t.untyped_storage().data_ptr()
            seen[key] = max(seen.get(key, 0), t.untyped_storage().nbytes())
        except RuntimeError:
            pass
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = model(x)
    logits = out[0] if isinstance(out, tuple) else out
    logits.sum().backward()
    model.zero_grad(set_to_none=True)
    param_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    activations = sum(seen.values())
    return (2 * param_bytes + activations) / 2**20


def measure_cost(
    desc: ModelDesc,
    *,
    latency: bool = False,
    memory: bool = False,
    latency_onnx: bool = False,
    batch_size: int = 1,
    device: str | torch.device = "cpu",
    model: nn.Module | None = None,
) -> CostReport:
    """Parameters and MACs of ``desc`` (built unless ``model`` is given), optionally latency
    (eager PyTorch on ``device``, and ONNX Runtime on the CPU) and memory."""
    model = model if model is not None else build_model(desc)
    shape = (desc.in_channels, desc.image_size, desc.image_size)
    report = CostReport(
        params=count_params(model),
        params_with_aux=count_params(model, include_aux=True),
        macs=count_macs(model, shape),
        device=str(device),
        batch_size=batch_size,
    )
    if latency:
        report.latency_ms = measure_latency(model, shape, batch_size=batch_size, device=device)
    if latency_onnx:
        report.latency_onnx_ms = measure_onnx_latency(desc, batch_size=batch_size)
    if memory:
        report.peak_memory_mb = measure_peak_memory(
            model, shape, batch_size=max(batch_size, 2), device=device
        )
    return report
