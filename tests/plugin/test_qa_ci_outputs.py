"""CI outputs held to their promises against hostile data: the ``$GITHUB_STEP_SUMMARY`` Markdown
keeps its tables whatever a score or an error says, an unencodable character does not end the
run, ``--braintrust-json`` is never left half written, and a real ``-n 2`` run writes one of
each output (the JSON as its documented schema says)."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET

HOSTILE = r'''
from pytest_braintrust import eval_case


def fussy(output):
    raise ValueError("bad\n## injected heading\n<img src=x onerror=alert(1)>")


@eval_case(scorers=[fussy])
def test_hostile(braintrust_case):
    braintrust_case.score("a|b\\|c", 1)
    braintrust_case.score("two\nlines", 1)
    braintrust_case.score("<b>bold</b>", 1)
    return "out"
'''


def cells(row: str) -> list[str]:
    """A Markdown table row's cells as GitHub splits them: a pipe ends a cell unless a backslash
    escapes it, and ``\\\\`` is an escaped backslash."""
    found, current, index = [], "", 0
    while index < len(row):
        if row[index] == "\\" and index + 1 < len(row):
            current += row[index:index + 2]
            index += 2
        elif row[index] == "|":
            found.append(current.strip())
            current, index = "", index + 1
        else:
            current += row[index]
            index += 1
    return found[1:]  # (what precedes the first pipe is not a cell)


def table(markdown: str, header: str) -> list[list[str]]:
    """The rows (cells) of the table whose header line starts with ``header``."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2:]:
        if not line.strip():
            break
        rows.append(cells(line))
    return rows


def test_score_names_and_errors_cannot_break_the_step_summary(bt, tmp_path):
    step = tmp_path / "step.md"
    bt.monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    bt.pytester.makepyfile(test_hostile=HOSTILE)

    result = bt.run("--braintrust", "--braintrust-fail-under", "a|b\\|c=0.5")

    assert result.ret == 0, result.stdout.str()
    markdown = step.read_text()
    scores = table(markdown, "| score |")
    assert [row[0] for row in scores] == ["&lt;b&gt;bold&lt;/b&gt;", "a\\|b\\\\\\|c", "pass", "two lines"]
    assert all(len(row) == 5 for row in scores), scores  # no row split into more cells, nor cut short
    (gate,) = table(markdown, "| gate |")
    assert len(gate) == 2 and gate[0] == "fail-under a\\|b\\\\\\|c", gate
    assert not any(line.startswith("## injected") for line in markdown.splitlines())
    assert "<img" not in markdown and "<b>" not in markdown
    assert "- scorer 'fussy' failed in 1 case" in markdown


def test_an_unencodable_character_in_an_error_does_not_end_the_run(bt, tmp_path):
    """A scorer's error holding a lone surrogate (text decoded with ``surrogateescape``): the
    step summary is written with a replacement character (``?``), and the failed gate's status stands."""
    step = tmp_path / "step.md"
    bt.monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    bt.pytester.makepyfile(test_surrogate='''
        from pytest_braintrust import eval_case

        def decoder(output):
            raise ValueError("undecodable byte " + b"\\xff".decode("utf-8", "surrogateescape"))

        @eval_case(scorers=[decoder])
        def test_one(braintrust_case):
            braintrust_case.score("quality", 0.5)
            return "out"
    ''')

    result = bt.run("--braintrust", "--braintrust-fail-under", "quality=0.9")

    assert result.ret == 10, result.stdout.str()
    assert "INTERNALERROR" not in result.stdout.str() and "Traceback" not in result.stdout.str()
    markdown = step.read_text(encoding="utf-8")
    assert "- scorer 'decoder' failed in 1 case (test_one: ValueError: undecodable byte ?)" in markdown
    assert "| fail-under quality | ❌ score 'quality' is 50.00%, which is below the bar of 90.00% |" in markdown


def test_score_names_xml_cannot_hold_still_give_a_readable_junit_file(bt, tmp_path):
    """A score named with a control character or half a surrogate pair: each such character is
    ``?`` in its JUnit property (the lone surrogate stopped pytest writing the file, the escape
    character made it unreadable), and the run's status is the tests'."""
    junit = tmp_path / "junit.xml"
    bt.pytester.makepyfile(test_names='''
        def test_one(braintrust_case):
            braintrust_case.score("half" + b"\\xff".decode("utf-8", "surrogateescape"), 1)
            braintrust_case.score("esc\\x1bape", 0.5)
            braintrust_case.score("ok é", 0.25)
    ''')

    result = bt.run("--braintrust", f"--junitxml={junit}")

    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    properties = {p.get("name"): p.get("value") for p in ET.parse(junit).iter("property")}
    assert properties == {"braintrust.score.pass": "1.0", "braintrust.score.half?": "1.0",
                          "braintrust.score.esc?ape": "0.5", "braintrust.score.ok é": "0.25"}


