"""The example project as the template users start from: copied out of the repository and run
from its own folder, then adapted as its files say (its judge pointed at an OpenAI-compatible
server, a JSONL line with a mistake)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from braintrust.store.sqlite_store import LocalStore
from delivery_helpers import subprocess_env
from openai_stub import OpenAIStub

EXAMPLE = Path(__file__).resolve().parent.parent / "example_project"
pytestmark = pytest.mark.slow


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A user's copy of the example, outside the repository."""
    copy = tmp_path / "my_evals"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns(".braintrust", "__pycache__", ".pytest_cache"))
    return copy


def run_in(project: Path, *args: str, **variables: str) -> subprocess.CompletedProcess:
    """``python -m pytest --braintrust`` run in the copy's own folder, as its owner runs it."""
    env = subprocess_env(**variables)
    env.pop("GITHUB_STEP_SUMMARY", None)
    command = [sys.executable, "-m", "pytest", "--braintrust", "-p", "no:cacheprovider", *args]
    return subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=120)


def rows_of(project: Path) -> list[dict]:
    store = LocalStore(project / ".braintrust" / "braintrust.sqlite")
    (support_bot,) = [p for p in store.list_projects() if p["name"] == "support-bot"]
    (run,) = store.list_experiments(support_bot["id"])
    return store.fetch_rows("experiment", run["id"], limit=10000)[0]


def judged_by(answer: str):
    """A chat-completions answer: the judge model's reply ``answer``."""
    def chat(body):
        return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": answer, "refusal": None},
                             "finish_reason": "stop", "logprobs": None}],
                "usage": {"prompt_tokens": 50, "completion_tokens": 8, "total_tokens": 58}}
    return chat


def test_the_judge_grades_with_the_model_judge_model_names_on_an_openai_compatible_server(project):
    """judge.py says how to grade with a real model; following it, every FAQ case is judged by
    that model (its call an `llm` span under the judge's score span), and a reply written as
    "(C) ..." is read as choice C."""
    with OpenAIStub(chat_answer=judged_by("(C) It answers another question.")) as stub:
        result = run_in(project, JUDGE_MODEL="judge-1", OPENAI_BASE_URL=stub.base_url, OPENAI_API_KEY="sk-test")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0.00% 'answers_question' score" in result.stdout, result.stdout
    assert "failed in" not in result.stdout  # (no scorer error)
    asked = [body for path, body in stub.requests if path == "/v1/chat/completions"]
    assert len(asked) == 8 and {body["model"] for body in asked} == {"judge-1"}
    assert "[Question]: How do I get a refund?" in asked[0]["messages"][0]["content"]
    rows = rows_of(project)
    scores = [r for r in rows if r["span_attributes"]["name"] == "answers_question"]
    assert len(scores) == 8
    for score in scores:
        assert score["metadata"] == {"choice": "C", "rationale": "It answers another question."}
        (call,) = [r for r in rows if r.get("span_parents") == [score["span_id"]]]
        assert call["span_attributes"]["type"] == "llm" and call["metadata"]["model"] == "judge-1"


def test_a_judge_model_without_the_openai_package_names_what_to_install(project, tmp_path):
    hidden = tmp_path / "no_openai"
    hidden.mkdir()
    (hidden / "sitecustomize.py").write_text("import sys\nsys.modules['openai'] = None\n")
    result = run_in(project, JUDGE_MODEL="judge-1", PYTHONPATH=str(hidden))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "scorer 'answers_question' failed in 8 cases" in result.stdout
    assert "JUDGE_MODEL=judge-1 needs the openai package: pip install openai" in result.stdout


def test_a_dataset_path_with_a_typo_names_the_files_that_are_there(project):
    test_file = project / "evals" / "test_faq.py"
    test_file.write_text(test_file.read_text().replace('data="data/faq.jsonl"', 'data="data/faqs.jsonl"'))
    result = run_in(project)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "faqs.jsonl': cannot read the file (No such file or directory)" in result.stdout
    assert f"(No such file or directory); a relative path is looked up next to the test file, then in the rootdir " \
           f"({project / 'data' / 'faqs.jsonl'}). The .jsonl files in {project / 'evals' / 'data'}: faq.jsonl." in result.stdout


def test_a_jsonl_line_with_a_syntax_error_names_its_line_and_column(project):
    dataset = project / "evals" / "data" / "faq.jsonl"
    bad = '{"id": "where-order", "input": "Where is my order?", "expected": {"intent": "shipping"},}'
    with dataset.open("a", encoding="utf-8") as lines:  # (a trailing comma, as in a Python dict)
        lines.write(bad + "\n")
    with pytest.raises(json.JSONDecodeError) as parsed:  # (its wording moves between Pythons: 3.13's names the comma)
        json.loads(bad)
    result = run_in(project)
    assert result.returncode == 2, result.stdout + result.stderr
    assert (f"{dataset}:9: not valid JSON ({parsed.value.msg} at column {parsed.value.colno}); "
            "every line must be one JSON object.") in result.stdout
