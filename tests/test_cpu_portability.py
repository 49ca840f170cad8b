"""Defaults that finish on every CPU: the memory format is chosen per device, never per ISA.

oneDNN's AVX2 backward-weights kernel for 1x1 convolutions can stall for minutes when the
gradient it gets is a channel slice of a channels-last tensor (a strided 1x1 convolution whose
output is concatenated: FactorizedReduce, every reduction cell's preprocessing). CI runs this
suite with ``ONEDNN_MAX_CPU_ISA=AVX2`` so that the AVX2 kernels are the ones tested.
"""

import os
import subprocess
import sys
import textwrap

import pytest
import torch

from archai.search.trainer import Trainer, resolve_memory_format, trainer_conf


def test_memory_format_is_chosen_per_device():
    assert trainer_conf().channels_last is None  # the shipped default: choose per device
    assert resolve_memory_format(None, torch.device("cpu")) == torch.contiguous_format
    assert resolve_memory_format(None, torch.device("cuda")) == torch.channels_last
    assert resolve_memory_format(True, torch.device("cpu")) == torch.channels_last
    assert resolve_memory_format(False, torch.device("cuda")) == torch.contiguous_format
    with pytest.raises(ValueError, match="trainer.channels_last must be true, false or null"):
        resolve_memory_format("yes", torch.device("cpu"))


def test_default_trainer_on_cpu_trains_contiguous():
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten(), torch.nn.Linear(32, 2))
    trainer = Trainer(model, trainer_conf(epochs=1), device="cpu")
    assert trainer.memory_format == torch.contiguous_format
    assert trainer.to_device(
        torch.randn(2, 1, 6, 6).contiguous(memory_format=torch.channels_last)
    ).is_contiguous()


STALL_PATTERN = textwrap.dedent(
    """
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset
    from archai.space.ops import FactorizedReduce
    from archai.search.trainer import Trainer, trainer_conf

    class Net(nn.Module):
        # the reduced pattern: a strided 1x1 conv whose output is concatenated, then the
        # same inside FactorizedReduce (what every reduction cell's preprocessing runs)
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 8, 1, stride=2, bias=False)
            self.reduce = FactorizedReduce(4, 8, affine=True)
            self.head = nn.Linear(24, 10)

        def forward(self, x):
            y = torch.cat([self.conv(x), x[:, :, ::2, ::2].repeat(1, 2, 1, 1), self.reduce(x)], dim=1)
            return self.head(y.mean((2, 3)))

    data = TensorDataset(torch.randn(64, 4, 28, 28), torch.randint(0, 10, (64,)))
    trainer = Trainer(Net(), trainer_conf(epochs=2), device="cpu")  # the shipped defaults
    trainer.fit(DataLoader(data, batch_size=32))
    print("finished", trainer.global_step, "steps in", trainer.memory_format)
    """
)


def test_stall_pattern_finishes_with_default_trainer_settings():
    env = {**os.environ, "ONEDNN_MAX_CPU_ISA": os.environ.get("ONEDNN_MAX_CPU_ISA", "AVX2")}
    try:
        out = subprocess.run(
            [sys.executable, "-c", STALL_PATTERN], env=env, capture_output=True, text=True, timeout=180
        )
    except subprocess.TimeoutExpired:
        pytest.fail(
            "a strided 1x1 conv + cat did not train within 180 s with the default trainer settings "
            "(the oneDNN AVX2 channels-last stall); the CPU default must stay the contiguous format"
        )
    assert out.returncode == 0, out.stderr
    assert "finished 4 steps in torch.contiguous_format" in out.stdout
