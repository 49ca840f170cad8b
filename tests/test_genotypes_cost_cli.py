"""Genotype strings, NAS-Bench-201 arch strings, cost measures, drawing and the model_info CLI."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from archai.space.cost import count_macs, measure_cost, measure_latency, measure_peak_memory
from archai.space.draw import GraphvizMissingError, cell_to_dot, draw_cell
from archai.space.genotypes import (
    GENOTYPES,
    GenotypeError,
    desc_to_genotype,
    format_genotype,
    genotype_cells,
    genotype_to_desc,
    parse_genotype,
)
from archai.space.spaces.nb201 import ArchStringError, arch_to_desc, desc_to_arch

ROOT = Path(__file__).resolve().parents[1]
V2 = (
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
    "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=range(2, 6), "
    "reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
    "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=range(2, 6))"
)


def test_parse_published_string_with_range_equals_builtin():
    assert parse_genotype(V2) == GENOTYPES["DARTS_V2"]


@pytest.mark.parametrize("name", sorted(GENOTYPES))
def test_genotype_round_trips_through_string_and_desc(name):
    g = GENOTYPES[name]
    assert parse_genotype(format_genotype(g)) == g
    assert desc_to_genotype(genotype_to_desc(g, init_channels=8, n_cells=5)) == g


@pytest.mark.parametrize(
    "text,match",
    [
        ("Genotype(normal=[('a', 0)], normal_concat=[2])", "lacks reduce"),
        ("__import__('os').system('true')", "starts with 'Genotype\\('"),
        (
            "Genotype(normal=open('x'), normal_concat=[2], reduce=[], reduce_concat=[2])",
            "unsupported expression",
        ),
        ("Genotype(normal=[", "not a genotype string"),
        (
            "Genotype(normal=[], normal_concat=[2], reduce=[], reduce_concat=[2], extra=1)",
            "unknown genotype field",
        ),
    ],
)
def test_bad_genotype_strings(text, match):
    with pytest.raises(GenotypeError, match=match):
        parse_genotype(text)


def test_odd_number_of_pairs_rejected():
    g = parse_genotype(
        "Genotype(normal=[('sep_conv_3x3', 0)], normal_concat=[2], reduce=[], reduce_concat=[2])"
    )
    with pytest.raises(GenotypeError, match="two per node"):
        genotype_cells(g)


def test_nb201_arch_round_trip_and_errors():
    arch = "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|"
    desc = arch_to_desc(arch)
    assert desc_to_arch(desc) == arch
    assert [c.kind for c in desc.cells].count("resblock") == 2 and len(desc.cells) == 17
    with pytest.raises(ArchStringError, match="not one of"):
        arch_to_desc("|sep_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    with pytest.raises(ArchStringError, match="input 2 is not an earlier node"):
        arch_to_desc("|none~0|+|none~0|none~2|+|none~0|none~1|none~2|")


def test_macs_of_a_known_layer():
    conv = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1, bias=False), torch.nn.Flatten(), torch.nn.Linear(8 * 4 * 4, 10)
    )
    assert count_macs(conv, (3, 4, 4)) == 8 * 4 * 4 * 3 * 9 + 128 * 10


def test_darts_v2_macs_match_published_figure():
    # DARTS_V2 on CIFAR-10 is reported at 528M multiply-adds (C=36, 20 cells)
    report = measure_cost(
        genotype_to_desc(GENOTYPES["DARTS_V2"], init_channels=36, n_cells=20, aux_head=True)
    )
    assert round(report.macs / 1e6) == 528 and report.params == 3_349_342


def test_latency_and_memory_grow_with_batch():
    desc = genotype_to_desc(GENOTYPES["DARTS_V2"], init_channels=8, n_cells=3)
    from archai.space.model import build_model

    model = build_model(desc)
    assert measure_latency(model, (3, 32, 32), runs=3) > 0
    small = measure_peak_memory(model, (3, 32, 32), batch_size=2)
    big = measure_peak_memory(model, (3, 32, 32), batch_size=16)
    assert big > 3 * small > 0


def test_dot_and_png(tmp_path):
    cell = genotype_cells(GENOTYPES["DARTS_V2"])[0]
    dot = cell_to_dot(cell)
    assert dot.count("->") == len(cell.nodes) * 2 + len(cell.concat) and 'label="dil_conv_3x3"' in dot
    assert draw_cell(cell, tmp_path / "c.dot").read_text() == dot
    if shutil.which("dot"):
        png = draw_cell(cell, tmp_path / "c.png")
        assert png.read_bytes()[:4] == b"\x89PNG"
    else:
        with pytest.raises(GraphvizMissingError, match="apt-get install -y graphviz"):
            draw_cell(cell, tmp_path / "c.png")


def run_cli(*args):
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "model_info.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_model_info_cli_prints_json():
    r = run_cli("DARTS_V2", "--dataset", "cifar10", "--init-channels", "36", "--cells", "20", "--aux")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["params"] == 3_349_342 and out["params_with_aux"] > out["params"] and out["macs"] > 0


def test_model_info_cli_description_file_and_bad_spec(tmp_path):
    path = genotype_to_desc(GENOTYPES["ENAS"], init_channels=8, n_cells=5).save(tmp_path / "d.yaml")
    r = run_cli(str(path))
    assert r.returncode == 0 and json.loads(r.stdout)["cells"] == 5
    bad = run_cli("NOT_A_GENOTYPE")
    assert bad.returncode == 2 and "not a built-in genotype" in bad.stderr
    bad_arch = run_cli("|foo~0|", "--space", "nb201")
    assert bad_arch.returncode == 2 and "foo" in bad_arch.stderr
