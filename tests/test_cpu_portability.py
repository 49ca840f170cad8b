"""Defaults that finish on every CPU: the memory format is chosen per device, never per ISA.

oneDNN's AVX2 kernel for the weight gradient of a 1x1 convolution with stride 2 and fewer than
8 input channels hangs in channels-last with two threads and crashes with one (torch 2.14.1;
the FactorizedReduce of every reduction cell's preprocessing was such a convolution). The CPU
default is channels-last, so FactorizedReduce now subsamples and convolves with stride 1, and a
model that has such a convolution of its own is trained in the contiguous format. CI runs this
suite with ``ONEDNN_MAX_CPU_ISA=AVX2`` so that the AVX2 kernels are the ones tested.
"""

import copy
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from archai.search.trainer import Trainer, resolve_memory_format, strided_pointwise_convs, trainer_conf
from archai.space.ops import FactorizedReduce


def test_memory_format_is_chosen_per_device():
    assert trainer_conf().channels_last is None  # the shipped default: choose per device
    assert resolve_memory_format(None, torch.device("cpu")) == torch.channels_last
    assert resolve_memory_format(None, torch.device("cuda")) == torch.channels_last
    assert resolve_memory_format(None, torch.device("mps")) == torch.contiguous_format
    assert resolve_memory_format(True, torch.device("cpu")) == torch.channels_last
    assert resolve_memory_format(False, torch.device("cuda")) == torch.contiguous_format
    with pytest.raises(ValueError, match="trainer.channels_last must be true, false or null"):
        resolve_memory_format("yes", torch.device("cpu"))


def test_default_trainer_on_cpu_trains_channels_last():
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten(), torch.nn.Linear(32, 2))
    trainer = Trainer(model, trainer_conf(epochs=1), device="cpu")
    assert trainer.memory_format == torch.channels_last
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last)
    x = trainer.to_device(torch.randn(2, 3, 6, 6))
    assert x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
    nchw = Trainer(model, trainer_conf(epochs=1, channels_last=False), device="cpu")
    assert nchw.to_device(
        torch.randn(2, 3, 6, 6).contiguous(memory_format=torch.channels_last)
    ).is_contiguous()


@pytest.mark.parametrize("size", [8, 7])
def test_factorized_reduce_equals_the_published_strided_pair(size):
    """Stride-1 convolutions of the even and odd pixels: the values and gradients of the
    published pair of stride-2 convolutions (the second on the input shifted by a pixel and
    padded back), on even and odd map sizes; no strided 1x1 convolution is left. The reference
    runs in float64, which oneDNN does not compute: its AVX2 weight gradient of this strided
    convolution in channels-last is wrong (when it does not hang)."""
    torch.manual_seed(0)
    fr = FactorizedReduce(4, 8, affine=True).to(memory_format=torch.channels_last)
    ref = copy.deepcopy(fr).double().to(memory_format=torch.contiguous_format)
    assert strided_pointwise_convs(fr) == []
    x = torch.randn(3, 4, size, size).contiguous(memory_format=torch.channels_last).requires_grad_()
    fr(x).square().sum().backward()

    xd = x.detach().double().contiguous().requires_grad_()
    r = ref.relu(xd)
    shifted = torch.nn.functional.pad(r[:, :, 1:, 1:], (0, 1, 0, 1))
    conv = torch.nn.functional.conv2d
    two = [conv(r, ref.conv_1.weight, stride=2), conv(shifted, ref.conv_2.weight, stride=2)]
    ref.bn(torch.cat(two, 1)).square().sum().backward()
    for a, b in zip(
        [x.grad, *(p.grad for p in fr.parameters())], [xd.grad, *(p.grad for p in ref.parameters())]
    ):
        torch.testing.assert_close(a, b.float(), rtol=1e-4, atol=1e-4)


def test_a_model_with_a_strided_pointwise_conv_of_its_own_trains_contiguous():
    risky = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 1, stride=2), torch.nn.Flatten())
    assert Trainer(risky, trainer_conf(epochs=1), device="cpu").memory_format == torch.contiguous_format
    assert strided_pointwise_convs(torch.nn.Conv2d(8, 8, 1, stride=2)) == []  # 8 channels: fine
    assert strided_pointwise_convs(torch.nn.Conv2d(16, 16, 1, stride=2, groups=4)) == [""]  # 4 per group


STALL_PATTERN = textwrap.dedent(
    """
    import sys
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset
    from archai.space.ops import FactorizedReduce
    from archai.search.trainer import Trainer, trainer_conf

    class Net(nn.Module):
        # FactorizedReduce on 4 channels (what a reduction cell's preprocessing runs), and with
        # "raw" a strided 1x1 convolution of 4 input channels of the model's own
        def __init__(self, raw):
            super().__init__()
            self.conv = nn.Conv2d(4, 8, 1, stride=2, bias=False) if raw else None
            self.reduce = FactorizedReduce(4, 8, affine=True)
            self.head = nn.Linear(16 if raw else 8, 10)

        def forward(self, x):
            ys = [self.reduce(x)] + ([self.conv(x)] if self.conv is not None else [])
            return self.head(torch.cat(ys, dim=1).mean((2, 3)))

    data = TensorDataset(torch.randn(64, 4, 28, 28), torch.randint(0, 10, (64,)))
    for threads in (2, 1):  # the kernel hangs on two threads and crashes on one
        torch.set_num_threads(threads)
        trainer = Trainer(Net(sys.argv[1] == "raw"), trainer_conf(epochs=2), device="cpu")  # shipped defaults
        trainer.fit(DataLoader(data, batch_size=32))
        print("finished", trainer.global_step, "steps in", trainer.memory_format)
    """
)


@pytest.mark.parametrize("model, layout", [("ours", "channels_last"), ("raw", "contiguous_format")])
def test_strided_pointwise_pattern_finishes_with_default_trainer_settings(model, layout):
    env = {**os.environ, "ONEDNN_MAX_CPU_ISA": os.environ.get("ONEDNN_MAX_CPU_ISA", "AVX2")}
    try:
        out = subprocess.run(
            [sys.executable, "-c", STALL_PATTERN, model], env=env, capture_output=True, text=True, timeout=180
        )
    except subprocess.TimeoutExpired:
        pytest.fail(
            f"a model with strided 1x1 convolutions on 4 channels ({model}) did not train within 180 s "
            "with the default trainer settings: the oneDNN AVX2 channels-last hang is back "
            "(docs/performance.md); see trainer.strided_pointwise_convs and ops.FactorizedReduce"
        )
    assert out.returncode == 0, out.stderr  # a crash (the one-thread form of the bug) fails here
    assert out.stdout.count(f"finished 4 steps in torch.{layout}") == 2, out.stdout
