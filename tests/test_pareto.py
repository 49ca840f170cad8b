"""Pareto fronts, hulls, epsilon bands and constraints on point sets with known answers."""

import csv

import numpy as np
import pytest

from archai.search.pareto import (
    Constraint,
    Objective,
    ParetoFront,
    epsilon_band,
    lower_convex_hull,
    non_dominated,
)


def test_non_dominated_basic_min_min():
    pts = [[1, 5], [2, 3], [3, 4], [4, 1], [5, 5]]
    assert non_dominated(pts).tolist() == [True, True, False, True, False]


def test_ties_and_duplicates():
    # duplicates do not dominate each other; a tie in one objective with a loss in the other is dominated
    pts = [[1, 1], [1, 1], [1, 2], [2, 1]]
    assert non_dominated(pts).tolist() == [True, True, False, False]


def test_single_point_and_all_dominated_but_one():
    assert non_dominated([[3, 3]]).tolist() == [True]
    assert non_dominated([[0, 0], [1, 1], [2, 1], [1, 2]]).tolist() == [True, False, False, False]


def test_max_direction_and_three_objectives():
    # maximize accuracy, minimize params and latency
    pts = [[0.9, 10, 5], [0.8, 5, 5], [0.9, 10, 6], [0.7, 20, 1], [0.6, 30, 9]]
    mask = non_dominated(pts, [True, False, False])
    assert mask.tolist() == [True, True, False, True, False]


def test_nan_rows_never_on_front():
    assert non_dominated([[np.nan, 1], [2, 2]]).tolist() == [False, True]


def test_lower_convex_hull_cuts_rising_part_and_skips_points_above():
    x = [1, 2, 3, 4, 5, 6]
    y = [0.50, 0.45, 0.30, 0.28, 0.20, 0.25]
    # (2, .45) lies above the segment (1,.5)-(3,.3); (4,.28) above (3,.3)-(5,.2); (6,.25) is past the minimum
    assert lower_convex_hull(x, y) == [0, 2, 4]


def test_hull_collinear_and_same_cost():
    assert lower_convex_hull([1, 2, 3], [3, 2, 1]) == [0, 2]  # collinear middle point dropped
    assert lower_convex_hull([1, 1, 2], [0.5, 0.4, 0.3]) == [1, 2]  # same cost: lower error kept


def test_epsilon_band():
    x = [1, 3, 5, 2, 4, 4]
    y = [0.5, 0.3, 0.2, 0.42, 0.27, 0.40]
    # hull at x=2: 0.4, at x=4: 0.25
    band = epsilon_band(x, y, 0.1)
    assert band.tolist() == [True, True, True, True, True, False]
    assert epsilon_band(x, y, 0.0).tolist() == [True, True, True, False, False, False]


def test_constraints_exclude_from_front(tmp_path):
    recs = [
        {"id": "a", "algo": "x", "val_error": 0.1, "latency_ms": 30, "desc_path": "a.yaml"},
        {"id": "b", "algo": "x", "val_error": 0.2, "latency_ms": 10, "desc_path": "b.yaml"},
        {"id": "c", "algo": "y", "val_error": 0.3, "latency_ms": 5, "desc_path": "c.yaml"},
        {"id": "d", "algo": "y", "val_error": 0.4, "latency_ms": 8, "desc_path": "d.yaml"},
    ]
    front = ParetoFront(
        recs, [Objective("val_error"), Objective("latency_ms")], [Constraint.parse("latency_ms <= 20")]
    )
    assert front.feasible.tolist() == [False, True, True, True]
    assert front.on_front.tolist() == [False, True, True, False]
    rows = list(csv.DictReader(open(front.to_csv(tmp_path / "p.csv"))))
    assert [r["on_front"] for r in rows] == ["false", "true", "true", "false"]
    assert rows[0]["feasible"] == "false" and rows[1]["desc_path"] == "b.yaml" and rows[2]["algo"] == "y"
    png = front.plot(tmp_path / "p.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("text", ["latency_ms << 3", "x <= abc", "<= 3"])
def test_bad_constraint(text):
    with pytest.raises(ValueError, match="constraint"):
        Constraint.parse(text)


def test_objective_parse():
    assert Objective.parse("val_top1:max") == Objective("val_top1", True)
    assert Objective.parse("macs") == Objective("macs", False)
    with pytest.raises(ValueError):
        Objective.parse("macs:up")
