"""The README's notebook example runs as written (on a smaller budget) against the public API."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_notebook_example_runs(capsys):
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## In a notebook") :]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert code.count("import") <= 2  # one or two imports
    small = code.replace("val_fraction=0.1)", "val_fraction=0.1, train_limit=256, test_limit=256)")
    small = small.replace("trainer_conf(epochs=2)", "trainer_conf(epochs=1, log_every_steps=0)")
    assert small != code
    exec(compile(small, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "CostReport(params=" in out and "'top1':" in out
