"""User-facing objects and tracing held to 0.48.1 where a side-by-side run of both SDKs against
the test server found ours different: log-record templates with a parameter missing,
``span.start_span(set_current=False)``, roots started under an object slug, span ids given to
``update_span``, and ``@traced`` on callable objects whose ``__call__`` is async or a generator."""

from __future__ import annotations

import asyncio

import pytest

import braintrust
from braintrust import traced


@pytest.fixture
def logger(bt_logs):
    return braintrust.init_logger(project="qa2-objects-tracing")


# -- log records -------------------------------------------------------------------------------


@pytest.mark.parametrize("body, parameters, output", [
    ("user {user} failed at {step}", {"user": "bob"}, "user bob failed at {step}"),
    ("v={a!r} {missing!r}", {"a": 1}, "v=1 '{missing}'"),
    ("{a:>3}|{b}", {"a": "x"}, "  x|{b}"),
])
def test_a_template_missing_a_parameter_renders_the_others_and_keeps_the_placeholder(bt_logs, logger, body, parameters, output):
    """Ours logged the whole template as written when one name was not given; 0.48.1 fills in the
    names it has and leaves the others as ``{name}``."""
    row_id = logger.info(body, **parameters)
    (row,) = bt_logs.rows()
    assert row["id"] == row_id and row["output"] == output
    assert row["metadata"]["braintrust.template"] == body


class _Unformattable:
    def __format__(self, spec):
        raise RuntimeError("cannot format")

    def __repr__(self):
        return "<unformattable>"


def test_a_value_that_fails_to_format_still_logs_the_record_as_written(bt_logs, logger):
    """A value whose ``__format__`` raised anything but the few errors caught escaped
    ``logger.info`` and the record was lost; 0.48.1 logs the template as written."""
    logger.info("value: {v}", v=_Unformattable())
    (row,) = bt_logs.rows()
    assert row["output"] == "value: {v}"


# -- set_current=False on a span's child ----------------------------------------------------------


def test_a_child_started_with_set_current_false_is_not_made_current(bt_logs, logger):
    """``span.start_span(set_current=False)`` ignored the flag: inside its ``with`` block the child
    was the current span, so spans started there nested under it, not under the parent."""
    with logger.start_span(name="top") as top:
        with top.start_span(name="quiet", set_current=False) as quiet:
            assert braintrust.current_span() is top
            braintrust.start_span(name="sibling").end()
        with top.start_span(name="elsewhere", parent=top.export(), set_current=False):
            assert braintrust.current_span() is top
    rows = bt_logs.by_name()
    assert rows["quiet"]["span_parents"] == [top.span_id]
    assert rows["sibling"]["span_parents"] == [top.span_id]


# -- roots under an object slug --------------------------------------------------------------------


def test_a_root_started_under_an_object_slug_has_no_type_as_in_0_48_1(bt_logs, logger):
    """``start_span(parent=logger.export())`` (or an experiment's, or ``parent_context`` of one)
    gave the root span the object's root type ("task", "eval"); 0.48.1 gives it none. The
    object's own ``start_span(parent=its slug)`` keeps its root type in both."""
    experiment = braintrust.init(project="qa2-objects-tracing", experiment="e", set_current=False)
    braintrust.start_span(name="under logger slug", parent=logger.export()).end()
    braintrust.start_span(name="under experiment slug", parent=experiment.export()).end()
    with braintrust.parent_context(logger.export()):
        braintrust.start_span(name="in parent_context").end()
    with logger.start_span(name="outer") as outer:
        outer.start_span(name="span under slug", parent=logger.export()).end()
    logger.start_span(name="logger under its slug", parent=logger.export()).end()
    experiment.start_span(name="experiment under its slug", parent=experiment.export()).end()
    logs = bt_logs.by_name()
    experiment_rows = {r["span_attributes"]["name"]: r for r in bt_logs.server.rows("experiment")}
    for row in (logs["under logger slug"], experiment_rows["under experiment slug"], logs["in parent_context"], logs["span under slug"]):
        assert row["span_parents"] is None and "type" not in row["span_attributes"], row
    assert logs["logger under its slug"]["span_attributes"]["type"] == "task"
    assert experiment_rows["experiment under its slug"]["span_attributes"]["type"] == "eval"


# -- span ids given to update_span ---------------------------------------------------------------


def test_update_span_takes_the_span_ids_as_0_48_1_does(bt_logs, logger):
    """``logger.update_span(id, span_id=..., root_span_id=...)`` (0.48.1's signature pops both
    and writes them on the merge) was refused as unknown fields; one without the other is refused
    in 0.48.1's words. ``update_span(slug, span_id=...)`` ignores ids given beside the slug."""
    span = logger.start_span(name="s")
    span.end()
    logger.update_span(span.id, span_id=span.span_id, root_span_id=span.root_span_id, output="updated")
    logger.update_span(span.id, span_id=None, root_span_id=None, tags=["t"])
    braintrust.update_span(span.export(), span_id="other", root_span_id="other-root", metadata={"m": 1})
    with pytest.raises(ValueError, match="both root_span_id and span_id must be set, or neither"):
        logger.update_span(span.id, span_id=span.span_id, output="half")
    (row,) = bt_logs.rows()
    assert (row["output"], row["metadata"], row["tags"]) == ("updated", {"m": 1}, ["t"])
    assert (row["span_id"], row["root_span_id"]) == (span.span_id, span.root_span_id)
    assert {(r["span_id"], r["root_span_id"]) for r in bt_logs.sent_rows()} == {(span.span_id, span.root_span_id)}


