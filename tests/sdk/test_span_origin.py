"""Where a span was recorded (``context.span_origin.environment``): the detection rules, one
variable set at a time. (Rows against the public SDK's, with ``GITHUB_ACTIONS`` set:
tests/sdk/test_public_sdk_captures.py::test_span_origin_environment_matches_public_sdk.)"""

from __future__ import annotations

import pytest

import braintrust
from braintrust.tracing import span_origin
from braintrust.tracing.span_origin import detect_environment


@pytest.mark.parametrize("variables, environment", [
    ({}, None),
    ({"BRAINTRUST_ENVIRONMENT_NAME": "nightly"}, {"name": "nightly"}),
    ({"BRAINTRUST_ENVIRONMENT_TYPE": "ci", "GITHUB_ACTIONS": "true"}, {"type": "ci"}),  # ours first
    ({"GITLAB_CI": "true", "CI": "true"}, {"type": "ci", "name": "gitlab_ci"}),
    ({"JENKINS_HOME": "/var/jenkins"}, {"type": "ci", "name": "jenkins"}),
    ({"CI": "1"}, {"type": "ci", "name": "ci"}),
    ({"CI": ""}, None),  # set but empty: not set
    ({"CI": "true", "VERCEL": "1"}, {"type": "ci", "name": "ci"}),  # CI before hosting
    ({"VERCEL": "1", "KUBERNETES_SERVICE_HOST": "10.0.0.1"}, {"type": "server", "name": "vercel"}),
    ({"ECS_CONTAINER_METADATA_URI_V4": "http://169.254.170.2/v4"}, {"type": "server", "name": "ecs"}),
    ({"AWS_EXECUTION_ENV": "AWS_ECS_FARGATE"}, {"type": "server", "name": "ecs"}),
    ({"AWS_EXECUTION_ENV": "AWS_Lambda_python3.12"}, {"type": "server", "name": "aws_lambda"}),
    ({"AWS_LAMBDA_FUNCTION_NAME": "fn", "K_SERVICE": "svc"}, {"type": "server", "name": "aws_lambda"}),
    ({"K_SERVICE": "svc"}, {"type": "server", "name": "cloud_run"}),
    ({"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, {"type": "server", "name": "kubernetes"}),
    ({"PYTHON_ENV": "Production"}, {"type": "server", "name": "production"}),
    ({"PYTHON_ENV": "development"}, {"type": "local", "name": "development"}),
    ({"PYTHON_ENV": "qa-2"}, {"name": "qa-2"}),
])
def test_detection_rules(variables, environment, monkeypatch):
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert detect_environment() == environment
    assert detect_environment({"name": "explicit"}) == {"name": "explicit"}


def test_every_kind_of_span_carries_it_and_init_logger_replaces_it(monkeypatch, bt_logs):
    monkeypatch.setenv("RENDER_SERVICE_NAME", "api")
    logger = braintrust.init_logger(project="origin")  # detects again, as the public SDK's does
    with logger.start_span(name="detected"):
        pass
    braintrust.init_logger(project="origin", environment={"type": "local", "name": "laptop"})
    with logger.start_span(name="explicit"):
        pass
    origins = {name: row["context"]["span_origin"] for name, row in bt_logs.by_name().items()}
    assert origins["detected"]["environment"] == {"type": "server", "name": "render"}
    assert origins["explicit"]["environment"] == {"type": "local", "name": "laptop"}
    # Integrations' spans (wrap_openai...) carry it too, with their own instrumentation name.
    assert span_origin.instrumented("braintrust-openai")["environment"] == {"type": "local", "name": "laptop"}
