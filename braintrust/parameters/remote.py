"""Saved parameters: ``load_parameters`` and the ``RemoteEvalParameters`` it answers.

``load_parameters`` sends the public SDK's ``GET /v1/function?project_name=&slug=[&project_id=]
[&version=][&environment=]`` (or ``GET /v1/function/{id}``) and keeps the one function of type
``parameters``. It shares ``load_prompt``'s login, retries and cache fallback
(``braintrust.prompts.loading``); unlike it, it fetches at once, and a ``version`` wins over an
``environment``. ``Eval(parameters=<RemoteEvalParameters>)`` records their id and version on the
experiment and gives the task their values (``braintrust.parameters.values``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from braintrust.config import secret
from braintrust.parameters.json_schema import validate_json_schema
from braintrust.prompts.cache import parameters_cache
from braintrust.prompts.loading import LoadRequest, SavedKind, fetch_saved
from braintrust.serializable import SerializableDataClass

__all__ = ["RemoteEvalParameters", "load_parameters", "saved_parameters_ref"]

PARAMETERS = SavedKind(
    noun="parameters", plural="parameters", path="/v1/function",
    no_key=("load_parameters reads saved parameters from the Braintrust API, and no API key is set: set "
            "BRAINTRUST_API_KEY (or pass api_key=). To work offline, declare the parameters in code: "
            "Eval(..., parameters={...})."),
    is_kind=lambda row: isinstance(row, dict) and isinstance(row.get("function_data"), dict)
    and row["function_data"].get("type") == "parameters",
    cache=parameters_cache,
)


@dataclass
class RemoteEvalParameters(SerializableDataClass):
    """Parameters saved in Braintrust: their schema and the values saved with it, at one version."""

    id: str | None
    project_id: str | None
    name: str
    slug: str
    version: str | None
    schema: Mapping[str, Any]
    data: dict[str, Any]

    @classmethod
    def from_function_row(cls, row: Mapping[str, Any]) -> "RemoteEvalParameters":
        """From the function object Braintrust answers (``function_data.__schema`` / ``.data``)."""
        function_data = row.get("function_data") or {}
        return cls(id=row.get("id"), project_id=row.get("project_id"), name=row["name"], slug=row["slug"],
                   version=row.get("_xact_id"), schema=function_data.get("__schema") or {}, data=function_data.get("data") or {})

    def validate(self, data: Any) -> bool:
        """Whether ``data`` (with the schema's defaults filled in) satisfies the schema."""
        try:
            validate_json_schema(data, self.schema)
        except (ValueError, TypeError):
            return False
        return True


def load_parameters(
    project: str | None = None,
    slug: str | None = None,
    version: str | int | None = None,
    project_id: str | None = None,
    id: str | None = None,
    environment: str | None = None,
    app_url: str | None = None,
    api_key: str | None = None,
    org_name: str | None = None,
) -> RemoteEvalParameters:
    """The saved parameters ``slug`` of ``project`` (or ``project_id``), or those with ``id``;
    the latest version unless ``version`` (which wins) or ``environment`` names another."""
    api_key = secret(api_key)  # (tracebacks with locals, e.g. pytest -l, show this frame's arguments)
    if id is None:
        if not project and not project_id:
            raise ValueError("Must specify at least one of project or project_id")
        if not slug:
            raise ValueError("Must specify slug")
    request = LoadRequest(project, slug, None if version is None else str(version), project_id, id,
                          None if version is not None else environment, kind=PARAMETERS)
    return RemoteEvalParameters.from_function_row(fetch_saved(request, (app_url, api_key, org_name)))


def saved_parameters_ref(parameters: Any) -> dict[str, str] | None:
    """What an experiment run with ``parameters`` records of them (``init(parameters=...)``):
    saved parameters' id and version; nothing for parameters declared in code."""
    if not isinstance(parameters, RemoteEvalParameters) or parameters.id is None:
        return None
    return {"id": parameters.id, **({"version": parameters.version} if parameters.version is not None else {})}
