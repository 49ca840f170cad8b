"""Ops, models built from descriptions, and parameter counts as the published code counts them."""

import pytest
import torch
import torch.nn.functional as F

from archai.space.builder import expand_cells
from archai.space.genotypes import GENOTYPES, genotype_to_desc
from archai.space.model import build_model, count_params
from archai.space.ops import DARTS_PRIMITIVES, ENAS_PRIMITIVES, NB201_PRIMITIVES, OPS, make_op
from archai.space.spaces.nb201 import arch_to_desc
from archai.space.supernet import Supernet, SupernetBuilder


def test_darts_search_supernet_param_count():
    # DARTS search network, C=16, 8 cells, 4 nodes, all 8 ops per edge, CIFAR-10 (published: 1.930618 MB)
    net = Supernet(SupernetBuilder(init_channels=16, n_cells=8, n_nodes=4).build())
    assert count_params(net.model) == 1_930_618


def test_darts_v2_eval_param_count():
    # DARTS_V2, C=36, 20 cells, aux head excluded (published: 3.349342 MB)
    model = build_model(genotype_to_desc(GENOTYPES["DARTS_V2"], init_channels=36, n_cells=20, aux_head=True))
    assert count_params(model) == 3_349_342
    assert count_params(model, include_aux=True) > 3_349_342


