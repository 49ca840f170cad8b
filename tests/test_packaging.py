"""The shipped configs travel as package data: a wheel holds them and an installed wheel finds them."""

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(600)
def test_a_wheel_install_builds_a_trainer_config_from_its_own_package_data(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(ROOT),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    [wheel] = tmp_path.glob("archai-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {f"archai/confs/{p.relative_to(ROOT / 'confs')}" for p in (ROOT / "confs").rglob("*.yaml")}
    assert shipped and shipped <= names, sorted(shipped - names)
    assert "archai/search/tables/nb201_mini.npz" in names  # the shipped benchmark table
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(system_site_packages=False, with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    zipfile.ZipFile(wheel).extractall(site)
    # archai's dependencies from wherever this interpreter has them (a virtualenv's own
    # site-packages or the base Python's), after the new venv's own: a .pth adds plain folders
    # and does not run the .pth files inside them, so the editable install of the checkout
    # stays out
    deps = [p for p in sys.path if Path(p).name in ("site-packages", "dist-packages") and Path(p).is_dir()]
    (Path(site) / "archai_test_deps.pth").write_text("\n".join(deps) + "\n")
    code = (
        "import archai.common.config as c, archai.search as s; "
        "print(c.confs_dir()); print(s.trainer_conf(epochs=2).optimizer.name)"
    )
    run = subprocess.run([python, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    where, optimizer = run.stdout.split()
    assert Path(where) == Path(site) / "archai" / "confs" and optimizer == "sgd"
    assert str(ROOT) not in where
