"""The public SDK's smaller tests (``test_score.py``, ``test_id_gen.py``, ``test_version.py``,
the serializable data classes behind ``RepoInfo`` / ``GitMetadataSettings``) read as a
specification: each test here is a place where a side-by-side run of 0.48.1 and ours found ours
different."""

from __future__ import annotations

import dataclasses
from typing import Optional, Union

import re

import pytest

import braintrust
from braintrust.score import Score
from braintrust.serializable_data_class import SerializableDataClass


@dataclasses.dataclass
class _Settings(SerializableDataClass):
    name: str
    token: str = dataclasses.field(default="", repr=False)  # (kept out of repr, not out of the data)


@dataclasses.dataclass
class _Inner(SerializableDataClass):
    a: int


@dataclasses.dataclass
class _Outer(SerializableDataClass):
    inner: Optional[_Inner] = None
    either: Union[_Inner, int, None] = None


def test_as_dict_keeps_fields_hidden_from_repr():
    """0.48.1's ``as_dict`` is ``dataclasses.asdict``: every field, so ``from_dict`` round-trips."""
    settings = _Settings("prod", token="t0k")
    assert settings.as_dict() == {"name": "prod", "token": "t0k"}
    assert _Settings.from_dict(settings.as_dict()) == settings
    assert '"token": "t0k"' in settings.as_json()


def test_from_dict_deep_keeps_a_dict_no_dataclass_of_a_union_accepts():
    """A union field's dict that fits none of its dataclasses stays the dict (0.48.1), not a TypeError."""
    outer = _Outer.from_dict_deep({"inner": {"unknown": 1}, "either": {"a": 2}})
    assert outer.inner == {"unknown": 1}
    assert outer.either == _Inner(a=2)


def test_a_score_subclass_serializes_as_a_score():
    """``Score.as_dict`` is name, score and metadata (the very metadata object), whatever a
    subclass adds: 0.48.1's scorer span output is built from it."""

    @dataclasses.dataclass
    class RatedScore(Score):
        rationale: str = ""

    metadata = {"judge": "gpt"}
    score = RatedScore("accuracy", 0.5, metadata, rationale="close")
    assert score.as_dict() == {"name": "accuracy", "score": 0.5, "metadata": {"judge": "gpt"}}
    assert score.as_dict()["metadata"] is metadata
    assert Score("s", 1.0).as_json() == '{"name": "s", "score": 1.0, "metadata": {}}'


def test_experiment_log_with_legacy_ids_is_its_own_trace_root(bt_env, monkeypatch):
    """With ``BRAINTRUST_LEGACY_IDS`` 0.48.1's UUID generator shares the root span's id as its
    trace id, for ``experiment.log`` rows as for spans (``share_root_span_id``)."""
    monkeypatch.setenv("BRAINTRUST_LEGACY_IDS", "1")
    experiment = braintrust.init(project="p", experiment="legacy")
    experiment.log(input=1, output=2, scores={"s": 1})
    with experiment.start_span(name="span"):
        pass
    assert braintrust.flush().ok
    rows = {row["span_attributes"]["name"]: row for row in bt_env.rows("experiment")}
    assert rows["span"]["root_span_id"] == rows["span"]["span_id"]  # (spans already do)
    assert rows["root"]["root_span_id"] == rows["root"]["span_id"]


def test_version_module_names_the_build():
    """0.48.1's ``test_version``: ``braintrust.version`` has ``VERSION`` and ``GIT_COMMIT``."""
    from braintrust import version

    assert version.VERSION == "0.48.1" and version.RELEASE_CHANNEL == "stable"
    assert re.fullmatch("[0-9a-f]{40}", version.GIT_COMMIT)
    assert {"VERSION", "GIT_COMMIT", "RELEASE_CHANNEL"} <= set(version.__all__)