def _small_files() -> None:
    """In the child: files stop growing at 512 bytes (a full disk, for the file being written)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # (then a write past the limit fails with EFBIG)
    resource.setrlimit(resource.RLIMIT_FSIZE, (512, resource.RLIM_INFINITY))


def test_the_json_summary_is_never_left_half_written(bt_api):
    """Rows go to the test server, so the JSON summary is the one file the run writes: when it
    cannot be written whole, the file that was there stays (not a truncated one that a later CI
    step fails to parse), no temporary file is left, and the terminal says why."""
    bt_api.pytester.makepyfile(test_plain='''
        from pytest_braintrust import eval_case

        @eval_case(input="a", expected="a")
        def test_one(braintrust_case):
            braintrust_case.score("quality", 0.5)
            return "a"
    ''')
    summary = bt_api.path / "summary.json"
    summary.write_text('{"previous": true}\n')

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:benchmark", "--braintrust",
         f"--braintrust-json={summary}", "--braintrust-fail-under", "quality=0.9", "test_plain.py"],
        cwd=bt_api.path, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}, capture_output=True, text=True,
        timeout=120, stdin=subprocess.DEVNULL, preexec_fn=_small_files,
    )

    assert result.returncode == 10, result.stdout + result.stderr  # the gate's verdict stands
    assert f"braintrust: could not write the JSON summary to {summary} (File too large); check --braintrust-json" in result.stdout
    assert json.loads(summary.read_text()) == {"previous": True}
    assert [p.name for p in bt_api.path.iterdir() if p.name.startswith(".summary.json")] == []

    written = bt_api.run_subprocess("--braintrust", f"--braintrust-json={summary}", "test_plain.py")
    assert written.ret == 0
    assert json.loads(summary.read_text())["cases"]["total"] == 1


XDIST_SUITE = '''
import pytest
from pytest_braintrust import eval_case


def exact(output, expected):
    return output == expected


@eval_case(scorers=[exact])
@pytest.mark.parametrize("n", range(6))
def test_case(braintrust_case, n):
    braintrust_case.expected = n
    braintrust_case.score("half", 0.5)
    assert n != 5
    return n
'''

#: The README's JSON summary schema (version 1): each object's keys ("?": only sometimes there).
EXPERIMENT_KEYS = {"project", "experiment", "experiment_id", "link", "comparison_experiment", "scores", "metrics"}
SCORE_KEYS = {"score", "diff", "improvements", "regressions"}
METRIC_KEYS = {"value", "unit", "diff", "improvements", "regressions"}
CASE_KEYS = {"total", "passed", "failed", "error", "skipped", "xfailed", "xpassed", "interrupted"}
GATE_KEYS = {"kind", "score", "bar", "value", "passed", "message", "project", "experiment"}
DELIVERY_KEYS = {"produced", "accepted", "spilled", "dropped", "spill_files", "errors",
                 "attachments_stored", "attachments_spilled", "attachments_dropped"}


def assert_documented_schema(document: dict) -> None:
    assert set(document) == {"schema_version", "experiments", "cases", "scorer_errors", "gates", "gates_skipped", "delivery", "errors"}
    assert document["schema_version"] == 1
    for experiment in document["experiments"]:
        assert set(experiment) - {"compared_inputs"} == EXPERIMENT_KEYS
        for score in experiment["scores"].values():
            assert set(score) - {"regressed_cases", "improved_cases"} == SCORE_KEYS
        for metric in experiment["metrics"].values():
            assert set(metric) == METRIC_KEYS
    assert set(document["cases"]) == CASE_KEYS
    assert all(set(gate) == GATE_KEYS for gate in document["gates"])
    assert set(document["delivery"]) == DELIVERY_KEYS
    assert isinstance(document["errors"], list)


def test_xdist_workers_give_one_of_each_output(bt, tmp_path):
    step = tmp_path / "step.md"
    step.write_text("earlier step\n")
    bt.pytester.makepyfile(test_spread=XDIST_SUITE)

    result = bt.run_subprocess("-n", "2", "--braintrust", "--braintrust-project", "spread", "--junitxml=junit.xml",
                               "--braintrust-json=out/summary.json", "--braintrust-fail-under", "half=0.5,exact=0.9",
                               env={"GITHUB_STEP_SUMMARY": str(step)})

    assert result.ret == 10, result.stdout.str()
    markdown = step.read_text()
    assert markdown.startswith("earlier step\n## Braintrust eval results\n")
    assert markdown.count("## Braintrust eval results") == 1  # the controller's, not one per worker
    assert "6 eval cases: 5 passed, 1 failed." in markdown
    assert {row[0]: row[1] for row in table(markdown, "| score |")} == {"exact": "83.33%", "half": "50.00%", "pass": "83.33%"}

    document = json.loads((bt.path / "out" / "summary.json").read_text())
    assert_documented_schema(document)
    assert document["cases"]["total"] == 6 and document["cases"]["failed"] == 1
    assert [(g["score"], g["passed"]) for g in document["gates"]] == [("half", True), ("exact", False)]
    assert len(document["experiments"]) == 1 and document["experiments"][0]["project"] == "spread"

    cases = list(ET.parse(bt.path / "junit.xml").getroot().iter("testcase"))
    assert len(cases) == 6
    for case in cases:
        properties = {p.get("name"): p.get("value") for p in case.iter("property")}
        assert set(properties) == {"braintrust.score.pass", "braintrust.score.exact", "braintrust.score.half"}, properties
        assert properties["braintrust.score.half"] == "0.5"
