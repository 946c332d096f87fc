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
         "span_attributes": {"name": "task", "type": "task"}, "output": "x" * 500,
         "metrics": {"start": 11.0, "tokens": 17, "time_to_first_token": 0.0421234, "cached": True}},
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
    assert lines[demo + 6] == "  (the latest logs: `braintrust logs demo`)"
    assert len({line.index("CREATED") if "CREATED" in line else line.index("20") for line in table[:4]}) == 1
    assert "Project empty" in text and "(empty)" in text
    assert "\x1b[" not in text


def test_list_store_shows_the_newest_experiments_of_a_project(filled, monkeypatch):
    from braintrust.cli import store_commands

    monkeypatch.setattr(store_commands, "LISTED_EXPERIMENTS", 1)
    lines = run(list_store, filled)[1].splitlines()
    demo = lines.index(next(line for line in lines if line.startswith("Project demo")))
    assert [line.split()[1] for line in lines[demo + 2 : demo + 5]] == ["second-run", "qa", "-"]
    assert lines[demo + 5] == "  (and 1 older experiment: `braintrust experiments demo --last 0`)"


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
    assert tree[8].startswith('      output:  "xxx') and tree[8].endswith("...") and len(tree[8]) < 120
    assert tree[9] == "      metrics: tokens=17  time_to_first_token=0.0421"  # (numbers only, the total first)
    assert tree[10:] == ["  exact [score]", "      scores: exact=0.50  skipped=-"]


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


def _logs_store(folder) -> None:
    """Project "bot" logs three traces (request-1..3, each with a child span) and comments on
    request-1 and request-3's child, one of them written after every trace."""
    store = LocalStore(folder / "braintrust.sqlite")
    project = store.get_or_create_project("bot")["id"]
    for n in (1, 2, 3):
        store.write_rows([
            {"id": f"c{n}", "span_id": f"cs{n}", "root_span_id": f"t{n}", "span_parents": [f"rs{n}"], "project_id": project,
             "log_id": "g", "span_attributes": {"name": f"model-{n}", "type": "llm"}, "output": n, "metrics": {"start": n + 0.1}},
            {"id": f"r{n}", "span_id": f"rs{n}", "root_span_id": f"t{n}", "span_parents": None, "project_id": project,
             "log_id": "g", "span_attributes": {"name": f"request-{n}", "type": "task"}, "input": f"q{n}", "metrics": {"start": float(n)}},
        ])
    store.write_rows([{"id": "k3", "project_id": project, "log_id": "g", "comment": {"text": "slow"}, "origin": {"id": "c3"}}])
    store.write_rows([{"id": "k1", "project_id": project, "log_id": "g", "comment": {"text": "wrong"}, "origin": {"id": "r1"}}])
    store.close()


def test_logs_shows_the_last_traces_with_their_comments(tmp_path):
    from braintrust.cli.store_commands import show_logs

    _logs_store(tmp_path)
    out = io.StringIO()
    assert show_logs(tmp_path, "bot", 2, out) == 0
    assert out.getvalue().splitlines() == [
        "Logs of project bot: the last 2 traces (8 rows in all)",
        "",
        "request-2 [task]",
        '    input: "q2"',
        "  model-2 [llm]",
        "      output: 2",
        "request-3 [task]",
        '    input: "q3"',
        "  model-3 [llm]",
        "      output:  3",
        '      comment: "slow"',
    ]
    everything = io.StringIO()
    show_logs(tmp_path, "bot", 20, everything)
    assert "the last 3 traces" in everything.getvalue() and '    comment: "wrong"' in everything.getvalue()
    with pytest.raises(LookupError, match="no project 'nobody'.*projects: bot"):
        show_logs(tmp_path, "nobody", 2, io.StringIO())


