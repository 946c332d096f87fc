"""The local-store commands' text output."""

from __future__ import annotations

import io

import pytest

from braintrust.cli.store_commands import list_store, show_experiment, span_tree_lines
from braintrust.store.sqlite_store import LocalStore


@pytest.fixture
def filled(tmp_path):
    folder = tmp_path / ".braintrust"
    store = LocalStore(folder / "braintrust.sqlite")
    project = store.get_or_create_project("demo")["id"]
    first = store.create_experiment(project, "first")["id"]
    second = store.create_experiment(project, "second-run", base_exp_id=first)["id"]
    store.get_or_create_dataset(project, "qa")
    store.get_or_create_project("empty")
    store.write_rows([{"id": "l", "project_id": project, "log_id": "g", "input": "hi"}])
    store.write_rows([{"id": "x", "experiment_id": first, "input": 1}])
    store.write_rows([
        {"id": "root", "span_id": "s1", "span_parents": None, "experiment_id": second,
         "span_attributes": {"name": "test_add", "type": "eval"}, "input": {"a": 1, "b": 2}, "expected": 3,
         "metrics": {"start": 10.0}},
        {"id": "score", "span_id": "s3", "span_parents": ["s1"], "experiment_id": second,
         "span_attributes": {"name": "exact", "type": "score"}, "scores": {"exact": 0.5, "skipped": None},
         "metrics": {"start": 12.0}},
        {"id": "task", "span_id": "s2", "span_parents": ["s1"], "experiment_id": second,
         "span_attributes": {"name": "task", "type": "task"}, "output": "x" * 500, "metrics": {"start": 11.0}},
        {"id": "root", "experiment_id": second, "output": 3, "scores": {"pass": 1},
         "error": "Traceback (most recent call last):\n  File \"t.py\", line 1\nAssertionError: boom\n",
         "metrics": {"end": 13.5}, "_is_merge": True},
    ])
    store.close()
    return folder


def run(command, *args) -> tuple[int, str]:
    out = io.StringIO()
    code = command(*args, out)
    return code, out.getvalue()


def test_list_store(filled):
    code, text = run(list_store, filled)
    assert code == 0
    lines = text.splitlines()
    assert lines[0] == f"Local Braintrust store: {filled / 'braintrust.sqlite'}"
    demo = lines.index(next(line for line in lines if line.startswith("Project demo")))
    table = lines[demo + 1 : demo + 6]
    assert table[0].split() == ["KIND", "NAME", "CREATED", "(UTC)", "ROWS"]
    assert table[1].split()[:2] == ["experiment", "first"] and table[1].endswith(" 1")
    assert table[2].split()[:2] == ["experiment", "second-run"] and table[2].endswith(" 3")
    assert table[3].split()[:2] == ["dataset", "qa"] and table[3].endswith(" 0")
    assert table[4].split() == ["logs", "-", "-", "1"]
    assert len({line.index("CREATED") if "CREATED" in line else line.index("20") for line in table[:4]}) == 1
    assert "Project empty" in text and "(empty)" in text
    assert "\x1b[" not in text


def test_list_store_accepts_the_database_file_or_a_store_and_reports_a_missing_store(filled, tmp_path):
    assert run(list_store, filled / "braintrust.sqlite")[0] == 0
    with LocalStore(filled / "braintrust.sqlite") as store:
        assert run(list_store, store)[1] == run(list_store, filled)[1]
    with pytest.raises(LookupError, match="no local Braintrust store .*BRAINTRUST_LOCAL_DIR"):
        run(list_store, tmp_path / "nowhere")
    assert not (tmp_path / "nowhere").exists()  # looking never creates a store


def test_show_experiment_prints_the_span_tree(filled):
    code, text = run(show_experiment, filled, "demo", "second-run")
    assert code == 0
    lines = text.splitlines()
    assert lines[0] == "Experiment second-run  (project demo)"
    assert any(line.split() == ["base:", "first"] for line in lines)
    tree = lines[lines.index("test_add [eval]") :]
    assert tree[1:6] == [
        '    input:    {"a": 1, "b": 2}',
        "    output:   3",
        "    expected: 3",
        "    scores:   pass=1.00",
        "    error:    AssertionError: boom",
    ]
    assert tree[6] == "    duration: 3.500 s"
    assert tree[7] == "  task [task]"
    assert tree[8].startswith('      output: "xxx') and tree[8].endswith("...") and len(tree[8]) < 120
    assert tree[9:] == ["  exact [score]", "      scores: exact=0.50  skipped=-"]


def test_show_experiment_defaults_and_errors(filled):
    code, text = run(show_experiment, filled, "demo", None)
    assert code == 0 and text.startswith("Experiment second-run")
    code, text = run(show_experiment, filled, None, "first")
    assert code == 0 and text.startswith("Experiment first  (project demo)")
    with pytest.raises(LookupError, match="no experiment 'missing' in project 'demo'; experiments: first, second-run"):
        run(show_experiment, filled, "demo", "missing")
    with pytest.raises(LookupError, match="no project 'nope' in .*; projects: demo, empty"):
        run(show_experiment, filled, "nope", "first")
    with pytest.raises(LookupError, match="experiments: none"):
        run(show_experiment, filled, "empty", None)


def test_span_tree_handles_orphans_and_rows_without_spans():
    lines = span_tree_lines([
        {"id": "a", "span_id": "s", "span_parents": ["missing"], "span_attributes": {"name": "orphan"}},
        {"id": "comment-row", "comment": {"text": "hi"}},
        {"id": "loop", "span_id": "l", "span_parents": ["l"], "span_attributes": {"name": "self"}},
    ])
    assert lines == ["orphan", "comment-row", "self"]


def test_an_error_is_shown_on_one_line_a_tracebacks_by_its_exception():
    from braintrust.cli.store_commands import _error_line

    assert _error_line("Traceback (most recent call last):\n  File \"t.py\", line 1\nValueError: bad\n") == "ValueError: bad"
    # A pytest case's error: the message, then where it failed.
    assert _error_line("AssertionError: assert 2 == 3\ntests/test_app.py:12") == "AssertionError: assert 2 == 3 | tests/test_app.py:12"
    assert _error_line("x" * 300).endswith("...") and len(_error_line("x" * 300)) == 100
