"""Configuration: ``.env.braintrust`` read as the public SDK 0.48.1 reads it (its answers for 36
files are recorded in tests/data/config/env_file_cases.json), for the API key and the
environment's type and name; and a malformed ``BRAINTRUST_*`` value refused where it is first
read, with an error that names the variable, the value and the fix (0.48.1 quietly uses the
default instead)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import braintrust
from braintrust.config import env_file_value, find_api_key
from braintrust.prompts.cache import parameters_cache, prompt_cache
from braintrust.tracing.span_origin import detect_environment
from btserver import BraintrustTestServer
from delivery_helpers import subprocess_env

KEY = "BRAINTRUST_API_KEY"
CASES = json.loads((Path(__file__).parents[1] / "data" / "config" / "env_file_cases.json").read_text(encoding="utf-8"))["cases"]


@pytest.mark.parametrize("case", CASES, ids=[f"{n}:{case['contents'][:30]!r}" for n, case in enumerate(CASES)])
def test_the_file_reads_as_the_public_sdk_reads_it(case, tmp_path):
    (tmp_path / ".env.braintrust").write_text(case["contents"], encoding="utf-8")
    assert env_file_value(KEY, tmp_path) == case["value"]


def test_the_nearest_file_is_the_only_one_read_up_to_64_parents(tmp_path):
    deepest = tmp_path.joinpath(*(f"d{n}" for n in range(65)))
    deepest.mkdir(parents=True)
    (tmp_path / ".env.braintrust").write_text(f"{KEY}=sk-top\n", encoding="utf-8")
    assert env_file_value(KEY, deepest.parent) == "sk-top"  # tmp_path is its 64th parent
    assert env_file_value(KEY, deepest) is None  # ... and the 65th of this one
    (deepest.parent / ".env.braintrust").write_text("OTHER=1\n", encoding="utf-8")
    assert env_file_value(KEY, deepest) is None  # the nearest file has no key: not looked past
    (deepest.parent / ".env.braintrust").unlink()
    (deepest.parent / ".env.braintrust").mkdir()
    assert env_file_value(KEY, deepest) is None  # one that cannot be read stops the search too


def test_the_variable_wins_over_the_file_and_a_blank_one_counts_as_unset(tmp_path, monkeypatch):
    (tmp_path / ".env.braintrust").write_text(f"{KEY}=sk-file\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert find_api_key() == "sk-file"
    monkeypatch.setenv(KEY, "sk-env")
    assert find_api_key() == "sk-env"
    monkeypatch.setenv(KEY, "   ")
    assert find_api_key() == "sk-file"


def test_the_environments_type_and_name_come_from_the_file_too(tmp_path, monkeypatch):
    (tmp_path / ".env.braintrust").write_text(
        "export BRAINTRUST_ENVIRONMENT_TYPE=server\nBRAINTRUST_ENVIRONMENT_NAME='eu west' # the region\n", encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")  # (declared beats detected)
    assert detect_environment() == {"type": "server", "name": "eu west"}
    monkeypatch.setenv("BRAINTRUST_ENVIRONMENT_NAME", "from-env")
    assert detect_environment() == {"type": "server", "name": "from-env"}
    assert detect_environment({"type": "local"}) == {"type": "local"}


LOGGING = """
import braintrust
logger = braintrust.init_logger(project="env-file")
logger.log(input="q", output="a")
print(braintrust.flush().accepted)
"""


def test_a_program_below_the_file_logs_with_its_key_and_environment(tmp_path):
    """No API key in the environment: the key in a parent folder's file sends the rows to the
    server (not to the local store), and they carry the file's environment."""
    project = tmp_path / "project"
    below = project / "src" / "app"
    below.mkdir(parents=True)
    with BraintrustTestServer() as server:
        (project / ".env.braintrust").write_text(
            f"# written by the team's setup script\nBRAINTRUST_API_KEY={server.api_key}\nBRAINTRUST_ENVIRONMENT_TYPE=ci\n",
            encoding="utf-8",
        )
        env = subprocess_env(BRAINTRUST_APP_URL=server.url, BRAINTRUST_LOCAL_DIR=str(tmp_path / "store"))
        proc = subprocess.run([sys.executable, "-c", LOGGING], cwd=below, env=env, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == "1" and "local store" not in proc.stderr
        [row] = server.rows()
    assert row["output"] == "a"
    assert row["context"]["span_origin"]["environment"] == {"type": "ci"}
    assert not (tmp_path / "store").exists()


# -- malformed values ------------------------------------------------------------------------------

def _log_a_traced_generator() -> None:
    logger = braintrust.init_logger(project="malformed")
    logger.log(input=1, output=1)

    @braintrust.traced
    def numbers():
        yield 1

    list(numbers())
    braintrust.flush()


def _load_caches() -> None:
    prompt_cache()
    parameters_cache()


MALFORMED = [
    ("BRAINTRUST_QUEUE_SIZE", "abc", "is not a whole number; set it to e.g. 100000 or unset it", _log_a_traced_generator),
    ("BRAINTRUST_QUEUE_SIZE", "0", "must be at least 1; unset it to use the default 100000", _log_a_traced_generator),
    ("BRAINTRUST_DEFAULT_BATCH_SIZE", "1e3", "is not a whole number", _log_a_traced_generator),
    ("BRAINTRUST_NUM_RETRIES", "2.5", "is not a whole number", _log_a_traced_generator),
    ("BRAINTRUST_MAX_REQUEST_SIZE", "100", "must be at least 1024", _log_a_traced_generator),
    ("BRAINTRUST_FLUSH_TIMEOUT", "-1", "must be at least 0.0", _log_a_traced_generator),
    ("BRAINTRUST_FLUSH_TIMEOUT", "nan", "is not a finite number; set it to e.g. 10.0 or unset it", _log_a_traced_generator),
    ("BRAINTRUST_FLUSH_TIMEOUT", "inf", "is not a finite number", _log_a_traced_generator),
    ("BRAINTRUST_HTTP_TIMEOUT", "0", "must be at least 0.001", _log_a_traced_generator),
    ("BRAINTRUST_SYNC_FLUSH", "maybe", "is not a boolean: use one of true/1/yes/on or false/0/no/off", _log_a_traced_generator),
    ("BRAINTRUST_DISABLE_ATEXIT_FLUSH", "2", "is not a boolean", _log_a_traced_generator),
    ("BRAINTRUST_LEGACY_IDS", "perhaps", "is not a boolean", _log_a_traced_generator),
    ("BRAINTRUST_LOCAL", "sometimes", "is not a boolean", _log_a_traced_generator),
    ("BRAINTRUST_MAX_GENERATOR_ITEMS", "-2", "must be at least -1", _log_a_traced_generator),
    ("BRAINTRUST_MAX_GENERATOR_ITEMS", "many", "is not a whole number; set it to e.g. 1000", _log_a_traced_generator),
    ("BRAINTRUST_PROMPT_CACHE_MEMORY_MAX_SIZE", "big", "is not a whole number", _load_caches),
    ("BRAINTRUST_PARAMETERS_CACHE_DISK_MAX_SIZE", "-1", "must be at least 0", _load_caches),  # (0 is no bound, as in 0.48.1)
]


@pytest.mark.parametrize("name, value, problem, use", MALFORMED, ids=[f"{name}={value}" for name, value, _, _ in MALFORMED])
def test_a_malformed_value_is_refused_where_it_is_read(name, value, problem, use, monkeypatch):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError) as refused:
        use()
    assert str(refused.value).startswith(f"{name}={value!r} {problem}")


