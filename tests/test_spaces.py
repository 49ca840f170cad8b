"""Search spaces as objects: the contract, the built-in spaces, options, one-shot views."""

import random

import pytest
import torch

from archai.common.config import ConfigError
from archai.space import (
    SPACES,
    Nb201Space,
    OpDesc,
    SearchSpace,
    SpaceError,
    Supernet,
    build_model,
    make_space,
    sample_desc,
)
from archai.space.spaces.nb201 import parse_arch, unique_cell_form

SMALL = {"in_channels": 1, "image_size": 16, "init_channels": 4, "n_cells": 3, "n_nodes": 2, "stem_stride": 2}
SMALL_OPTIONS = {
    "nb201": {"cells_per_stage": 1},
    "chain": {"layers_per_stage": 3},
    "darts": {},
    "mobilenet": {
        "stages": [[6, 2, 2], [8, 2, 1]],
        "blocks": ["mb_conv_3x3_e3", "mb_conv_5x5_e6"],
        "stem_channels": 4,
        "first_channels": 4,
        "head_channels": 12,
    },
}


def small(name: str) -> SearchSpace:
    return make_space(name, shape=SMALL, **SMALL_OPTIONS[name])


@pytest.mark.parametrize("name", ["darts", "nb201", "chain", "mobilenet"])
def test_every_built_in_space_keeps_the_contract(name):
    space, rng = small(name), random.Random(3)
    samples = [space.sample(rng) for _ in range(4)]
    for desc in samples:
        desc.validate()
        out = build_model(desc).eval()(torch.zeros(2, 1, 16, 16))
        assert out.shape == (2, 10)
    assert len({len(space.encode(d)) for d in samples}) == 1  # fixed length
    desc = samples[0]
    neighbours = space.neighbours(desc)
    digests = {space.digest(n) for n in neighbours}
    assert space.digest(desc) not in digests or name == "nb201"  # nb201 may step to an isomorph
    assert len(digests) > 1
    # a mutation is one of the neighbours (one change), drawn from the generator
    child = space.mutate(random.Random(5), desc)
    assert child.to_data()["cells"] in [n.to_data()["cells"] for n in neighbours]
    assert space.mutate(random.Random(5), desc).to_data() == child.to_data()
    # sampling repeats exactly with the same seed
    assert [d.to_data() for d in (space.sample(random.Random(3)) for _ in range(1))] == [samples[0].to_data()]
    assert isinstance(space.label(desc), str) and space.label(desc)
    # the same architecture at another width (the final training's)
    wide = space.rebuild(desc, {**SMALL, "init_channels": 8})
    assert space.label(wide) == space.label(desc)


def test_small_spaces_enumerate_exactly_their_size():
    darts = make_space("darts", shape={**SMALL, "n_nodes": 1}, primitives=["skip_connect", "max_pool_3x3"])
    chain = make_space(
        "chain", shape=SMALL, layers_per_stage=2, stages=1, primitives=["nor_conv_3x3", "avg_pool_3x3"]
    )
    for space, expected in ((darts, (1 * 2**2) ** 2), (chain, 2 * (2 * 2))):
        descs = list(space.enumerate())
        assert space.size == expected == len(descs) == len({space.digest(d) for d in descs})


def test_nb201_has_the_published_number_of_distinct_architectures():
    space = make_space("nb201", cells_per_stage=1)
    descs = list(space.enumerate())
    assert space.size == len(descs) == 15625
    assert len({space.digest(d) for d in descs}) == 6466  # Dong & Yang (2020), Section 3


def test_nb201_digest_sees_isomorphic_cells_and_edges_that_cannot_reach_the_output():
    space = Nb201Space(cells_per_stage=1)

    def digest(arch):
        return space.digest(space.build(arch))

    # node 2 feeds the output only through 'none': whatever it computes is cut off
    a = "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|"
    b = "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|nor_conv_3x3~1|none~2|"
    assert digest(a) == digest(b)
    # the output's terms in another order (a sum) are the same function
    c = "|skip_connect~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|skip_connect~1|none~2|"
    d = "|skip_connect~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|"
    assert digest(c) == digest(d)
    # a different op on a reachable edge is another architecture
    assert digest(a) != digest(
        a.replace("skip_connect~0|nor_conv_3x3~1|none", "skip_connect~0|nor_conv_1x1~1|none")
    )
    assert unique_cell_form(parse_arch(a)) == unique_cell_form(parse_arch(b))


