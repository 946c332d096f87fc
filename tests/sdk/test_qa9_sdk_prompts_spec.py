"""The public SDK's own prompt, prompt-cache, function and project-builder tests, read as a
specification and checked here against our loopback server (each difference confirmed with 0.48.1)."""

from __future__ import annotations

import json
import logging
import os

import pytest

from braintrust import load_prompt

COMPLETION = "{{x}}"


def _add(server, slug: str) -> None:
    server.add_prompt("proj", slug, {"prompt": {"type": "completion", "content": f"{slug} {COMPLETION}"},
                                     "options": {"model": "gpt-4o-mini"}})


def _built(slug: str) -> str:
    return load_prompt("proj", slug).build(x=1)["prompt"]


def _age_copies(folder: str, seconds_ago: dict[str, float]) -> None:
    """Give each slug's copy on disk a modification time that many seconds in the past."""
    now = os.path.getmtime(folder)
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        with open(path, encoding="utf-8") as handle:
            slug = json.load(handle)["prompt"]["slug"]
        os.utime(path, (now - seconds_ago[slug], now - seconds_ago[slug]))


def test_a_copy_read_from_disk_counts_as_used_when_the_disk_cache_evicts(bt_env, monkeypatch, caplog):
    """0.48.1's disk cache is least-recently-used: reading a copy (its fallback when Braintrust
    cannot answer) renews it, so the next eviction takes an older one. Ours evicted the copy just
    used, and the next outage found no copy of the prompt in use."""
    monkeypatch.setenv("BRAINTRUST_NUM_RETRIES", "0")
    monkeypatch.setenv("BRAINTRUST_PROMPT_CACHE_MEMORY_MAX_SIZE", "1")  # (so "a" is read back from disk)
    monkeypatch.setenv("BRAINTRUST_PROMPT_CACHE_DISK_MAX_SIZE", "2")
    folder = os.environ["BRAINTRUST_PROMPT_CACHE_DIR"]
    for slug in ("a", "b", "c"):
        _add(bt_env, slug)
    assert _built("a") == "a 1" and _built("b") == "b 1"
    _age_copies(folder, {"a": 200, "b": 100})  # (a written first)

    bt_env.fail_always("GET", "/v1/prompt", 503)
    with caplog.at_level(logging.WARNING, logger="braintrust"):
        assert _built("a") == "a 1"  # the disk copy stands in, and is now the most recently used
    assert "using its copy cached" in caplog.text
    bt_env.clear_faults()
    assert _built("c") == "c 1"  # a third copy: the least recently used one ("b") goes

    bt_env.fail_always("GET", "/v1/prompt", 503)
    assert _built("a") == "a 1"
    with pytest.raises(ValueError, match="could not load prompt 'b'"):
        _built("b")


@pytest.mark.parametrize("damage", [
    lambda copy: "not json at all",
    lambda copy: json.dumps({**copy, "saved_at": "yesterday"}),
    lambda copy: json.dumps({**copy, "saved_at": [1]}),
], ids=["not-json", "save-time-text", "save-time-list"])
def test_a_damaged_copy_on_disk_is_a_cache_miss(bt_env, monkeypatch, damage):
    """0.48.1 reads a copy it cannot make sense of as no copy: the outage error names the prompt.
    Ours failed on a copy whose save time was not a number, with float()'s own error."""
    monkeypatch.setenv("BRAINTRUST_NUM_RETRIES", "0")
    monkeypatch.setenv("BRAINTRUST_PROMPT_CACHE_MEMORY_MAX_SIZE", "1")
    folder = os.environ["BRAINTRUST_PROMPT_CACHE_DIR"]
    _add(bt_env, "a")
    _add(bt_env, "b")
    assert _built("a") == "a 1" and _built("b") == "b 1"  # (b pushes a out of memory)
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        with open(path, encoding="utf-8") as handle:
            copy = json.load(handle)
        if copy["prompt"]["slug"] == "a":
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(damage(copy))

    bt_env.fail_always("GET", "/v1/prompt", 503)
    with pytest.raises(ValueError, match="could not load prompt 'a' of project 'proj'.*503"):
        _built("a")
    assert _built("b") == "b 1"  # (an intact copy still stands in)
    bt_env.clear_faults()
    assert _built("a") == "a 1"  # and a fresh fetch writes a good copy again
    bt_env.fail_always("GET", "/v1/prompt", 503)
    assert _built("b") == "b 1" and _built("a") == "a 1"
