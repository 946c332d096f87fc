"""pytest-xdist's distribution modes under ``--braintrust``, in real processes: every mode but
``each`` logs each case once into one experiment; ``--dist each`` runs every case on every
worker, and the summary says so."""

from __future__ import annotations

import json

import pytest

SUITE = '''
import pytest
from pytest_braintrust import eval_case


@eval_case()
@pytest.mark.parametrize("n", range(4))
def test_case(n):
    assert n != 3
    return n


class TestGroup:
    @eval_case()
    @pytest.mark.xdist_group("g1")
    @pytest.mark.parametrize("n", range(3))
    def test_grouped(self, n):
        return n


def test_plain():
    pass
'''

GROUPED_MODULE = '''
import pytest
from pytest_braintrust import eval_case

pytestmark = pytest.mark.xdist_group("g2")


@eval_case()
@pytest.mark.parametrize("n", range(3))
def test_module_grouped(n):
    return n
'''


def _roots(bt, project):
    (experiment,) = bt.experiments(project)
    return [r for r in bt.rows(experiment) if not r.get("span_parents")]


@pytest.mark.parametrize("mode", ["loadscope", "loadfile", "loadgroup", "worksteal"])
def test_each_dist_mode_logs_every_case_once_into_one_experiment(bt, mode):
    bt.pytester.makepyfile(test_suite_modes=SUITE, test_suite_modes_group=GROUPED_MODULE)
    summary = bt.path / "summary.json"
    result = bt.run_subprocess("-p", "no:randomly", "--braintrust", "--braintrust-project", "modes", "-n", "2",
                               "--dist", mode, "--braintrust-json", str(summary))
    output = result.stdout.str()
    assert result.ret == 1, output  # test_case[3]
    assert "10 eval cases: 9 passed, 1 failed" in output, output
    assert "--dist each" not in output, output
    roots = _roots(bt, "modes")
    names = sorted(r["span_attributes"]["name"] for r in roots)
    assert names == sorted([f"test_case[{n}]" for n in range(4)] + [f"test_grouped[{n}]" for n in range(3)]
                           + [f"test_module_grouped[{n}]" for n in range(3)])
    # loadgroup suffixes the node ids it hands the workers with "@group": the rows keep pytest's own ids
    assert {r["metadata"]["pytest"]["nodeid"] for r in roots} >= {"test_suite_modes.py::TestGroup::test_grouped[0]",
                                                                   "test_suite_modes_group.py::test_module_grouped[0]"}
    cases = json.loads(summary.read_text())["cases"]
    assert (cases["total"], cases["passed"], cases["failed"]) == (10, 9, 1)


def test_dist_each_counts_every_workers_copy_and_says_so(bt):
    """``--dist each`` runs every test on every worker: the experiment held each case twice with
    nothing in the summary to tell why its counts were twice the suite's. The counts still count
    every copy (as pytest's do); a note now says so."""
    bt.pytester.makepyfile(test_suite_each=SUITE)
    summary = bt.path / "summary.json"
    result = bt.run_subprocess("-p", "no:randomly", "--braintrust", "--braintrust-project", "each", "-n", "2",
                               "--dist", "each", "--braintrust-json", str(summary))
    output = result.stdout.str()
    assert result.ret == 1, output
    assert "14 eval cases: 12 passed, 2 failed" in output, output
    assert "2 failed, 14 passed" in output, output  # pytest's own counts, copies included
    assert "note: --dist each ran every eval case on each of 2 workers" in output, output
    roots = _roots(bt, "each")
    copies: dict[str, set[str]] = {}
    for root in roots:
        copies.setdefault(root["span_attributes"]["name"], set()).add(root["metadata"]["pytest"]["worker"])
    assert len(roots) == 14
    assert copies == {name: {"gw0", "gw1"} for name in [*(f"test_case[{n}]" for n in range(4)),
                                                           *(f"test_grouped[{n}]" for n in range(3))]}
    cases = json.loads(summary.read_text())["cases"]
    assert (cases["total"], cases["passed"], cases["failed"]) == (14, 12, 2)


def test_dist_each_with_one_worker_adds_no_note(bt):
    bt.pytester.makepyfile(test_suite_each_one=SUITE)
    result = bt.run_subprocess("-p", "no:randomly", "--braintrust", "--braintrust-project", "each-one", "-n", "1",
                               "--dist", "each")
    output = result.stdout.str()
    assert "7 eval cases: 6 passed, 1 failed" in output, output
    assert "--dist each" not in output, output
    assert len(_roots(bt, "each-one")) == 7
