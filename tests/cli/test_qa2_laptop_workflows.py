"""A laptop user's ``braintrust`` commands, as the README tells them. Each test here failed
before the fix it names."""

from __future__ import annotations

from cli_support import cli_env, eval_source, run_cli, write


def test_prune_right_after_runs_counts_the_kept_experiments_per_project(tmp_path):
    """``braintrust prune --keep 1`` right after two runs of two projects keeps the older
    experiments (written to in the last 10 minutes). It said "2 older experiments of each
    project", a total read as a count per project; it now names each project's count."""
    store, root = tmp_path / "store", tmp_path / "work"
    env = cli_env(store)
    write(root / "eval_both.py", eval_source("proj-a") + eval_source("proj-b").split("\n", 1)[1].replace("def exact", "def exact_b").replace("scores=[exact]", "scores=[exact_b]"))
    for _ in range(2):
        assert run_cli("eval", "eval_both.py", cwd=root, env=env).returncode == 0
    result = run_cli("prune", "--keep", "1", cwd=root, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Nothing to prune yet: 2 older experiments (proj-a: 1, proj-b: 1) were written to in the last 10 minutes.\n"
    one = run_cli("prune", "proj-a", "--keep", "1", cwd=root, env=env)
    assert one.stdout == "Nothing to prune yet: 1 older experiment of project proj-a was written to in the last 10 minutes.\n"
