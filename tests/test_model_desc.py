"""Descriptions: round trips, safe loading, validation errors that name the culprit."""

import json

import pytest
import yaml

from archai.space.genotypes import GENOTYPES, genotype_to_desc
from archai.space.model import build_model
from archai.space.model_desc import CellDesc, DescError, EdgeDesc, ModelDesc, NodeDesc, OpDesc
from archai.space.ops import OPS
from archai.space.spaces.nb201 import arch_to_desc


def small_desc() -> ModelDesc:
    return genotype_to_desc(GENOTYPES["DARTS_V2"], init_channels=8, n_cells=5, aux_head=True)


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_round_trip_is_exact(tmp_path, suffix):
    desc = small_desc()
    desc.cells[1].nodes.append(NodeDesc([EdgeDesc(OpDesc("sep_conv_3x3", {"note": 1}), 2)], join_into=3))
    edges = [EdgeDesc(OpDesc("skip_connect"), 0), EdgeDesc(OpDesc("max_pool_3x3"), 3)]
    desc.cells[0].nodes.append(NodeDesc(edges, join_into=5, merge="concat_proj"))
    path = desc.save(tmp_path / f"d{suffix}")
    assert ModelDesc.load(path) == desc
    assert ModelDesc.load(path).to_data() == desc.to_data()
    nodes = desc.to_data()["cells"][0]["nodes"]
    assert nodes[-1]["merge"] == "concat_proj" and all("merge" not in n for n in nodes[:-1])  # sums: unset


def test_yaml_is_readable_plain_data(tmp_path):
    text = small_desc().save(tmp_path / "d.yaml").read_text()
    assert "!!python" not in text and "format_version: 1" in text
    data = yaml.safe_load(text)
    assert data["cells"][0]["nodes"][0]["edges"][0] == {"op": "sep_conv_3x3", "input": 0}


def test_unsafe_yaml_is_rejected(tmp_path):
    p = tmp_path / "evil.yaml"
    p.write_text("format_version: 1\ncells: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(DescError, match="not valid YAML"):
        ModelDesc.load(p)


def test_format_version_checked():
    data = small_desc().to_data()
    data["format_version"] = 99
    with pytest.raises(DescError, match="format_version 99"):
        ModelDesc.from_data(data)


def test_unknown_keys_are_errors():
    data = small_desc().to_data()
    data["cells"][2]["nodes"][1]["edges"][0]["inptu"] = 0
    with pytest.raises(DescError, match=r"cell 2 node 1 edge 0: unknown key\(s\) \['inptu'\]"):
        ModelDesc.from_data(data)


@pytest.mark.parametrize(
    "mutate,message",
    [
        (
            lambda d: setattr(d.cells[1].nodes[0].edges[0], "input", 5),
            "cell 1 .* node 0 \\(state 2\\) edge 0: input 5",
        ),
        (lambda d: d.cells[0].nodes[2].edges.clear(), "cell 0 .* node 2 .* no incoming edges"),
        (lambda d: d.cells[0].nodes.clear(), "cell 0 .* at least one node"),
        (lambda d: setattr(d.cells[0].nodes[1], "merge", "cat"), "cell 0 .* node 1 .* merge must be one of"),
        (lambda d: setattr(d.cells[3], "concat", [9]), "cell 3 .* concat refers to state 9"),
        (lambda d: setattr(d.cells[0], "kind", "weird"), "cell 0 .* kind must be one of"),
        (
            lambda d: setattr(d.cells[1], "channels", 15),
            "cell 1 \\(reduction\\): reduction cells need an even",
        ),
        (lambda d: setattr(d, "aux_after", 7), "aux_after 7"),
    ],
)
def test_validation_names_the_culprit(mutate, message):
    desc = small_desc()
    mutate(desc)
    with pytest.raises(DescError, match=message):
        desc.validate()


def test_unknown_op_named_on_validate_and_build():
    desc = small_desc()
    desc.cells[2].nodes[1].edges[1].op = OpDesc("sep_conv_4x4")
    with pytest.raises(DescError, match="cell 2 .* node 1 .* edge 1: unknown op 'sep_conv_4x4'"):
        desc.validate(OPS)
    with pytest.raises(KeyError, match="cell 2 node 1 edge 1: unknown op 'sep_conv_4x4'"):
        build_model(desc)


def test_nb201_channel_arithmetic_checked():
    desc = arch_to_desc(
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"
    )
    desc.cells[6].channels = 48  # a normal cell after the 32-channel resblock
    with pytest.raises(DescError, match="cell 6 \\(normal\\): has 48 channels but its input has 32"):
        desc.validate()


def test_hand_written_cell_in_yaml_builds(tmp_path):
    text = """
format_version: 1
skeleton: darts
in_channels: 1
image_size: 28
n_classes: 10
init_channels: 8
cells:
- kind: normal
  channels: 8
  nodes:
  - edges: [{op: sep_conv_3x3, input: 0}, {op: skip_connect, input: 1}]
  - edges: [{op: max_pool_3x3, input: 2}, {op: dil_conv_3x3, input: 1}]
  concat: [2, 3]
- kind: reduction
  channels: 16
  nodes:
  - edges: [{op: avg_pool_3x3, input: 0}, {op: sep_conv_5x5, input: 1}]
  concat: [2]
"""
    (tmp_path / "cell.yaml").write_text(text)
    model = build_model(ModelDesc.load(tmp_path / "cell.yaml")).eval()
    import torch

    assert model(torch.zeros(3, 1, 28, 28)).shape == (3, 10)


def test_meta_survives_json(tmp_path):
    desc = small_desc()
    desc.meta["val_top1"] = 0.5
    p = desc.save(tmp_path / "d.json")
    assert json.loads(p.read_text())["meta"]["val_top1"] == 0.5
    assert "genotype" in ModelDesc.load(p).meta


def test_cell_desc_edge_types():
    c = CellDesc("normal", 4, [NodeDesc([EdgeDesc(OpDesc("none"), 0)])], [2])
    assert CellDesc.from_data(c.to_data(), "c") == c


def test_stem_stride_halves_the_resolution_and_loads_from_older_files():
    import torch

    from archai.space.cost import count_macs

    plain = genotype_to_desc(GENOTYPES["DARTS_V2"], init_channels=8, n_cells=5, in_channels=1, image_size=28)
    strided = genotype_to_desc(
        GENOTYPES["DARTS_V2"], init_channels=8, n_cells=5, in_channels=1, image_size=28, stem_stride=2
    )
    m1, m2 = build_model(plain), build_model(strided)
    assert sum(p.numel() for p in m1.parameters()) == sum(p.numel() for p in m2.parameters())
    x = torch.randn(2, 1, 28, 28)
    assert m2.stem(x)[1].shape[-1] == 14 and m1.stem(x)[1].shape[-1] == 28
    assert m2(x).shape == (2, 10)
    ratio = count_macs(m2, (1, 28, 28)) / count_macs(m1, (1, 28, 28))
    assert 0.2 < ratio < 0.35  # about a quarter of the work
    assert ModelDesc.from_yaml(strided.to_yaml()).stem_stride == 2
    older = plain.to_data()
    del older["stem_stride"]  # files written before the field existed
    assert ModelDesc.from_data(older).stem_stride == 1
    with pytest.raises(DescError, match="stem_stride must be 1 or 2"):
        ModelDesc.from_data({**plain.to_data(), "stem_stride": 3})