def test_darts_space_draws_what_random_search_always_drew():
    space = make_space("darts", shape=SMALL)
    ours = space.sample(random.Random(11))
    theirs = sample_desc(random.Random(11), space.primitives, **SMALL)
    assert ours.to_data() == theirs.to_data()
    # the digest ignores the order of a node's (summed) edges
    swapped = ours.to_data()
    swapped["cells"][0]["nodes"][0]["edges"].reverse()
    from archai.space import ModelDesc

    other = ModelDesc.from_data(swapped)
    assert other.digest() != ours.digest() and space.digest(other) == space.digest(ours)


def test_options_are_checked_like_config_keys():
    with pytest.raises(ConfigError, match="did you mean 'darts.primitives'"):
        make_space("darts", primitves=["skip_connect"])
    with pytest.raises(ConfigError, match=r"nb201.cells_per_stage: 0 is not allowed"):
        make_space("nb201", cells_per_stage=0)
    with pytest.raises(ConfigError, match=r"chain.primitives: \['conv_9x9'\] is not allowed"):
        make_space("chain", primitives=["conv_9x9"])
    with pytest.raises(ConfigError, match="unknown shape key"):
        make_space("darts", shape={"channels": 3})
    with pytest.raises(KeyError, match="did you mean 'nb201'"):
        make_space("nb210")


def test_spaces_refuse_descriptions_of_other_spaces():
    darts_desc = small("darts").sample(random.Random(0))
    for name in ("nb201", "chain", "mobilenet"):
        with pytest.raises(SpaceError, match=f"not a description of (the|this) {name} space"):
            small(name).neighbours(darts_desc)
    with pytest.raises(SpaceError, match="no one-shot view"):
        small("chain").supernet_desc()
    one_shot = [n for n in SPACES.names() if SPACES.get(n).supports("one_shot")]
    assert one_shot == ["darts", "mobilenet", "nb201"]


def test_darts_one_shot_view_is_the_darts_supernet_and_derives_a_member_of_the_space():
    space = make_space("darts", shape=SMALL, primitives=["sep_conv_3x3", "max_pool_3x3", "skip_connect"])
    net = Supernet(space.supernet_desc())
    assert net.candidates["normal"] == ["none", "sep_conv_3x3", "max_pool_3x3", "skip_connect"]
    weights = {k: torch.rand_like(w) for k, w in net.mixing_weights().items()}
    weights["normal"][:, 0] = 10.0  # 'none' strongest everywhere: never kept
    found = space.derive(net.desc, weights)
    normal = next(c for c in found.cells if c.kind == "normal")
    assert all(len(n.edges) == 2 and "none" not in {e.op.name for e in n.edges} for n in normal.nodes)
    assert space.digest(found) in {space.digest(n) for n in space.neighbours(found)} | {space.digest(found)}
    assert found.to_data()["cells"] and space.encode(found)  # a member: the space reads it


def test_nb201_one_shot_view_mixes_every_edge_and_derives_each_edges_strongest_op():
    space = make_space("nb201", shape=SMALL, cells_per_stage=1)
    net = Supernet(space.supernet_desc())
    assert net.alphas["normal"].shape == (6, 5) and net(torch.zeros(2, 1, 16, 16)).shape == (2, 10)
    arch = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|"
    ops = space.ops_of(space.build(arch))
    weights = {"normal": torch.stack([torch.eye(5)[space.primitives.index(op)] for op in ops])}
    assert space.label(space.derive(net.desc, weights)) == arch


def test_chain_layers_take_their_own_op_and_skips():
    space = make_space("chain", shape=SMALL, layers_per_stage=3, stages=2)
    desc = space.sample(random.Random(2))
    stages = space.stages_of(desc)
    assert len(stages) == 2 and all(len(s) == 3 for s in stages)
    assert [c.kind for c in desc.cells] == ["normal", "resblock", "normal"]
    for layers in stages:
        for i, (op, skips) in enumerate(layers):
            assert op in space.primitives and all(j < i for j in skips)
    assert space.stages_of(space.build(stages)) == stages
    # every layer reaches the output (it feeds the next one): nothing is cut off
    assert len(space.neighbours(desc)) == 2 * sum(len(space.primitives) - 1 + i for i in range(3))


def test_the_darts_space_enumerates_lazily():
    space = make_space("darts")  # about 1e18 architectures: the first comes at once
    assert space.size > 10**17 and space.label(next(space.enumerate())).startswith("Genotype(")