@pytest.mark.parametrize("name", sorted({name for name, _, _, _ in MALFORMED}))
def test_a_blank_value_counts_as_unset(name, monkeypatch):
    monkeypatch.setenv(name, "  ")
    _log_a_traced_generator()
    _load_caches()


@pytest.mark.parametrize("timeout", [math.nan, "5", True, [1]])
def test_flush_refuses_a_timeout_that_is_not_a_number_of_seconds(timeout):
    logger = braintrust.init_logger(project="flush-timeout")
    logger.log(input=1, output=1)
    with pytest.raises(ValueError, match=r"flush\(timeout=.*\): give a number of seconds, or None for the flush deadline"):
        braintrust.flush(timeout=timeout)
    result = braintrust.flush(timeout=math.inf)  # (nothing was lost meanwhile)
    assert (result.produced, result.accepted) == (1, 1)


def test_flush_with_no_time_left_spills_at_once(tmp_path):
    script = textwrap.dedent("""
        import braintrust
        logger = braintrust.init_logger(project="flush-now")
        logger.log(input=1, output=1)
        result = braintrust.flush(timeout=0)
        print(result.produced, result.accepted + result.spilled)
    """)
    env = subprocess_env(BRAINTRUST_API_KEY="sk-nobody", BRAINTRUST_APP_URL="http://127.0.0.1:9", BRAINTRUST_LOCAL_DIR=str(tmp_path / "store"))
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["1", "1"]


RELOGIN = """
import gc
import braintrust
from braintrust.delivery.runtime import reset_for_tests
for _ in range(3):
    braintrust.login()
    braintrust.init_logger(project="p").log(input=1)
    braintrust.flush()
    reset_for_tests()
gc.collect()
print("done")
"""


def test_forgetting_a_login_closes_its_connections():
    """``reset_for_tests`` (the dev server's switch between callers does the same) closes the
    HTTP client it drops: no ``ResourceWarning: unclosed socket`` per login."""
    with BraintrustTestServer() as server:
        env = subprocess_env(BRAINTRUST_API_KEY=server.api_key, BRAINTRUST_APP_URL=server.url)
        proc = subprocess.run([sys.executable, "-W", "always::ResourceWarning", "-c", RELOGIN], env=env,
                              capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "done", proc.stderr
    assert "unclosed" not in proc.stderr, proc.stderr
