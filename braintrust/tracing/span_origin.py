"""``context.span_origin`` on every span row: which SDK wrote it, through which instrumentation,
and where it ran (``environment``), as the public SDK records them.

The environment is detected once per process (and again by ``init_logger``): an explicit
``init_logger(environment=...)``, else ``BRAINTRUST_ENVIRONMENT_TYPE`` / ``BRAINTRUST_ENVIRONMENT_NAME``
(each from the environment, else from the nearest ``.env.braintrust``), else the first well-known variable set by a CI system (``{"type": "ci", "name": "github_actions"}``,
... ``CI`` alone: ``"ci"``), a hosting platform (``{"type": "server", "name": "vercel"}``, ECS, AWS
Lambda, Cloud Run, Kubernetes, Heroku, ...), else ``PYTHON_ENV`` (production and staging are
servers; development and local are ``local``; anything else is just a name). With none of them,
rows carry no ``environment``.
"""

from __future__ import annotations

import os
from typing import Any, TypedDict

from braintrust.config import env_or_file

SDK_VERSION = "0.48.1"
SDK_NAME = "braintrust.sdk.python"
DEFAULT_INSTRUMENTATION = "braintrust-python-logger"


class SpanOriginEnvironment(TypedDict, total=False):
    type: str
    name: str


_CI = (
    ("GITHUB_ACTIONS", "github_actions"), ("GITLAB_CI", "gitlab_ci"), ("CIRCLECI", "circleci"),
    ("BUILDKITE", "buildkite"), ("JENKINS_URL", "jenkins"), ("JENKINS_HOME", "jenkins"),
    ("TF_BUILD", "azure_pipelines"), ("TEAMCITY_VERSION", "teamcity"), ("TRAVIS", "travis"),
    ("BITBUCKET_BUILD_NUMBER", "bitbucket"),
)
_FRONTEND_HOSTS = (("VERCEL", "vercel"), ("NETLIFY", "netlify"))
_SERVER_HOSTS = (
    ("K_SERVICE", "cloud_run"), ("FUNCTION_TARGET", "gcp_functions"), ("KUBERNETES_SERVICE_HOST", "kubernetes"),
    ("DYNO", "heroku"), ("FLY_APP_NAME", "fly"), ("RAILWAY_ENVIRONMENT", "railway"), ("RENDER_SERVICE_NAME", "render"),
)
#: Every variable ``detect_environment`` reads (tests clear them to run as a developer's machine).
DETECTION_VARIABLES = (
    "BRAINTRUST_ENVIRONMENT_TYPE", "BRAINTRUST_ENVIRONMENT_NAME", "CI", "ECS_CONTAINER_METADATA_URI",
    "ECS_CONTAINER_METADATA_URI_V4", "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME", "PYTHON_ENV",
    *(name for name, _ in _CI + _FRONTEND_HOSTS + _SERVER_HOSTS),
)


def _first_set(table: tuple[tuple[str, str], ...]) -> str | None:
    for variable, name in table:
        if os.environ.get(variable):
            return name
    return None


def detect_environment(explicit: SpanOriginEnvironment | None = None) -> SpanOriginEnvironment | None:
    """Where this process runs (see the module docstring), or None."""
    if explicit:
        return explicit
    kind, name = env_or_file("BRAINTRUST_ENVIRONMENT_TYPE"), env_or_file("BRAINTRUST_ENVIRONMENT_NAME")
    if kind or name:
        return {**({"type": kind} if kind else {}), **({"name": name} if name else {})}  # type: ignore[typeddict-item]
    ci = _first_set(_CI) or ("ci" if os.environ.get("CI") else None)
    if ci:
        return {"type": "ci", "name": ci}
    host = _first_set(_FRONTEND_HOSTS)
    if host is None and (os.environ.get("ECS_CONTAINER_METADATA_URI") or os.environ.get("ECS_CONTAINER_METADATA_URI_V4")):
        host = "ecs"
    execution = os.environ.get("AWS_EXECUTION_ENV") or ""
    if host is None and execution.startswith("AWS_ECS_"):
        host = "ecs"
    if host is None and (execution.startswith("AWS_Lambda_") or os.environ.get("AWS_LAMBDA_FUNCTION_NAME")):
        host = "aws_lambda"
    host = host or _first_set(_SERVER_HOSTS)
    if host:
        return {"type": "server", "name": host}
    mode = os.environ.get("PYTHON_ENV")
    if not mode:
        return None
    if mode.lower() in ("production", "staging"):
        return {"type": "server", "name": mode.lower()}
    if mode.lower() in ("development", "local"):
        return {"type": "local", "name": mode.lower()}
    return {"name": mode}


def _origin(instrumentation: str, environment: SpanOriginEnvironment | None) -> dict[str, Any]:
    origin: dict[str, Any] = {"name": SDK_NAME, "version": SDK_VERSION, "instrumentation": {"name": instrumentation}}
    if environment:
        origin["environment"] = dict(environment)
    return origin


_NOT_YET: Any = object()
_environment: SpanOriginEnvironment | None = _NOT_YET


def set_environment(explicit: SpanOriginEnvironment | None = None) -> None:
    """Detect the environment again (``explicit`` wins): ``init_logger(environment=...)``."""
    global _environment, ORIGIN
    _environment = detect_environment(explicit)
    ORIGIN = _origin(DEFAULT_INSTRUMENTATION, _environment)


def __getattr__(name: str) -> Any:
    """``ORIGIN``, the ``span_origin`` of spans the SDK itself records (one shared dict: rows copy
    it when encoded), is made on first use: detecting the environment may read ``.env.braintrust``,
    and importing braintrust opens no file. (Once made, it is a plain module attribute.)"""
    if name == "ORIGIN":
        set_environment()
        return ORIGIN
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def instrumented(instrumentation: str) -> dict[str, Any]:
    """The ``span_origin`` of spans an integration (``wrap_openai``...) records."""
    if _environment is _NOT_YET:
        set_environment()
    return _origin(instrumentation, _environment)