def test_an_experiment_s_update_span_takes_the_span_ids_too(bt_logs):
    experiment = braintrust.init(project="qa2-objects-tracing", experiment="upd")
    with experiment.start_span(name="case") as case:
        pass
    experiment.update_span(case.id, span_id=case.span_id, root_span_id=case.root_span_id, scores={"ok": 1})
    bt_logs.flush()
    (row,) = bt_logs.server.rows("experiment")
    assert row["scores"] == {"ok": 1} and row["span_id"] == case.span_id


# -- @traced on callable objects -----------------------------------------------------------------


class _AsyncCallable:
    async def __call__(self, x):
        await asyncio.sleep(0)
        return x + 1


class _GeneratorCallable:
    def __call__(self, n):
        yield from range(n)


def test_traced_callable_objects_whose_call_is_async_or_a_generator(bt_logs, logger):
    """``traced(obj)`` with an ``async def __call__`` ended its span at once, its output the
    coroutine object and the awaited body outside the span; a generator ``__call__`` the same with
    the generator object. (0.48.1 refuses any callable object: it has no ``__name__``.)"""
    async_traced = traced(_AsyncCallable())
    assert asyncio.run(async_traced(1)) == 2
    assert list(traced(name="gen")(_GeneratorCallable())(3)) == [0, 1, 2]
    rows = bt_logs.by_name()
    assert rows["_AsyncCallable"]["output"] == 2 and rows["_AsyncCallable"]["input"] == {"x": 1}
    assert rows["gen"]["output"] == [0, 1, 2]


# -- span_attributes that are not a dict ---------------------------------------------------------


def test_span_attributes_that_are_not_a_dict_are_named_in_the_error(bt_logs, logger):
    """``span_attributes="llm"`` failed inside ``dict.update`` ("dictionary update sequence element
    #0 has length 1; 2 is required"), naming neither the argument nor the fix."""
    message = r"span_attributes must be a dict \(such as \{'type': 'llm'\}\), got str 'llm'"
    with pytest.raises(TypeError, match=message):
        logger.start_span(name="s", span_attributes="llm")
    with logger.start_span(name="ok") as span:
        with pytest.raises(TypeError, match=message):
            span.set_attributes(span_attributes="llm")
        with pytest.raises(TypeError, match=message):
            span.start_span(name="child", span_attributes="llm")
    with pytest.raises(TypeError, match=message):
        traced(span_attributes="llm")(lambda: None)
    assert [r["span_attributes"]["name"] for r in bt_logs.rows()] == ["ok"]


# -- ids that would spoil a batch ------------------------------------------------------------------


@pytest.mark.parametrize("row_id", [123, {"a": 1}])
def test_an_experiment_row_id_that_is_not_a_string_is_refused_before_it_spoils_its_batch(bt_logs, row_id):
    """``experiment.log(id=123)`` was queued as it was: the server refused the whole batch it
    travelled in ("rows[1] has no string 'id'"), so every row logged beside it was spilled, not
    delivered. ``logger.log`` refused it already; the experiment's ``log`` now does too."""
    experiment = braintrust.init(project="qa2-objects-tracing", experiment="ids")
    kept = experiment.log(input=1, output=1, scores={})
    with pytest.raises(ValueError, match=r"experiment.log: id must be a string, got "):
        experiment.log(input=2, output=2, scores={}, id=row_id)
    with pytest.raises(ValueError, match=r"update_span: span_id and root_span_id must be strings"):
        experiment.update_span(kept, span_id=1, root_span_id=2, output=3)
    result = bt_logs.flush()
    assert result.accepted == result.produced == 1
    assert [r["id"] for r in bt_logs.server.rows("experiment")] == [kept]


# -- links in the local store ----------------------------------------------------------------------


def test_a_local_store_link_names_the_project_not_none():
    """With no API key, ``span.link()`` of project logs said ``object_id=None`` (the project not
    looked up yet); the local store is asked nothing over the network, so the link names it, as
    ``permalink()`` does."""
    logger = braintrust.init_logger(project="qa2-local-links")
    span = logger.start_span(name="s")
    link = span.link()
    span.end()
    assert link.startswith("file://") and "object_id=None" not in link
    assert link == span.permalink() and f"object_id={logger.id}" in link


# -- @traced above @staticmethod / @classmethod ----------------------------------------------------


class _Methods:
    @traced
    @staticmethod
    def static(x):
        return x + 1

    @traced(name="named static")
    @staticmethod
    def named_static(x):
        return x + 2

    @traced
    @classmethod
    def klass(cls, x):
        return (cls.__name__, x)


def test_traced_written_above_staticmethod_or_classmethod(bt_logs, logger):
    """``@traced`` over ``@staticmethod`` passed the instance as the first argument when called on
    one (a TypeError), and over ``@classmethod`` took the class method for a span name: the
    "method" returned a function instead of running. (0.48.1 fails in the same ways.)"""
    assert _Methods.static(1) == 2 and _Methods().static(2) == 3
    assert _Methods().named_static(1) == 3
    assert _Methods.klass(5) == ("_Methods", 5) and _Methods().klass(6) == ("_Methods", 6)
    rows = bt_logs.rows()
    by_input = {(r["span_attributes"]["name"], r["input"]["x"]): r for r in rows}
    assert len(rows) == 5 and not any("error" in r for r in rows)
    assert by_input[("static", 2)]["input"] == {"x": 2} and by_input[("static", 2)]["output"] == 3
    assert by_input[("named static", 1)]["output"] == 3
    assert by_input[("klass", 6)]["output"] == ["_Methods", 6] and "_Methods" in by_input[("klass", 6)]["input"]["cls"]