def test_a_path_maps_mixed_edges_only_and_refuses_inputs_the_supernet_does_not_mix():
    space = make_space("darts", shape=SMALL)
    supernet = space.supernet_desc()
    for cell in supernet.cells:  # node 1's edge from state 0 becomes a fixed op
        cell.nodes[1].edges[0].op = OpDesc("skip_connect")
    samples = [space.sample(random.Random(i)) for i in range(50)]

    def reads_0(d):
        return any(e.input == 0 for c in d.cells for e in c.nodes[1].edges)

    with pytest.raises(SpaceError, match=r"node 1 reads state\(s\) \[0\]"):
        space.path(supernet, next(d for d in samples if reads_0(d)))
    keep = next(d for d in samples if not reads_0(d))
    path = space.path(supernet, keep)
    assert [len(path[k]) for k in ("normal", "reduction")] == [2 + 2, 2 + 2]  # 5 edges, 1 fixed
    assert sum(len(r) for r in path["normal"]) == 4  # every edge of the cell is on the path


def test_mobilenet_defaults_are_the_proxylessnas_network():
    space = make_space("mobilenet", shape={"image_size": 224, "n_classes": 1000})
    assert [(la.c_out, la.stride) for la in space.layers if la.index == 0] == [
        (24, 2),
        (40, 2),
        (80, 2),
        (96, 1),
        (192, 2),
        (320, 1),
    ]
    assert len(space.layers) == 21
    # zero only where a shortcut fits: not on a stage's first layer (it changes width or stride)
    assert [len(c) for c in space.candidates] == [6, 7, 7, 7] * 5 + [6]
    assert space.size == 6**6 * 7**15
    desc = space.build(["mb_conv_3x3_e6"] * 21)
    x = torch.zeros(1, 3, 224, 224)
    model = build_model(desc).eval()
    assert model(x).shape == (1, 1000)
    feats = model.stem(x)[1]
    assert feats.shape[-1] == 112 and model.cells[-1].nodes[0][0][0].out_channels == 1280


def test_a_mobilenet_zero_layer_is_its_shortcut_and_widening_layers_read_the_narrower_input():
    space = small("mobilenet")
    choices = ["mb_conv_3x3_e3", "zero", "mb_conv_5x5_e6", "zero"]
    desc = space.build(choices)
    assert space.choices_of(desc) == choices
    assert [e.op.name for e in desc.cells[1].nodes[1].edges] == ["skip_connect"]
    model = build_model(desc)
    first = model.cells[1].nodes[0][0]  # the stage's first block reads the first block's 4 channels
    assert first[0].in_channels == 4 and first[-1].num_features == 6
    assert "zero" in space.label(desc)
    with pytest.raises(SpaceError, match="not one of"):
        space.build(["zero"] * 4)  # a first layer cannot be skipped
    from archai.space.ops import ChannelChangeError, make_op

    with pytest.raises(ChannelChangeError, match="sep_conv_3x3.*Ops that can: .*mb_conv_3x3_e1"):
        make_op("sep_conv_3x3", 8, 1, True, c_in=4)


def test_mobilenet_one_shot_view_has_one_mixed_edge_per_layer_and_derives_the_strongest():
    space = small("mobilenet")
    net = Supernet(space.supernet_desc())
    assert {g: tuple(a.shape) for g, a in net.alphas.items()} == {
        "s0l0": (1, 2),
        "s0l1": (1, 3),
        "s1l0": (1, 2),
        "s1l1": (1, 3),
    }
    assert net.candidates["s0l1"] == ["mb_conv_3x3_e3", "mb_conv_5x5_e6", "none"]
    weights = {
        "s0l0": torch.tensor([[0.1, 0.9]]),
        "s0l1": torch.tensor([[0.2, 0.1, 0.7]]),
        "s1l0": torch.tensor([[0.6, 0.4]]),
        "s1l1": torch.tensor([[0.5, 0.3, 0.2]]),
    }
    derived = space.derive(net.desc, weights)
    assert space.choices_of(derived) == ["mb_conv_5x5_e6", "zero", "mb_conv_3x3_e3", "mb_conv_3x3_e3"]
    net.path = space.path(net.desc, derived)
    assert net.path == {"s0l0": [(1,)], "s0l1": [(2,)], "s1l0": [(0,)], "s1l1": [(0,)]}
    assert net(torch.zeros(2, 1, 16, 16)).shape == (2, 10)
    assert len(list(space.enumerate())) == space.size == 2 * 3 * 2 * 3
