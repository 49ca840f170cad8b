"""Layered config: includes, references, overrides, validation and round trip."""

from pathlib import Path

import pytest
import yaml

from archai.common.config import Config, ConfigError, confs_dir, load_config, parse_overrides


def write(d: Path, name: str, text: str) -> Path:
    p = d / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


@pytest.fixture
def base(tmp_path):
    return write(
        tmp_path,
        "base.yaml",
        """
trainer:
  epochs: 10
  lr: 0.1
  nesterov: false
  milestones: [1, 2]
  name: sgd
  opt: null
search:
  trainer: {_copy: /trainer, epochs: 50}
  lr: '_copy: ../trainer/lr'
""",
    )


def test_include_relative_and_includer_wins(tmp_path):
    write(tmp_path, "sub/a.yaml", "x: {p: 1, q: 2}\ny: 3\n")
    write(tmp_path, "sub/b.yaml", "__include__: a.yaml\nx: {q: 20}\n")
    top = write(tmp_path, "top.yaml", "__include__: [sub/b.yaml]\ny: 30\n")
    cfg = load_config([top])
    assert cfg.x.p == 1 and cfg.x.q == 20 and cfg.y == 30


def test_include_cycle_is_an_error(tmp_path):
    write(tmp_path, "a.yaml", "__include__: b.yaml\n")
    write(tmp_path, "b.yaml", "__include__: a.yaml\n")
    with pytest.raises(ConfigError, match="cycle"):
        load_config([tmp_path / "a.yaml"])


def test_copy_mapping_and_scalar_references(base):
    cfg = load_config([base])
    assert cfg.search.trainer.epochs == 50  # local key wins
    assert cfg.search.trainer.lr == 0.1  # copied
    assert cfg.search.lr == 0.1  # scalar reference


def test_overrides_flow_through_references(base):
    cfg = load_config([base], overrides=["--trainer.lr", "0.5", "--search.trainer.epochs=7"])
    assert cfg.search.trainer.lr == 0.5 and cfg.search.lr == 0.5
    assert cfg.search.trainer.epochs == 7 and cfg.trainer.epochs == 10


def test_override_inside_copied_node_keeps_other_copied_keys(base):
    cfg = load_config([base], overrides=["--search.trainer.name", "adam"])
    assert cfg.search.trainer.name == "adam" and cfg.search.trainer.lr == 0.1
    assert cfg.trainer.name == "sgd"


@pytest.mark.parametrize(
    "arg,value,expected",
    [
        ("trainer.nesterov", "true", True),
        ("trainer.epochs", "3", 3),
        ("trainer.lr", "1", 1.0),
        ("trainer.milestones", "[5, 6]", [5, 6]),
        ("trainer.opt", "null", None),
        ("trainer.name", "123", "123"),
        ("trainer.opt", "anything", "anything"),
    ],
)
def test_override_coercion(base, arg, value, expected):
    got = load_config([base], overrides=[f"--{arg}", value]).get_path(arg)
    assert got == expected and type(got) is type(expected)


def test_unknown_override_key_suggests_closest(base):
    with pytest.raises(ConfigError) as e:
        load_config([base], overrides=["--trainer.epoch", "3"])
    assert "trainer.epoch" in str(e.value) and "did you mean 'trainer.epochs'" in str(e.value)


def test_unknown_file_key_names_path_and_file(base, tmp_path):
    over = write(tmp_path, "over.yaml", "search:\n  trainer:\n    epocs: 3\n")
    with pytest.raises(ConfigError) as e:
        load_config([base, over])
    msg = str(e.value)
    assert "search.trainer.epocs" in msg and "over.yaml" in msg and "search.trainer.epochs" in msg


def test_misplaced_key_suggests_full_path(base):
    with pytest.raises(ConfigError, match="did you mean 'trainer.milestones'"):
        load_config([base, {"milestones": [1]}])


@pytest.mark.parametrize(
    "arg,value",
    [
        ("trainer.epochs", "abc"),
        ("trainer.epochs", "2.5"),
        ("trainer.nesterov", "1"),
        ("trainer.milestones", "3"),
    ],
)
def test_wrong_type_is_an_error(base, arg, value):
    with pytest.raises(ConfigError) as e:
        load_config([base], overrides=[f"--{arg}", value])
    assert arg in str(e.value) and "expected" in str(e.value)


def test_wrong_type_in_file(base, tmp_path):
    over = write(tmp_path, "o.yaml", "trainer: {epochs: ten}\n")
    with pytest.raises(ConfigError, match="trainer.epochs.*expected int"):
        load_config([base, over])


def test_missing_reference_target(tmp_path):
    p = write(tmp_path, "r.yaml", "a: {_copy: /nope}\n")
    with pytest.raises(ConfigError, match="'/nope'"):
        load_config([p])


def test_reference_cycle(tmp_path):
    p = write(tmp_path, "r.yaml", "a: '_copy: b'\nb: '_copy: a'\n")
    with pytest.raises(ConfigError, match="cycle"):
        load_config([p])


def test_only_safe_yaml(tmp_path):
    p = write(tmp_path, "evil.yaml", "x: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config([p])


def test_semicolon_layers_and_resolved_round_trip(base, tmp_path):
    over = write(tmp_path, "over.yaml", "trainer: {epochs: 4}\n")
    cfg = load_config([f"{base};{over}"], overrides=["--trainer.lr", "0.3"])
    saved = cfg.save(tmp_path / "run" / "config.yaml")
    again = load_config([saved])
    assert again == cfg and isinstance(again, Config)
    assert yaml.safe_load(saved.read_text())["search"]["trainer"]["lr"] == 0.3


def test_attribute_access_error_suggests(base):
    cfg = load_config([base])
    with pytest.raises(AttributeError, match="did you mean 'epochs'"):
        _ = cfg.trainer.epoch


def test_parse_overrides_errors():
    with pytest.raises(ConfigError, match="no value"):
        parse_overrides(["--a.b"])
    with pytest.raises(ConfigError, match="'--verbose' has no value"):
        parse_overrides(["--verbose", "--a.b", "1"])
    assert parse_overrides(["--a.b", "-1"]) == [(("a", "b"), "-1")]
    with pytest.raises(ConfigError, match="expected an override"):
        parse_overrides(["a.b", "1"])


def test_shipped_confs_layer_cleanly():
    import archai.algos  # noqa: F401  (registers the searchers whose files live in confs/algos)
    from archai.search.experiment import ExperimentOptions, build_config
    from archai.search.searcher import SEARCHERS

    d = confs_dir()
    for f in sorted(d.glob("*.yaml")) + sorted((d / "datasets").glob("*.yaml")):
        if f.name != "base.yaml":
            load_config([d / "base.yaml", f])  # every shipped overlay only sets existing keys
    for algo in SEARCHERS.names():
        for full in (False, True):
            for ds in (None, "cifar10"):
                conf = build_config(algo, ExperimentOptions([algo], full=full, dataset=ds))
                assert algo in conf.algos
