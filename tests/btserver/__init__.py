"""A loopback Braintrust API server for this project's tests.

    from btserver import BraintrustTestServer, Step

    with BraintrustTestServer() as server:          # http://127.0.0.1:<free port>
        server.script("POST", "/logs3", [Step(status=500), Step(status=429, retry_after="1")])
        ...                                          # point the SDK at server.url
        assert server.rows("experiment", experiment_id)

Modules: ``server`` (lifecycle, recording, fault scripting), ``handlers`` (the endpoints),
``store`` (row merge semantics and versions), ``objects`` (projects, experiments, datasets), ``prompts`` (prompt versions), ``functions`` (stand-ins for ``/function/invoke``),
``summary`` (stand-in ``/summarize`` answers). ``python -m tests.btserver`` runs it standalone.
"""

from .server import DEFAULT_PAYLOAD_MAX_BYTES, BraintrustTestServer, RecordedRequest, Step

__all__ = ["DEFAULT_PAYLOAD_MAX_BYTES", "BraintrustTestServer", "RecordedRequest", "Step"]
