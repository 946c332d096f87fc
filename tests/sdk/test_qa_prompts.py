"""Prompts given hostile use: many threads using a prompt first at once, and prompt data of the
wrong shape, which must be refused naming the field rather than failing deep in ``build()``."""

from __future__ import annotations

import copy
import pickle
import threading

import pytest

from braintrust import Prompt, load_prompt
from btserver import Step

CHAT = {"prompt": {"type": "chat", "messages": [{"role": "user", "content": "Hi {{name}}"}]}, "options": {"model": "gpt-4o-mini"}}


def test_threads_using_a_prompt_first_at_once_fetch_it_once(bt_env):
    bt_env.add_prompt("proj", "hello", CHAT)
    prompt = load_prompt("proj", "hello")
    bt_env.script("GET", "/v1/prompt", [Step(delay_seconds=0.5)])  # (all threads arrive while it is fetched)
    built, errors = [], []
    start = threading.Barrier(8)

    def task(index: int) -> None:
        start.wait()
        try:
            built.append(prompt.build(name=str(index))["messages"][0]["content"])
        except Exception as exc:  # (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=task, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == [] and sorted(built) == sorted(f"Hi {index}" for index in range(8))
    assert len(bt_env.requests_to("/v1/prompt", "GET")) == 1
    # (the lock that makes them wait does not stop a prompt being copied or pickled)
    assert copy.deepcopy(prompt).build(name="copy")["messages"][0]["content"] == "Hi copy"
    assert pickle.loads(pickle.dumps(Prompt.from_prompt_data("p", CHAT))).build(name="p")["messages"][0]["content"] == "Hi p"


@pytest.mark.parametrize("prompt_data, message", [
    ({"prompt": {"type": "chat", "messages": ["hello"]}, "options": {"model": "m"}}, "message 0 must be an object with 'role'"),
    ({"prompt": {"type": "chat", "messages": {"role": "user", "content": "x"}}, "options": {"model": "m"}},
     "'prompt_data.prompt.messages' must be a list, got dict"),
    ({"prompt": "Hi {{name}}", "options": {"model": "m"}}, "'prompt_data.prompt' must be an object, got str"),
    ({"prompt": {"type": "completion", "content": "x"}, "options": "gpt-4o"}, "'prompt_data.options' must be an object, got str"),
    ({"prompt": {"type": "completion", "content": "x"}, "options": {"model": "m", "params": [["temperature", 0]]}},
     "'prompt_data.options.params' must be an object, got list"),
])
def test_prompt_data_of_the_wrong_shape_is_refused_naming_the_field(prompt_data, message):
    with pytest.raises(ValueError, match=message):
        Prompt.from_prompt_data("bad", prompt_data).build(name="x")


def test_a_fetched_prompt_of_the_wrong_shape_is_refused_naming_the_field(bt_env):
    bt_env.add_prompt("proj", "broken", {"prompt": {"type": "chat", "messages": [None]}, "options": {"model": "m"}})
    with pytest.raises(ValueError, match="Prompt 'broken': message 0 must be an object"):
        load_prompt("proj", "broken").build()
