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
  opt: !null str
search:
  trainer: {_copy: /trainer, epochs: 50}
  lr: {_copy: ../trainer/lr}
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
    p = write(tmp_path, "r.yaml", "a: {_copy: b}\nb: {_copy: a}\n")
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
    from archai.search.experiment import ExperimentOptions, build_config, config_schema
    from archai.search.searcher import SEARCHERS

    d = confs_dir()
    schema, _ = config_schema()  # base.yaml and the sections of every registered space and searcher
    for f in sorted(d.glob("*.yaml")) + sorted((d / "datasets").glob("*.yaml")):
        if f.name != "base.yaml":
            load_config([schema, f])  # every shipped overlay only sets existing keys
    for algo in SEARCHERS.names():
        for full in (False, True):
            for ds in (None, "cifar10"):
                conf = build_config(algo, ExperimentOptions([algo], full=full, dataset=ds))
                assert algo in conf.algos


def test_the_string_form_of_a_reference_is_refused_with_the_fix(tmp_path):
    p = write(tmp_path, "r.yaml", "a: 1\nb: '_copy: a'\n")
    with pytest.raises(ConfigError, match=r"'b': write a reference as \{_copy: a\}"):
        load_config([p])


def test_typed_null_keys_check_their_values(base, tmp_path):
    assert load_config([base]).trainer.opt is None
    assert load_config([base], overrides=["--trainer.opt", "12"]).trainer.opt == "12"  # a str key
    typed = write(tmp_path, "t.yaml", "clip: !null float\nflag: !null bool\n")
    cfg = load_config([typed], overrides=["--clip", "5", "--flag", "true"])
    assert cfg.clip == 5.0 and isinstance(cfg.clip, float) and cfg.flag is True
    with pytest.raises(ConfigError, match="'clip'.*expected float"):
        load_config([typed], overrides=["--clip", "abc"])
    assert load_config([typed, {"clip": 1.5}], overrides=["--clip", "null"]).clip is None
    untyped = write(tmp_path, "u.yaml", "temperature: null\n")
    with pytest.raises(ConfigError, match="declares no type.*'temperature: !null str'"):
        load_config([untyped], overrides=["--temperature", "2"])
    with pytest.raises(ConfigError, match="!null needs a type"):
        load_config([write(tmp_path, "bad.yaml", "x: !null number\n")])


def test_every_shipped_key_has_a_type():
    import archai.algos  # noqa: F401
    from archai.search.experiment import ExperimentOptions, build_config
    from archai.search.searcher import SEARCHERS

    def untyped(node, nulls, path=()):
        for k, v in node.items():
            if isinstance(v, dict):
                yield from untyped(v, v._nulls, (*path, k))
            elif v is None and k not in nulls:
                yield ".".join((*path, k))

    for algo in SEARCHERS.names():
        conf = build_config(algo, ExperimentOptions([algo], full=True))
        assert list(untyped(conf, conf._nulls)) == [], algo


def test_a_loaded_config_is_read_only_and_changes_are_validated(base):
    cfg = load_config([base])
    for change in (
        lambda: cfg.trainer.__setitem__("epochs", 3),
        lambda: setattr(cfg.trainer, "epochs", 3),
        lambda: cfg.trainer.update(epochs=3),
        lambda: cfg.pop("trainer"),
        lambda: cfg.trainer.setdefault("new_key", 1),
    ):
        with pytest.raises(TypeError, match="read-only.*with_overrides"):
            change()
    assert cfg.trainer.epochs == 10 and "new_key" not in cfg.trainer
    changed = cfg.with_overrides({"trainer.epochs": 3, "trainer.lr": 1, "trainer.opt": "adam"})
    assert (changed.trainer.epochs, changed.trainer.lr, changed.trainer.opt) == (3, 1.0, "adam")
    assert cfg.trainer.epochs == 10  # the original is untouched
    with pytest.raises(ConfigError, match="did you mean 'trainer.epochs'"):
        cfg.with_overrides({"trainer.epoch": 3})
    with pytest.raises(ConfigError, match="expected int"):
        cfg.with_overrides({"trainer.epochs": "many"})
    back = changed.with_overrides({"trainer.opt": None})  # the declared type survives the copy
    assert back.trainer.opt is None
    with pytest.raises(ConfigError, match="expected str"):
        back.with_overrides({"trainer.opt": 3})


def test_with_overrides_merges_mappings_and_reaches_the_keys_that_copy_it(base):
    cfg = load_config([base])
    changed = cfg.with_overrides({"trainer.lr": 0.5, "search.trainer": {"epochs": 7}})
    assert changed.search.lr == 0.5 and changed.search.trainer.lr == 0.5  # through {_copy: ...}
    assert changed.search.trainer.epochs == 7 and changed.search.trainer.name == "sgd"  # merged, not replaced
    with pytest.raises(ConfigError, match="unknown config key 'search.trainer.epoch'"):
        cfg.with_overrides({"search.trainer": {"epoch": 7}})
    assert changed.with_overrides({"trainer.lr": 0.25}).search.lr == 0.25  # and again from the copy
    smaller = changed.without("search.lr")
    assert "lr" not in smaller.search and smaller.search.trainer.epochs == 7
    with pytest.raises(ConfigError, match="comes from a reference"):
        changed.without("search.trainer.nesterov")


def test_a_saved_run_config_reloads_with_its_types(tmp_path):
    import archai.algos  # noqa: F401
    from archai.search.experiment import ExperimentOptions, build_config, load_run_config

    conf = build_config("enas", ExperimentOptions(["enas"]))
    conf.save(tmp_path / "config.yaml")
    again = load_run_config(tmp_path)
    assert again == conf and list(again.algos) == ["enas"]
    changed = again.with_overrides({"dataset.dataroot": "/data", "algos.enas.controller.temperature": 2})
    assert changed.dataset.dataroot == "/data" and changed.algos.enas.controller.temperature == 2.0
