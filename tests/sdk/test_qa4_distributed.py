"""Traces across processes against 0.48.1, past tests/sdk/test_distributed_tracing.py and
test_qa2_distributed_tracing.py: ``span.link()`` of a span continued from another process's slug
(no current logger there, no org known), and slugs naming an experiment without its id."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid

import pytest

import braintrust
from braintrust.span_identifier_v4 import SpanComponentsV4, SpanObjectTypeV3
from delivery_helpers import subprocess_env

NOOP_LINK = "https://www.braintrust.dev/noop-span"
ERROR_LINK = "https://www.braintrust.dev/error-generating-link?msg="


def _row_slug(object_type, **fields) -> str:
    """A span slug (with row, span and root ids) into ``object_type``."""
    return SpanComponentsV4(object_type=object_type, row_id=str(uuid.uuid4()), span_id="b7ad6b7169203331",
                            root_span_id="0af7651916cd43dd8448eb211c80319c", **fields).to_str()


CHILD = textwrap.dedent("""
    import sys
    import braintrust

    with braintrust.start_span(name="continued", parent=sys.argv[1]) as span:
        with span.start_span(name="nested") as nested:
            print(span.link())
            print(nested.link())
    braintrust.flush()
""")


def test_links_of_spans_continued_in_a_process_with_no_logger_or_org_are_as_in_the_public_sdk(bt_logs, tmp_path):
    """A service continuing a caller's slug, without a logger of its own and not logged in: 0.48.1's
    ``link()`` is the no-op link for project logs and ``msg=provide-app-url-or-org-name`` for an
    experiment (ours said ``login-or-provide-org-name`` for both)."""
    logger = braintrust.init_logger(project="qa4-links")
    experiment = braintrust.init(project="qa4-links", experiment="continued")
    with logger.start_span(name="caller") as caller, experiment.start_span(name="eval-caller") as eval_caller:
        slugs = {"project_logs": caller.export(), "experiment": eval_caller.export()}
    env = subprocess_env(BRAINTRUST_API_KEY=bt_logs.server.api_key, BRAINTRUST_APP_URL=bt_logs.server.url)
    links = {}
    for kind, slug in slugs.items():
        proc = subprocess.run([sys.executable, "-c", CHILD, slug], env=env, cwd=tmp_path, capture_output=True,
                              text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        links[kind] = proc.stdout.splitlines()
    assert links == {"project_logs": [NOOP_LINK] * 2,
                     "experiment": [ERROR_LINK + "provide-app-url-or-org-name"] * 2}
    names = {r["span_attributes"]["name"] for r in bt_logs.rows()}  # (the spans themselves are logged)
    assert {"caller", "continued", "nested"} <= names


def test_link_of_a_span_with_no_current_logger_is_the_noop_link(bt_logs):
    """``init_logger(set_current=False)``, or a slug continued here with no logger: no current
    logger, so 0.48.1's ``link()`` is the no-op link, logged in or not (ours linked after a login)."""
    logger = braintrust.init_logger(project="qa4-not-current", set_current=False)
    with logger.start_span(name="before-login") as before:
        assert before.link() == NOOP_LINK
    braintrust.login()
    with logger.start_span(name="after-login") as after:
        slug = after.export()
        assert after.link() == NOOP_LINK
    with braintrust.start_span(name="continued", parent=slug) as continued:
        assert continued.link() == NOOP_LINK
    assert after.permalink().startswith(f"{bt_logs.server.url}/app/")  # (permalink still resolves)
    braintrust.init_logger(project="qa4-current")
    with braintrust.start_span(name="with-current", parent=slug) as with_current:
        assert with_current.link().startswith(f"{bt_logs.server.url}/app/")


def test_link_of_an_experiment_span_with_no_org_known_says_what_to_provide(bt_logs):
    """A slug naming its experiment by id: nothing to resolve, so no login and no org to link with.
    An experiment of this process is resolved first (logging in), as 0.48.1 does: a real link."""
    slug = _row_slug(SpanObjectTypeV3.EXPERIMENT, object_id=str(uuid.uuid4()))
    with braintrust.start_span(name="in-experiment", parent=slug) as span:
        assert span.link() == ERROR_LINK + "provide-app-url-or-org-name"
    assert bt_logs.server.requests == []  # (a link asks nothing of Braintrust)
    experiment = braintrust.init(project="qa4-links", experiment="lazy")
    with experiment.start_span(name="lazy") as lazy:
        assert lazy.link() == (f"{bt_logs.server.url}/app/{bt_logs.server.org_name}/object?object_type=experiment"
                               f"&object_id={experiment.id}&id={lazy.id}")


@pytest.mark.parametrize("object_type", [SpanObjectTypeV3.EXPERIMENT, SpanObjectTypeV3.PLAYGROUND_LOGS])
def test_a_slug_naming_an_experiment_by_project_name_is_refused_not_made_a_new_experiment(object_type, bt_logs):
    """Only project logs are named by ``compute_object_metadata_args``. 0.48.1 refuses such an
    experiment slug ("compute_object_metadata_args not supported for experiments"); ours
    registered a new experiment in the named project and logged there."""
    slug = _row_slug(object_type, compute_object_metadata_args={"project_name": "qa4-named", "project_id": None})
    components = SpanComponentsV4.from_str(slug)
    with pytest.raises(ValueError, match="must carry its object_id"):
        braintrust.span_components_to_object_id(components)
    with pytest.raises(ValueError, match="must carry its object_id"):
        braintrust.start_span(name="under-it", parent=slug)
    with pytest.raises(ValueError, match="must carry its object_id"):
        braintrust.update_span(slug, output="x")
    assert braintrust.permalink(slug).startswith(ERROR_LINK)
    braintrust.flush()
    assert bt_logs.server.experiments() == [] and bt_logs.server.rows_received == 0
