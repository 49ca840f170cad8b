"""The searcher in docs/write_a_searcher.md runs as documented (through --plugins)."""

import json
import re

from toy_runs import ROOT, SMALL, cli, flags


def test_documented_searcher_runs_end_to_end(tmp_path, monkeypatch, capsys):
    text = (ROOT / "docs" / "write_a_searcher.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    assert len(code.splitlines()) < 60
    (tmp_path / "hill_climb_doc.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    exp = tmp_path / "exp"
    args = [
        "--algos",
        "hill_climb",
        "--plugins",
        "hill_climb_doc",
        "--exp-dir",
        str(exp),
        *flags({**SMALL, "loader.train_limit": 256, "algos.hill_climb.steps": 2}),
    ]
    assert cli.main(args) == 0
    result = json.loads((exp / "hill_climb" / "search_result.json").read_text())
    assert [c["id"] for c in result["candidates"]] == ["step_0", "step_1", "step_2"]
    summary = json.loads((exp / "hill_climb" / "summary.json").read_text())
    assert summary["final_candidate"] in {"step_0", "step_1", "step_2"} and summary["test_top1"] > 0
    assert cli.main([*args[:6], "--algos.hill_climb.stpes", "2"]) == 2
    assert "did you mean 'algos.hill_climb.steps'" in capsys.readouterr().err
