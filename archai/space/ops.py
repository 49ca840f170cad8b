"""Operations and their registry, with the primitive sets of the DARTS, ENAS and NAS-Bench-201 spaces.

An op factory takes ``(channels, stride, affine)`` and returns a module mapping ``channels``
to ``channels`` (spatial size divided by ``stride``). A factory that also takes ``c_in`` reads
``c_in`` channels instead (the inverted-residual blocks of the ``mobilenet`` space, whose first
layer of a stage widens the network). Register your own without touching the library:

    >>> @OPS.register("conv_3x3_plain")
    ... def conv_3x3_plain(C, stride, affine):
    ...     return torch.nn.Conv2d(C, C, 3, stride, 1, bias=False)
    >>> make_op("conv_3x3_plain", 8, 1, True)(torch.zeros(1, 8, 6, 6)).shape
    torch.Size([1, 8, 6, 6])

Semantics follow the published code of each space so that parameter counts match: ReLU before
convolution, BatchNorm after; pooling excludes padding from averages; a strided skip connection
is a factorized reduction (two offset 1x1 convolutions, concatenated).
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from archai.common.errors import UserError
from archai.common.registry import Registry

OpFactory = Callable[[int, int, bool], nn.Module]
OPS: Registry[OpFactory] = Registry("op")
#: One step of an op (see :func:`op_stages`).
Stage = Callable[[torch.Tensor], torch.Tensor]

#: The eight DARTS candidates (Liu et al., 2019).
DARTS_PRIMITIVES = (
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)
#: The five ENAS micro-space candidates (Pham et al., 2018).
ENAS_PRIMITIVES = ("sep_conv_3x3", "sep_conv_5x5", "avg_pool_3x3", "max_pool_3x3", "identity")
#: The five NAS-Bench-201 candidates (Dong & Yang, 2020).
NB201_PRIMITIVES = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")


class ChannelChangeError(UserError, ValueError):
    """An op was asked to read another channel count than it writes and cannot."""


def changes_channels(name: str) -> bool:
    """Whether the registered op ``name`` can read another channel count than it writes (its
    factory takes ``c_in``)."""
    return "c_in" in inspect.signature(OPS.get(name)).parameters


def make_op(name: str, channels: int, stride: int, affine: bool, c_in: int | None = None) -> nn.Module:
    """Builds the registered op ``name``; ``c_in`` (default ``channels``): the channels it reads.

    Example:
        >>> make_op("mb_conv_3x3_e6", 16, 2, True, c_in=8)(torch.zeros(1, 8, 8, 8)).shape
        torch.Size([1, 16, 4, 4])
    """
    factory = OPS.get(name)
    if c_in is None or c_in == channels:
        return factory(channels, stride, affine)
    if not changes_channels(name):
        able = ", ".join(n for n in OPS.names() if changes_channels(n))
        raise ChannelChangeError(
            f"op '{name}' writes as many channels as it reads; it cannot map {c_in} channels to "
            f"{channels}. Ops that can: {able}"
        )
    return factory(channels, stride, affine, c_in=c_in)


# ----------------------------------------------------------------------------- building blocks


class Zero(nn.Module):
    """Outputs zeros (the ``none`` op); strided, it keeps every ``stride``-th pixel's shape."""

    def __init__(self, stride: int) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            return x.mul(0.0)
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)


class Identity(nn.Identity):
    """The identity; drop-path skips it (as it skips no other op)."""


class ReLUConvBN(nn.Sequential):
    """ReLU, convolution (no bias), BatchNorm."""

    def __init__(
        self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, affine: bool, dilation: int = 1
    ) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride, padding, dilation=dilation, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )


