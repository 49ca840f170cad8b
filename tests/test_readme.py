"""The README's notebook examples run as written (on a smaller budget) against the public API."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _examples() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## In a notebook") :]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_readme_one_import_example_runs_twice_in_one_process(tmp_path, monkeypatch, capsys):
    code = _examples()[0]
    assert code.count("import") == 1 and 'space="nb201"' in code
    small = code.replace('exp_dir="runs/notebook"', f'exp_dir="{tmp_path / "nb"}"')
    small = small.replace(
        'search={"trainer": {"epochs": 2}}',
        'search={"trainer": {"epochs": 1}, "loader": {"train_limit": 256}}, '
        'loader={"train_limit": 256, "test_limit": 128}, eval={"trainer": {"epochs": 1}}, '
        'common={"quiet": True, "progress": False}',
    )
    assert small.count("train_limit") == 2
    monkeypatch.chdir(tmp_path)
    outputs = []
    for _ in range(2):  # the second run finds the finished folder and returns its result
        exec(compile(small, "README.md", "exec"), {})
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]
    assert "RunResult(algo='darts', space='nb201', test_top1=" in outputs[0]
    assert "architecture='|" in outputs[0]


def test_readme_building_blocks_example_runs(capsys):
    code = _examples()[1]
    assert code.count("import") <= 2  # one or two imports
    small = code.replace("val_fraction=0.1)", "val_fraction=0.1, train_limit=256, test_limit=256)")
    small = small.replace("trainer_conf(epochs=2)", "trainer_conf(epochs=1, log_every_steps=0)")
    assert small != code
    exec(compile(small, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "CostReport(params=" in out and "'top1':" in out