def test_latest_traces_in_sql_and_in_memory_agree(tmp_path):
    """(The in-memory path serves stores that cannot be folded: read-only, or no JSON functions.)"""
    from braintrust.store import rows as row_ops

    _logs_store(tmp_path)
    store = LocalStore(tmp_path / "braintrust.sqlite")
    project = store.get_project(name="bot")["id"]
    for count in (1, 2, 3, 10):
        in_sql = store.latest_traces("project_logs", project, count)
        in_memory = row_ops._latest_traces_in_memory(store.connection(), "project_logs", project, count)
        assert sorted(r["id"] for r in in_sql) == sorted(r["id"] for r in in_memory)
    assert sorted(r["id"] for r in store.latest_traces("project_logs", project, 1)) == ["c3", "k3", "r3"]
    with pytest.raises(ValueError, match="positive"):
        store.latest_traces("project_logs", project, 0)
    store.close()


def test_show_prints_the_first_traces_and_says_how_many_there_are(tmp_path):
    from store_runs import Runs

    path = tmp_path / "braintrust.sqlite"
    with LocalStore(path) as store:
        Runs(store).run("many", [f"q{n}" for n in range(5)])

    def show(**options):
        out = io.StringIO()
        assert show_experiment(path, "p", "many", out, **options) == 0
        return out.getvalue()

    text = show(limit=2)
    assert [line for line in text.splitlines() if line.startswith("case-")] == ["case-0", "case-1"]
    assert text.endswith("\n5 traces, the first 2 shown (--limit 0 shows all); --case TEXT or --errors picks some\n")
    picked = show(case="q", limit=1)
    assert picked.endswith("\n5 of 5 traces with 'q' in the name or input; the first 1 shown (--limit 0 shows all)\n")
    everything = show(limit=0)
    assert len([line for line in everything.splitlines() if line.startswith("case-")]) == 5 and "shown" not in everything


def test_a_store_opened_read_only_reads_the_same_rows(tmp_path):
    """A store that cannot be written (a copy from CI opened read-only, a file of another user):
    reads fold the row log in memory instead of materializing, and give the same rows."""
    import sqlite3

    from braintrust.store import rows as row_ops

    _logs_store(tmp_path)
    path = tmp_path / "braintrust.sqlite"
    read_only = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    project = read_only.execute("SELECT id FROM projects WHERE name = 'bot'").fetchone()[0]
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        row_ops.materialize(read_only, "project_logs", project)  # (what the fallbacks catch)
    folded, _ = row_ops.fetch_rows(read_only, "project_logs", project)
    counted = row_ops.count_rows(read_only, "project_logs", project)
    latest = row_ops.latest_traces(read_only, "project_logs", project, 1)
    read_only.close()
    store = LocalStore(path)
    materialized, _ = store.fetch_rows("project_logs", project)
    assert [r["id"] for r in folded] == [r["id"] for r in materialized] and len(folded) == 8
    assert counted == 8
    assert sorted(r["id"] for r in latest) == ["c3", "k3", "r3"]
    store.close()


def test_trace_rows_reads_only_the_traces_asked_for_without_comments(tmp_path):
    """A scorer's ``trace.get_spans()`` reads its trace, not the whole object: in SQL, and in
    memory from a store that cannot be folded (read-only), with the same rows."""
    import sqlite3

    from braintrust.store import rows as row_ops

    _logs_store(tmp_path)
    path = tmp_path / "braintrust.sqlite"
    read_only = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    project = read_only.execute("SELECT id FROM projects WHERE name = 'bot'").fetchone()[0]
    folded = row_ops.trace_rows(read_only, "project_logs", project, ["t3", "t1"])
    read_only.close()
    store = LocalStore(path)
    assert [r["id"] for r in store.trace_rows("project_logs", project, ["t2"])] == ["c2", "r2"]
    both = store.trace_rows("project_logs", project, ["t3", "t1"])
    assert [r["id"] for r in both] == ["c1", "r1", "c3", "r3"]  # (first-write order; comments k1, k3 left out)
    assert [r["id"] for r in folded] == [r["id"] for r in both]
    assert both[0]["output"] == 1 and both[1]["input"] == "q1" and both[0]["_xact_id"]
    assert store.trace_rows("project_logs", project, ["nothing"]) == []
    store.close()
