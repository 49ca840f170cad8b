"""The notebook API: overrides are checked as on the command line; results come back typed."""

import pytest

import archai
from archai.common.config import ConfigError
from archai.search.api import override_args


def test_keyword_overrides_are_checked_like_command_line_ones(tmp_path):
    with pytest.raises(ConfigError, match="did you mean 'search.trainer.epochs'"):
        archai.search_and_evaluate("random", exp_dir=tmp_path / "exp", search={"trainer": {"epoch": 1}})
    with pytest.raises(ConfigError, match="did you mean 'nb201'"):
        archai.search_and_evaluate("random", space="nb210", exp_dir=tmp_path / "exp")
    with pytest.raises(KeyError, match="did you mean 'random'"):
        archai.search_and_evaluate("randm", exp_dir=tmp_path / "exp")
    assert not (tmp_path / "exp").exists()  # refused before any folder is made


def test_values_reach_the_command_line_parser_unchanged(tmp_path):
    args = override_args(
        {"common.exp_dir": tmp_path / "a b", "x.y": "--not-an-option"}, search={"trainer": {}}
    )
    assert args == [
        f"--common.exp_dir={tmp_path / 'a b'}",
        "--x.y=--not-an-option",
    ]  # an empty section: nothing
    assert override_args(loader={"cutout": 0, "augment": False}, trainer={"betas": (0.5, 0.9)}) == [
        "--loader.cutout=0",
        "--loader.augment=false",
        "--trainer.betas=[0.5, 0.9]",
    ]
