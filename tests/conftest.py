"""Fixtures shared by the test modules."""

import pytest
from toy_runs import run


@pytest.fixture(scope="session")
def random_run(tmp_path_factory):
    """A finished tiny random run; tests that damage it work on a copy (``copy_run``)."""
    exp = tmp_path_factory.mktemp("random") / "exp"
    assert run("random", exp) == 0
    return exp