class _DepthwiseByBlocks(torch.autograd.Function):
    """A stride-1 depthwise convolution with an odd ``k x k`` kernel (``k >= 5``, "same"
    padding) whose weight gradient is assembled from 3x3 weight gradients over shifted inputs.
    The value and the input gradient are oneDNN's; see :func:`depthwise_conv`."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        return F.conv2d(x, weight, None, 1, weight.shape[-1] // 2, 1, weight.shape[0])

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        x, weight = ctx.saved_tensors
        C, k = weight.shape[0], weight.shape[-1]
        p = k // 2
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.ops.aten.convolution_backward(
                g, x, weight, None, [1, 1], [p, p], [1, 1], False, [0, 0], C, [True, False, False]
            )[0]
        if ctx.needs_input_grad[1]:
            H, W = x.shape[-2:]
            xp = F.pad(x, (p, p, p, p))
            w3 = weight.new_empty(C, 1, 3, 3)
            # 3x3 blocks centred on offsets that cover -p..p (overlapping blocks agree)
            centres = sorted({min(-p + 1 + 3 * i, p - 1) for i in range(-(-k // 3))})
            grad_w = weight.new_empty(weight.shape)
            for ca in centres:
                for cb in centres:
                    shifted = xp[:, :, p + ca - 1 : p + ca + H + 1, p + cb - 1 : p + cb + W + 1]
                    grad_w[:, :, p + ca - 1 : p + ca + 2, p + cb - 1 : p + cb + 2] = (
                        torch.ops.aten.convolution_backward(
                            g,
                            shifted,
                            w3,
                            None,
                            [1, 1],
                            [0, 0],
                            [1, 1],
                            False,
                            [0, 0],
                            C,
                            [False, True, False],
                        )[1]
                    )
        return grad_x, grad_w


def depthwise_conv(x: torch.Tensor, weight: torch.Tensor, blocks: bool = True) -> torch.Tensor:
    """A stride-1, undilated depthwise convolution with "same" padding.

    On the CPU, oneDNN's weight gradient for kernels of 5 and more is slow on maps smaller than
    the kernel and for 16 channels or fewer on large batches of pixels. There (:func:`_use_blocks`)
    and outside autocast, the weight gradient is assembled from 3x3 weight gradients over
    shifted inputs (four for 5x5, nine for 7x7): forward + backward with oneDNN's AVX2 kernels,
    5x5, channels-last, 3.52 -> 0.94 ms at 128x64x4x4; the weight gradient alone 1.48 -> 0.85 ms
    at 32x16x32x32; no slower on AVX-512. The value and the input gradient are always oneDNN's;
    everywhere else, and with ``blocks=False``, this is ``F.conv2d``.
    """
    C, k = weight.shape[0], weight.shape[-1]
    wants_grad = weight.requires_grad and torch.is_grad_enabled()
    on_cpu = x.device.type == "cpu" and not torch.is_autocast_enabled("cpu")  # autocast: mixed dtypes
    if blocks and wants_grad and on_cpu and _use_blocks(x, k):
        return _DepthwiseByBlocks.apply(x, weight)
    return F.conv2d(x, weight, None, 1, k // 2, 1, C)


def _use_blocks(x: torch.Tensor, k: int) -> bool:
    """Where 3x3 blocks beat oneDNN's weight gradient (2-core AMD EPYC, AVX2, torch 2.14.1;
    below these sizes the three extra calls cost more than they save)."""
    if k < 5 or k % 2 == 0:
        return False
    N, C, H, W = x.shape
    channels_last = is_channels_last(x)
    if min(H, W) < k:  # most taps read padding: 128x64x4x4 3.5 -> 0.9 ms (NCHW 3.3 -> 2.0 ms)
        return C >= 16 if channels_last else C >= 64
    # few channels, many pixels: 32x16x32x32 channels-last 1.48 -> 0.85 ms; 32x16x16x16 is a loss
    return C <= 16 and N * H * W >= (24576 if channels_last else 16384)


def is_channels_last(x: torch.Tensor) -> bool:
    """Whether ``x`` is a 4-d tensor laid out channels-last (and not also contiguous)."""
    return x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()


def phase_split(x: torch.Tensor, d: int) -> torch.Tensor:
    """The ``d x d`` interleaved sub-grids of ``x`` as a batch: ``(d * d * N, C, H / d, W / d)``,
    sub-grid ``(i, j)`` of image ``n`` at index ``(n * d + i) * d + j`` (zeros pad ``H`` and
    ``W`` up to multiples of ``d``). Keeps the memory format; :func:`phase_merge` inverts it."""
    N, C, H, W = x.shape
    Hp, Wp = -(-H // d) * d, -(-W // d) * d
    if (Hp, Wp) != (H, W):  # zeros past the edge: what the padding of a dilated conv reads there
        x = F.pad(x, (0, Wp - W, 0, Hp - H))
    h, w = Hp // d, Wp // d
    if is_channels_last(x):  # move whole (C,) rows: every step stays channels-last
        xs = x.permute(0, 2, 3, 1).reshape(N, h, d, w, d, C).permute(0, 2, 4, 1, 3, 5)
        return xs.reshape(N * d * d, h, w, C).permute(0, 3, 1, 2)
    return x.reshape(N, C, h, d, w, d).permute(0, 3, 5, 1, 2, 4).reshape(N * d * d, C, h, w)


def phase_merge(y: torch.Tensor, d: int, size: tuple[int, int]) -> torch.Tensor:
    """Interleaves the sub-grids of :func:`phase_split` back into ``(N, C, *size)`` images."""
    Nd, C, h, w = y.shape
    N, (H, W) = Nd // (d * d), size
    channels_last = is_channels_last(y)
    if channels_last:
        y = y.permute(0, 2, 3, 1).reshape(N, d, d, h, w, C).permute(0, 3, 1, 4, 2, 5)
        y = y.reshape(N, h * d, w * d, C).permute(0, 3, 1, 2)
    else:
        y = y.reshape(N, d, d, C, h, w).permute(0, 3, 4, 1, 5, 2).reshape(N, C, h * d, w * d)
    if (h * d, w * d) == (H, W):
        return y
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    return y[:, :, :H, :W].contiguous(memory_format=fmt)


def conv_by_phases(
    x: torch.Tensor, weight: torch.Tensor, dilation: int, stride: int, blocks: bool = True
) -> torch.Tensor:
    """A depthwise convolution with dilation ``d`` and "same" padding, computed as an undilated
    one on each of the ``d x d`` interleaved sub-grids of ``x`` (the sub-grids never mix: a
    dilated kernel only reads pixels ``d`` apart). Same result; on the CPU its backward pass runs
    oneDNN's fast undilated kernels instead of the dilated ones (3x faster, docs/performance.md).
    With ``stride == d`` only the first sub-grid is read, so it is one undilated convolution.
    ``x`` keeps its memory format (channels-last in, channels-last out); ``blocks`` as in
    :func:`depthwise_conv`."""
    if stride == dilation:
        return depthwise_conv(x[:, :, ::dilation, ::dilation], weight, blocks)
    return phase_merge(depthwise_conv(phase_split(x, dilation), weight, blocks), dilation, x.shape[-2:])


class DepthwiseConv2d(nn.Conv2d):
    """A depthwise convolution (no bias, "same" padding). When dilated it can run
    :func:`conv_by_phases`: ``by_phases`` True or False, or None (default) for on the CPU only,
    where oneDNN's dilated backward kernels are slow; CUDA keeps the native kernels."""

    def __init__(self, C: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> None:
        super().__init__(C, C, kernel, stride, padding, dilation=dilation, groups=C, bias=False)
        self.by_phases: bool | None = None
        self.weight_grad_by_blocks = True  # False: oneDNN's weight gradient everywhere

    def phases(self, x: torch.Tensor) -> bool:
        """Whether :meth:`forward` runs ``x`` by sub-grids (:func:`conv_by_phases`)."""
        d, s = self.dilation[0], self.stride[0]
        on = self.by_phases if self.by_phases is not None else x.device.type == "cpu"
        return on and d > 1 and s in (1, d) and self.padding[0] * 2 == d * (self.kernel_size[0] - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.phases(x):
            return conv_by_phases(
                x, self.weight, self.dilation[0], self.stride[0], self.weight_grad_by_blocks
            )
        if self.stride[0] == 1 and self.dilation[0] == 1 and self.padding[0] * 2 + 1 == self.kernel_size[0]:
            return depthwise_conv(x, self.weight, self.weight_grad_by_blocks)
        return super().forward(x)

    def forward_on_phases(self, xs: torch.Tensor) -> torch.Tensor:
        """The stride-1 dilated convolution on sub-grids already split by :func:`phase_split`
        (still split: :func:`phase_merge` the result)."""
        return depthwise_conv(xs, self.weight, self.weight_grad_by_blocks)


class DilConv(nn.Sequential):
    """ReLU, depthwise (possibly dilated) convolution, pointwise convolution, BatchNorm."""

    def __init__(
        self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, dilation: int, affine: bool
    ) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            DepthwiseConv2d(c_in, kernel, stride, padding, dilation),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )


class SepConv(nn.Sequential):
    """Two stacked :class:`DilConv` blocks without dilation; only the first is strided."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, affine: bool) -> None:
        super().__init__(
            DilConv(c_in, c_in, kernel, stride, padding, 1, affine),
            DilConv(c_in, c_out, kernel, 1, padding, 1, affine),
        )


class FactorizedReduce(nn.Module):
    """Halves the resolution with two 1x1 convolutions, one on the even pixels and one on the
    odd ones (the published pair of stride-2 convolutions, one shifted by a pixel).

    Each convolution runs with stride 1 on its subsampled map: the same values and gradients as
    a stride-2 1x1 convolution, while oneDNN's AVX2 kernel for the weight gradient of strided
    1x1 convolutions with fewer than 8 input channels, in channels-last, returns wrong values,
    hangs on two threads or crashes on one (torch 2.14.1; ``docs/performance.md``). Its
    parameters are the published ``conv_1``, ``conv_2`` and ``bn``.
    """

    def __init__(self, c_in: int, c_out: int, affine: bool) -> None:
        super().__init__()
        if c_out % 2:
            raise ValueError(f"FactorizedReduce needs an even output channel count, got {c_out}")
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.reduce(self.relu(x)))

    def reduce(self, x: torch.Tensor) -> torch.Tensor:
        """The two convolutions on an input that has already been through the ReLU (no BatchNorm)."""
        # the shifted map is padded back to the input size: for even sizes the pad is never
        # sampled (same values as no pad); for odd sizes (28 -> 14 -> 7) both halves agree in shape
        odd = F.pad(x[:, :, 1:, 1:], (0, 1, 0, 1))[:, :, ::2, ::2]
        return torch.cat([self.conv_1(x[:, :, ::2, ::2]), self.conv_2(odd)], dim=1)


class Conv7x1x1x7(nn.Sequential):
    """ReLU, 1x7 then 7x1 convolution, BatchNorm (NASNet/AmoebaNet)."""

    def __init__(self, C: int, stride: int, affine: bool) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(C, C, (1, 7), stride=(1, stride), padding=(0, 3), bias=False),
            nn.Conv2d(C, C, (7, 1), stride=(stride, 1), padding=(3, 0), bias=False),
            nn.BatchNorm2d(C, affine=affine),
        )


class MBConv(nn.Sequential):
    """MobileNetV2's inverted residual block without its shortcut (Sandler et al., 2018), as
    ProxylessNAS searches it: a 1x1 expansion to ``expand * c_in`` channels, BatchNorm, ReLU6
    (left out when ``expand`` is 1), a ``kernel x kernel`` depthwise convolution at ``stride``,
    BatchNorm, ReLU6, and a linear 1x1 projection to ``c_out`` with BatchNorm. BatchNorms use
    eps 1e-3, as the published search network does. The shortcut, where shapes allow one, is an
    edge of its own (``skip_connect``) in the ``mobilenet`` space."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, expand: int, affine: bool) -> None:
        mid = c_in * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers += [nn.Conv2d(c_in, mid, 1, bias=False), _bn(mid, affine), nn.ReLU6(inplace=True)]
        layers += [
            DepthwiseConv2d(mid, kernel, stride, kernel // 2),
            _bn(mid, affine),
            nn.ReLU6(inplace=True),
            nn.Conv2d(mid, c_out, 1, bias=False),
            _bn(c_out, affine),
        ]
        super().__init__(*layers)


def _bn(C: int, affine: bool) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(C, eps=1e-3, affine=affine)


class ConvBNReLU6(nn.Sequential):
    """A ``kernel x kernel`` convolution, BatchNorm, ReLU6: the stem and the final 1x1 "feature
    mix" layer of MobileNetV2-style networks."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, affine: bool = True) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False),
            _bn(c_out, affine),
            nn.ReLU6(inplace=True),
        )


def op_stages(op: nn.Module) -> list[Stage]:
    """``op`` as the steps it runs one after another: plain ``nn.Sequential`` containers
    (:class:`SepConv`, :class:`DilConv`, a pool and its BatchNorm) are flattened, a
    :class:`FactorizedReduce` is its ReLU, its two convolutions and its BatchNorm, and any other
    module (one with a ``forward`` of its own) is a single step. Running the steps in order
    computes ``op(x)``; supernets use them to share an edge's leading ReLU between candidates and
    to give a candidate's final BatchNorm its mixing weight (:func:`scaled_batch_norm`).

    Example:
        >>> [type(s).__name__ for s in op_stages(make_op("sep_conv_3x3", 4, 1, False))]
        ['ReLU', 'DepthwiseConv2d', 'Conv2d', 'BatchNorm2d', 'ReLU', 'DepthwiseConv2d', 'Conv2d', 'BatchNorm2d']
    """
    if isinstance(op, FactorizedReduce):
        return [op.relu, op.reduce, op.bn]
    if isinstance(op, nn.Sequential) and type(op).forward is nn.Sequential.forward:
        return [step for m in op for step in op_stages(m)]
    return [op]


def run_stages(stages: list[Stage], x: torch.Tensor) -> torch.Tensor:
    """Runs the steps of :func:`op_stages` (or a part of them) on ``x``."""
    for step in stages:
        x = step(x)
    return x


def leads_with_relu(stages: list[Stage]) -> bool:
    """Whether the first step is a ReLU that does not overwrite its input (one that can be shared)."""
    return len(stages) > 1 and type(stages[0]) is nn.ReLU and not stages[0].inplace


def ends_with_plain_bn(stages: list[Stage]) -> bool:
    """Whether the last step is a non-affine 2-d BatchNorm (one that can take a scale)."""
    last = stages[-1] if stages else None
    return type(last) is nn.BatchNorm2d and not last.affine


def scaled_batch_norm(bn: nn.BatchNorm2d, x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``bn(x) * scale`` for a non-affine ``bn`` and a 0-d ``scale``, as one BatchNorm with
    ``scale`` as the weight of every channel: the same value, running statistics and batch
    count, and in backward the kernel that takes the input's gradient also gives the scale's
    (the per-channel sums of ``grad * x_hat``), so ``bn(x)`` is never stored for it.

    Example:
        >>> bn = nn.BatchNorm2d(3, affine=False)
        >>> x, s = torch.randn(4, 3, 5, 5), torch.tensor(0.3)
        >>> torch.allclose(scaled_batch_norm(bn, x, s), nn.BatchNorm2d(3, affine=False)(x) * s, atol=1e-6)
        True
    """
    if bn.affine:
        raise ValueError("scaled_batch_norm takes a BatchNorm without affine parameters")
    momentum = _count_batch(bn)
    batch_stats = bn.training or (bn.running_mean is None and bn.running_var is None)
    return F.batch_norm(
        x,
        *_running_stats(bn),
        scale.expand(x.shape[1]).contiguous(),  # the CPU kernel misreads a stride-0 weight on 1x1 maps
        None,
        batch_stats,
        momentum,
        bn.eps,
    )


def _count_batch(bn: nn.BatchNorm2d) -> float:
    """What ``bn``'s training forward does before it normalizes: counts the batch and returns
    the factor by which the running statistics move towards the batch's (as
    ``nn.BatchNorm2d.forward`` decides it)."""
    momentum = 0.0 if bn.momentum is None else bn.momentum
    if bn.training and bn.track_running_stats and bn.num_batches_tracked is not None:
        bn.num_batches_tracked.add_(1)
        if bn.momentum is None:
            momentum = 1.0 / float(bn.num_batches_tracked)
    return momentum


def _running_stats(bn: nn.BatchNorm2d) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """The running statistics ``bn``'s forward reads or updates (none in training without tracking)."""
    keep = not bn.training or bn.track_running_stats
    return (bn.running_mean, bn.running_var) if keep else (None, None)


def batch_norm_in_training(
    bn: nn.BatchNorm2d, x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``bn(x)`` of a non-affine ``bn`` in training mode (batch statistics, running ones updated,
    the batch counted), with the batch's per-channel mean and unbiased variance, which
    :func:`track_batch_stats` gives to other BatchNorms of the same input."""
    if bn.affine or not bn.training:
        raise ValueError("batch_norm_in_training takes a non-affine BatchNorm in training mode")
    momentum = _count_batch(bn)
    out, mean, invstd = torch.native_batch_norm(
        x,
        None,
        None,
        *_running_stats(bn),
        True,
        momentum,
        bn.eps,
    )
    n = x.numel() // x.shape[1]
    var = (invstd.detach().pow(-2) - bn.eps) * (n / max(n - 1, 1))
    return out, mean.detach(), var


def track_batch_stats(bn: nn.BatchNorm2d, mean: torch.Tensor, var: torch.Tensor) -> None:
    """Updates ``bn``'s running statistics and batch count as a training forward of a batch
    with per-channel ``mean`` and unbiased ``var`` would, without normalizing anything (for a
    BatchNorm whose output another one, on the same input, has already computed)."""
    if not (bn.training and bn.track_running_stats) or bn.running_mean is None:
        return
    momentum = _count_batch(bn)
    with torch.no_grad():
        bn.running_mean.mul_(1 - momentum).add_(mean, alpha=momentum)
        bn.running_var.mul_(1 - momentum).add_(var, alpha=momentum)


@contextlib.contextmanager
def frozen_bn_stats(model: nn.Module) -> Iterator[None]:
    """BatchNorm uses batch statistics but leaves its running statistics (and batch count) alone."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [
        (m.momentum, None if m.num_batches_tracked is None else m.num_batches_tracked.clone()) for m in bns
    ]
    for m in bns:
        m.momentum = 0.0
    try:
        yield
    finally:
        for m, (mom, count) in zip(bns, saved):
            m.momentum = mom
            if count is not None:
                m.num_batches_tracked.copy_(count)


# ----------------------------------------------------------------------------- registered ops


@OPS.register("none")
def _none(C: int, stride: int, affine: bool) -> nn.Module:
    return Zero(stride)


@OPS.register("avg_pool_3x3")
def _avg_pool_3x3(C: int, stride: int, affine: bool) -> nn.Module:
    return nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)


@OPS.register("max_pool_3x3")
def _max_pool_3x3(C: int, stride: int, affine: bool) -> nn.Module:
    return nn.MaxPool2d(3, stride=stride, padding=1)


@OPS.register("skip_connect")
def _skip_connect(C: int, stride: int, affine: bool) -> nn.Module:
    return Identity() if stride == 1 else FactorizedReduce(C, C, affine)


@OPS.register("identity")
def _identity(C: int, stride: int, affine: bool) -> nn.Module:
    # ENAS' name for the skip connection; strided in a reduction cell it must still halve the size
    return _skip_connect(C, stride, affine)


def _sep(k: int) -> OpFactory:
    return lambda C, stride, affine: SepConv(C, C, k, stride, k // 2, affine)


def _dil(k: int) -> OpFactory:
    return lambda C, stride, affine: DilConv(C, C, k, stride, k - 1, 2, affine)


for _k in (3, 5, 7):
    OPS.register(f"sep_conv_{_k}x{_k}")(_sep(_k))
for _k in (3, 5):
    OPS.register(f"dil_conv_{_k}x{_k}")(_dil(_k))
OPS.register("conv_7x1_1x7")(lambda C, stride, affine: Conv7x1x1x7(C, stride, affine))
OPS.register("nor_conv_1x1")(lambda C, stride, affine: ReLUConvBN(C, C, 1, stride, 0, affine))
OPS.register("nor_conv_3x3")(lambda C, stride, affine: ReLUConvBN(C, C, 3, stride, 1, affine))


def _mb(k: int, e: int) -> Callable[..., nn.Module]:
    def factory(C: int, stride: int, affine: bool, c_in: int | None = None) -> nn.Module:
        return MBConv(c_in or C, C, k, stride, e, affine)

    return factory


#: the inverted-residual blocks: ``mb_conv_{k}x{k}_e{e}``, kernel k, expansion e
MBCONV_OPS = tuple(f"mb_conv_{k}x{k}_e{e}" for k in (3, 5, 7) for e in (1, 3, 6))
for _k in (3, 5, 7):
    for _e in (1, 3, 6):
        OPS.register(f"mb_conv_{_k}x{_k}_e{_e}")(_mb(_k, _e))
OPS.register("conv_1x1_relu6")(
    lambda C, stride, affine, c_in=None: ConvBNReLU6(c_in or C, C, 1, stride, affine)
)