def test_nb201_param_counts_match_the_benchmark():
    # all-3x3 is the benchmark's largest network (1.531546 MB); all-none its smallest (0.073306 MB):
    # stem 464 + resblocks 14,464 and 57,600 + last BN 128 + classifier 650 = 73,306.
    big = arch_to_desc(
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    )
    small = arch_to_desc("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    assert count_params(build_model(big)) == 1_531_546
    assert count_params(build_model(small)) == 73_306


@pytest.mark.parametrize("name", sorted(GENOTYPES))
def test_builtin_genotypes_build_and_run(name):
    model = build_model(genotype_to_desc(GENOTYPES[name], init_channels=8, n_cells=5, aux_head=True))
    model.train()
    logits, aux = model(torch.randn(2, 3, 32, 32))
    assert logits.shape == aux.shape == (2, 10)
    assert (
        3.0e6
        < count_params(build_model(genotype_to_desc(GENOTYPES[name], init_channels=36, n_cells=20)))
        < 4.6e6
    )


@pytest.mark.parametrize(
    "name",
    sorted(set(DARTS_PRIMITIVES + ENAS_PRIMITIVES + NB201_PRIMITIVES + ("sep_conv_7x7", "conv_7x1_1x7"))),
)
@pytest.mark.parametrize("stride", [1, 2])
def test_every_op_keeps_channels_and_divides_size(name, stride):
    op = make_op(name, 8, stride, True)
    for size in (8, 7):
        out = op(torch.randn(2, 8, size, size))
        assert out.shape == (2, 8, -(-size // stride), -(-size // stride))


def test_op_semantics():
    x = torch.randn(1, 4, 6, 6)
    assert torch.count_nonzero(make_op("none", 4, 1, True)(x)) == 0
    assert torch.equal(make_op("skip_connect", 4, 1, True)(x), x)
    # pooling excludes padding from averages: a constant image stays constant at the borders
    ones = torch.ones(1, 4, 6, 6)
    assert torch.allclose(make_op("avg_pool_3x3", 4, 1, True)(ones), ones)
    sep = make_op("sep_conv_3x3", 4, 1, True)
    assert isinstance(sep[0][0], torch.nn.ReLU)  # ReLU-Conv-BN order
    assert sum(p.numel() for p in make_op("sep_conv_3x3", 4, 1, False).parameters()) == 2 * (4 * 9 + 16)


def test_user_op_registration():
    @OPS.register("test_double", overwrite=True)
    def double(C, stride, affine):
        return torch.nn.AvgPool2d(1, stride)

    assert "test_double" in OPS
    with pytest.raises(KeyError, match="already registered"):
        OPS.register("test_double")(lambda C, s, a: None)


def test_fashion_mnist_shapes_and_odd_sizes():
    desc = genotype_to_desc(
        GENOTYPES["DARTS_V2"], init_channels=8, n_cells=5, aux_head=True, in_channels=1, image_size=28
    )
    model = build_model(desc).train()
    logits, aux = model(torch.randn(2, 1, 28, 28))  # 28 -> 14 -> 7 through factorized reductions
    assert logits.shape == (2, 10) and aux.shape == (2, 10)


def test_imagenet_skeleton_runs():
    desc = genotype_to_desc(
        GENOTYPES["DARTS_V2"],
        init_channels=8,
        n_cells=3,
        skeleton="imagenet",
        image_size=64,
        n_classes=5,
        aux_head=True,
    )
    model = build_model(desc).train()
    logits, aux = model(torch.randn(2, 3, 64, 64))
    assert logits.shape == aux.shape == (2, 5)


def test_drop_path_only_in_training_and_not_on_identity():
    desc = genotype_to_desc(GENOTYPES["DARTS_V2"], init_channels=8, n_cells=3)
    model = build_model(desc)
    model.drop_path_prob = 0.5
    x = torch.randn(4, 3, 32, 32)
    model.eval()
    assert torch.equal(model(x), model(x))
    model.train()
    torch.manual_seed(0)
    a = model(x)
    torch.manual_seed(1)
    assert not torch.equal(a, model(x))


def test_expand_cells_keeps_cells_and_changes_depth():
    search = genotype_to_desc(GENOTYPES["DARTS_V1"], init_channels=8, n_cells=5)
    deep = expand_cells(search, n_cells=20, init_channels=36, aux_head=True)
    assert len(deep.cells) == 20 and deep.aux_after == 13
    assert deep.cells[0].nodes == search.cells[0].nodes
    assert count_params(build_model(deep)) == count_params(
        build_model(genotype_to_desc(GENOTYPES["DARTS_V1"], init_channels=36, n_cells=20, aux_head=True))
    )


def test_joined_node_starts_as_parent_function():
    from archai.space.model_desc import EdgeDesc, NodeDesc, OpDesc

    parent = genotype_to_desc(GENOTYPES["DARTS_V2"], init_channels=8, n_cells=3)
    child = genotype_to_desc(GENOTYPES["DARTS_V2"], init_channels=8, n_cells=3)
    for cell in child.cells:
        cell.nodes.append(NodeDesc([EdgeDesc(OpDesc("sep_conv_3x3"), 3)], join_into=5))
    pm, cm = build_model(parent).eval(), build_model(child).eval()
    missing = cm.load_state_dict(pm.state_dict(), strict=False).missing_keys
    assert missing and all(".nodes.4." in k or "gates" in k for k in missing)
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(pm(x), cm(x))


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize(
    "size,kernel,dilation,stride", [(8, 3, 2, 1), (7, 5, 2, 1), (9, 3, 3, 1), (8, 5, 2, 2), (7, 3, 2, 2)]
)
def test_dilated_conv_by_phases_equals_the_native_one(size, kernel, dilation, stride, channels_last):
    from archai.space.ops import DepthwiseConv2d

    torch.manual_seed(0)
    pad = dilation * (kernel - 1) // 2
    native, phased = (DepthwiseConv2d(4, kernel, stride, pad, dilation) for _ in range(2))
    phased.load_state_dict(native.state_dict())
    native.by_phases, phased.by_phases = False, True
    x = torch.randn(3, 4, size, size)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    ya, yb = native(xa), phased(xb)
    assert ya.shape == yb.shape and torch.allclose(ya, yb, atol=1e-5)
    assert yb.is_contiguous(memory_format=torch.channels_last) == channels_last or stride > 1
    g = torch.randn_like(ya)
    ya.backward(g)
    yb.backward(g)
    assert torch.allclose(xa.grad, xb.grad, atol=1e-5)
    assert torch.allclose(native.weight.grad, phased.weight.grad, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kernel", [5, 7])
@pytest.mark.parametrize("shape", [(3, 4, 9, 9), (2, 6, 4, 3)])  # a map, and one smaller than the kernel
@pytest.mark.parametrize("channels_last", [False, True])
def test_depthwise_weight_gradient_by_3x3_blocks_equals_onednns(kernel, shape, channels_last):
    from archai.space.ops import _DepthwiseByBlocks

    fmt = torch.channels_last if channels_last else torch.contiguous_format
    g = torch.Generator().manual_seed(kernel)
    x0 = torch.randn(*shape, generator=g).contiguous(memory_format=fmt)
    w0 = torch.randn(shape[1], 1, kernel, kernel, generator=g)
    grad_out = torch.randn(*shape, generator=g).contiguous(memory_format=fmt)
    results = []
    for fn in (lambda x, w: F.conv2d(x, w, None, 1, kernel // 2, 1, shape[1]), _DepthwiseByBlocks.apply):
        x, w = x0.clone().requires_grad_(), w0.clone().requires_grad_()
        y = fn(x, w)
        y.backward(grad_out)
        results.append((y.detach(), x.grad, w.grad))
    for a, b in zip(*results):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-5)


def test_depthwise_by_blocks_has_exact_first_and_second_derivatives():
    from archai.space.ops import _DepthwiseByBlocks

    x = torch.randn(2, 3, 5, 4, dtype=torch.double, requires_grad=True)
    w = torch.randn(3, 1, 5, 5, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(_DepthwiseByBlocks.apply, (x, w))
    assert torch.autograd.gradgradcheck(_DepthwiseByBlocks.apply, (x, w))


@pytest.mark.parametrize(
    "shape,channels_last,kernel,blocks",
    [
        ((2, 16, 4, 4), True, 5, True),  # a map smaller than the kernel, channels-last
        ((2, 16, 4, 4), False, 5, False),  # ... contiguous: oneDNN unless 64 channels or more
        ((2, 8, 4, 4), True, 5, False),  # too few channels to gain
        ((32, 16, 32, 32), True, 5, True),  # few channels, many pixels
        ((32, 16, 16, 16), True, 5, False),  # too few pixels to gain
        ((32, 16, 32, 32), True, 3, False),  # 3x3 weight gradients are fast already
    ],
)
def test_depthwise_conv_takes_the_block_route_only_where_it_was_measured_faster(
    shape, channels_last, kernel, blocks
):
    from archai.space.ops import depthwise_conv

    fmt = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.randn(*shape).contiguous(memory_format=fmt)
    w = torch.randn(shape[1], 1, kernel, kernel, requires_grad=True)
    assert (type(depthwise_conv(x, w).grad_fn).__name__ == "_DepthwiseByBlocksBackward") == blocks
    with torch.no_grad():  # no gradient to take: always the plain convolution
        assert depthwise_conv(x, w).grad_fn is None


def test_depthwise_5x5_trains_under_cpu_autocast():
    op = make_op("sep_conv_5x5", 16, 1, True).to(memory_format=torch.channels_last)
    x = torch.randn(2, 16, 4, 4).contiguous(memory_format=torch.channels_last).requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = op(x)
    y.float().sum().backward()  # bf16 gradients into fp32 weights: oneDNN's own backward
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in op.parameters())
