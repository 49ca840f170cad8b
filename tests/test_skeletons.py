"""Skeletons are chosen by name in the config; each dataset config names the one it needs."""

import pytest
import torch

import archai.algos  # noqa: F401  (registers the searchers build_config knows)
from archai.search.experiment import ExperimentOptions, build_config
from archai.space.genotypes import GENOTYPES, GenotypeBuilder
from archai.space.model import build_model
from archai.space.model_desc import DescError, ModelDesc
from archai.space.skeletons import SKELETONS


def _eval_desc(dataset: str, size: int, n_classes: int) -> ModelDesc:
    conf = build_config("random", ExperimentOptions(["random"], full=True, dataset=dataset))
    m = conf.eval.model
    return GenotypeBuilder(
        GENOTYPES["DARTS_V2"],
        skeleton=m.skeleton,
        init_channels=m.init_channels,
        n_cells=m.n_cells,
        stem_multiplier=m.stem_multiplier,
        stem_stride=m.stem_stride,
        in_channels=3,
        image_size=size,
        n_classes=n_classes,
    ).build()


def test_dataset_imagenet_builds_the_imagenet_stem():
    desc = _eval_desc("imagenet", 224, 1000)
    assert desc.skeleton == "imagenet"
    C = desc.init_channels  # 36 in the eval protocol
    model = build_model(desc).eval()
    s0, s1 = model.stem(torch.zeros(1, 3, 224, 224))
    assert s0.shape == (1, C, 56, 56) and s1.shape == (1, C, 28, 28)
    # conv 3->C/2, BN, conv C/2->C, BN (stem0); conv C->C, BN (stem1): 3x3 kernels, no biases
    expected = 3 * (C // 2) * 9 + 2 * (C // 2) + (C // 2) * C * 9 + 2 * C + C * C * 9 + 2 * C
    assert sum(p.numel() for p in model.stem.parameters()) == expected
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 224, 224)).shape == (1, 1000)


def test_the_dataset_layer_follows_the_dataset_however_it_is_named(tmp_path):
    by_key = build_config(
        "random", ExperimentOptions(["random"], full=True, overrides=["--dataset.name", "imagenet"])
    )
    other = tmp_path / "mine.yaml"
    other.write_text("dataset: {name: imagenet}\n")
    by_file = build_config("random", ExperimentOptions(["random"], full=True, config_files=[str(other)]))
    for conf in (by_key, by_file):
        assert conf.eval.model.skeleton == conf.search.model.skeleton == "imagenet"
    plain = build_config("random", ExperimentOptions(["random"], full=True))
    assert plain.dataset.name == "cifar10" and plain.loader.cutout == 0  # no dataset layer by default


def test_cifar_datasets_keep_the_cifar_stem():
    desc = _eval_desc("cifar10", 32, 10)
    assert desc.skeleton == "darts"
    s0, s1 = build_model(desc).stem(torch.zeros(2, 3, 32, 32))
    assert s0 is s1 and s1.shape == (2, desc.init_channels * desc.stem_multiplier, 32, 32)


def test_skeleton_rules_and_unknown_names():
    desc = _eval_desc("cifar10", 32, 10)
    data = desc.to_data()
    with pytest.raises(DescError, match="stem_stride must be 1 for the imagenet skeleton"):
        ModelDesc.from_data({**data, "skeleton": "imagenet", "stem_stride": 2})
    with pytest.raises(DescError, match="skeleton 'cifar' is not one of"):
        ModelDesc.from_data({**data, "skeleton": "cifar"})
    assert SKELETONS.get("nb201").n_cell_inputs == 1 and not SKELETONS.get("nb201").expandable
