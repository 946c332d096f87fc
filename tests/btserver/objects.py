"""Projects, experiments and datasets of the test server (braintrust-api.md §4).

Ids of projects and datasets are derived from their names (uuid5), so a test sees the same id for
the same name in every run; experiment ids are random. Objects are plain dicts shaped like the
service's answers; callers get copies.
"""

from __future__ import annotations

import copy
import itertools
import threading
import uuid
from datetime import datetime, timezone

#: Fixed id of the (only) user behind every API key.
USER_ID = "8b5f1d7e-2a55-4b7c-9a1c-7d7d8a4d8e11"

_NAMESPACE = uuid.UUID("6f1c0a4e-3b1d-4e5f-9a7b-2c8d9e0f1a2b")


class ApiError(Exception):
    """An error answer: ``status`` and a message sent as ``{"error": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def stable_id(*parts: str) -> str:
    """A uuid5 derived from ``parts``: the same names give the same id in every run."""
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join(parts)))


def created_now() -> str:
    """Creation time in the service's format, e.g. ``2026-11-22T13:49:38.666Z``."""
    now = datetime.now(timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


#: The fields a create request may carry (braintrust-api.md §4: what 0.48.1 sends, plus the
#: service's other optional ones); anything else is refused, naming it, as the service refuses it.
PROJECT_FIELDS = frozenset({"name", "org_name", "project_group_name", "description"})
EXPERIMENT_FIELDS = frozenset({
    "project_id", "ensure_new", "name", "description", "repo_info", "base_exp_id", "ancestor_commits",
    "dataset_id", "dataset_version", "parameters_id", "parameters_version", "public", "metadata", "tags",
})
DATASET_FIELDS = frozenset({"project_id", "name", "description", "metadata"})


def check_fields(body: dict, allowed: frozenset, what: str) -> None:
    """400 for a field ``what`` does not know, or a known one of the wrong JSON type."""
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ApiError(400, f"{what}: unknown field(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(sorted(allowed))}")
    kinds = {"ensure_new": bool, "public": bool, "metadata": dict, "repo_info": dict, "tags": list, "ancestor_commits": list,
             "dataset_version": (str, int), "parameters_version": (str, int)}
    for name, value in body.items():
        if value is None:
            continue
        wanted = kinds.get(name, str)
        if not isinstance(value, wanted) or (wanted is not bool and isinstance(value, bool)):
            raise ApiError(400, f"{what}: '{name}' has the wrong JSON type: {value!r:.100}")
        if wanted is list and not all(isinstance(item, str) for item in value):
            raise ApiError(400, f"{what}: '{name}' must be a list of strings, got {value!r:.100}")
    tags = body.get("tags")
    if tags is not None and len(set(tags)) != len(tags):
        raise ApiError(400, f"{what}: 'tags' must not repeat a tag, got {tags!r:.100}")


def _require_str(body: dict, field: str) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value:
        raise ApiError(400, f"'{field}' is required and must be a non-empty string")
    return value


class Registry:
    """Thread-safe store of the objects one organization owns."""

    def __init__(self, org_id: str, org_name: str) -> None:
        self.org_id = org_id
        self.org_name = org_name
        self._lock = threading.Lock()
        self._generated_names = itertools.count(1)
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self._projects: dict[str, dict] = {}
            self._experiments: dict[str, dict] = {}  # creation order matters (comparison default)
            self._datasets: dict[str, dict] = {}

    # -- projects ------------------------------------------------------------------------------

    def project_create_or_get(self, body: dict) -> dict:
        """``POST /v1/project``: the project with ``name``, created if missing."""
        check_fields(body, PROJECT_FIELDS, "POST /v1/project")
        name = _require_str(body, "name")
        org_name = body.get("org_name")
        if org_name not in (None, self.org_name):
            raise ApiError(404, f"Organization {org_name!r} not found (this server's org is {self.org_name!r})")
        with self._lock:
            for project in self._projects.values():
                if project["name"] == name:
                    return copy.deepcopy(project)
            project = {
                "id": stable_id(self.org_id, "project", name),
                "org_id": self.org_id,
                "name": name,
                "description": body.get("description"),
                "created": created_now(),
                "deleted_at": None,
                "user_id": USER_ID,
                "settings": None,
            }
            self._projects[project["id"]] = project
            return copy.deepcopy(project)

    def project(self, project_id: str) -> dict:
        """``GET /v1/project/{id}``."""
        with self._lock:
            if project_id not in self._projects:
                raise ApiError(404, f"project {project_id} not found")
            return copy.deepcopy(self._projects[project_id])

    def project_by_name(self, name: str) -> dict | None:
        with self._lock:
            for project in self._projects.values():
                if project["name"] == name:
                    return copy.deepcopy(project)
        return None

    def projects(self) -> list[dict]:
        with self._lock:
            return copy.deepcopy(list(self._projects.values()))

    # -- experiments ---------------------------------------------------------------------------

    def experiment_create(self, body: dict) -> dict:
        """``POST /v1/experiment``.

        ``ensure_new`` (default true) with a taken name creates ``<name>-1``, ``<name>-2``...;
        ``ensure_new: false`` returns the existing experiment of that name. No name → a generated
        ``experiment-<n>`` (``n`` counts across the server, like the recorder in the captures).
        """
        check_fields(body, EXPERIMENT_FIELDS, "POST /v1/experiment")
        project_id = _require_str(body, "project_id")
        name = body.get("name")
        if name is not None and (not isinstance(name, str) or not name):
            raise ApiError(400, "'name' must be a non-empty string when given")
        ensure_new = body.get("ensure_new", True) is not False
        with self._lock:
            project = self._projects.get(project_id)
            if project is None:
                raise ApiError(404, f"project {project_id} not found")
            taken = {e["name"]: e for e in self._experiments.values() if e["project_id"] == project_id}
            if name is None:
                name = f"experiment-{next(self._generated_names)}"
                while name in taken:
                    name = f"experiment-{next(self._generated_names)}"
            elif name in taken:
                if not ensure_new:
                    return copy.deepcopy(taken[name])
                suffix = 1
                while f"{name}-{suffix}" in taken:
                    suffix += 1
                name = f"{name}-{suffix}"
            repo_info = body.get("repo_info")
            experiment = {
                "id": str(uuid.uuid4()),
                "project_id": project_id,
                "name": name,
                "description": body.get("description"),
                "created": created_now(),
                "repo_info": repo_info,
                "commit": repo_info.get("commit") if isinstance(repo_info, dict) else None,
                "base_exp_id": body.get("base_exp_id"),
                "deleted_at": None,
                "dataset_id": body.get("dataset_id"),
                "dataset_version": body.get("dataset_version"),
                "parameters_id": body.get("parameters_id"),
                "parameters_version": body.get("parameters_version"),
                "public": bool(body.get("public", False)),
                "user_id": USER_ID,
                "metadata": body.get("metadata"),
                "tags": body.get("tags"),
            }
            self._experiments[experiment["id"]] = experiment
            return copy.deepcopy(experiment)

    def experiment(self, experiment_id: str) -> dict:
        with self._lock:
            if experiment_id not in self._experiments:
                raise ApiError(404, f"experiment {experiment_id} not found")
            return copy.deepcopy(self._experiments[experiment_id])

    def experiments(self, project_id: str | None = None, name: str | None = None) -> list[dict]:
        """Experiments in creation order, optionally filtered by project id and name."""
        with self._lock:
            return copy.deepcopy(
                [
                    e
                    for e in self._experiments.values()
                    if (project_id is None or e["project_id"] == project_id) and (name is None or e["name"] == name)
                ]
            )

    def experiment_list(self, query: dict) -> list[dict]:
        """``GET /v1/experiment?experiment_name=&project_id=|project_name=&org_name=``."""
        org_name = query.get("org_name")
        if org_name not in (None, self.org_name):
            return []
        project_id = query.get("project_id")
        if project_id is None and query.get("project_name") is not None:
            project = self.project_by_name(query["project_name"])
            if project is None:
                return []
            project_id = project["id"]
        return self.experiments(project_id, query.get("experiment_name"))

    def comparison_for(self, experiment: dict, requested_id: str | None) -> dict | None:
        """The experiment a summary compares with: the requested one, else the stored base, else
        the most recent earlier experiment of the same project."""
        with self._lock:
            if requested_id:
                found = self._experiments.get(requested_id)
                return copy.deepcopy(found) if found else None
            base = experiment.get("base_exp_id")
            if base and base in self._experiments:
                return copy.deepcopy(self._experiments[base])
            previous = None
            for other in self._experiments.values():
                if other["id"] == experiment["id"]:
                    break
                if other["project_id"] == experiment["project_id"]:
                    previous = other
            return copy.deepcopy(previous) if previous else None

    # -- datasets ------------------------------------------------------------------------------

    def dataset_create_or_get(self, body: dict) -> dict:
        """``POST /v1/dataset``: the dataset ``name`` (default ``"logs"``) of the project."""
        check_fields(body, DATASET_FIELDS, "POST /v1/dataset")
        project_id = _require_str(body, "project_id")
        name = body.get("name") or "logs"
        with self._lock:
            if project_id not in self._projects:
                raise ApiError(404, f"project {project_id} not found")
            dataset_id = stable_id(self.org_id, "dataset", project_id, name)
            if dataset_id not in self._datasets:
                self._datasets[dataset_id] = {
                    "id": dataset_id,
                    "project_id": project_id,
                    "name": name,
                    "description": body.get("description"),
                    "created": created_now(),
                    "deleted_at": None,
                    "user_id": USER_ID,
                    "metadata": body.get("metadata"),
                }
            return copy.deepcopy(self._datasets[dataset_id])

    def dataset(self, dataset_id: str) -> dict:
        with self._lock:
            if dataset_id not in self._datasets:
                raise ApiError(404, f"dataset {dataset_id} not found")
            return copy.deepcopy(self._datasets[dataset_id])

    def datasets(self, project_id: str | None = None, name: str | None = None) -> list[dict]:
        with self._lock:
            return copy.deepcopy(
                [
                    d
                    for d in self._datasets.values()
                    if (project_id is None or d["project_id"] == project_id) and (name is None or d["name"] == name)
                ]
            )
