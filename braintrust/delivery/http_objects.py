"""Registering experiments and datasets with the Braintrust API (``/v1/experiment``,
``/v1/dataset``), from the ``create_args`` an ``ObjectRef`` carries."""

from __future__ import annotations

import logging
from typing import Any

from braintrust.delivery.backend import DATASET, EXPERIMENT, BackendError, Deadline, ObjectNotFound, ObjectRef
from braintrust.delivery.http_backend import checked_object

log = logging.getLogger("braintrust")


def resolve_object(backend: Any, ref: ObjectRef, deadline: Deadline) -> None:
    """Find or create ``ref``'s experiment or dataset; sets ``ref.ids`` and ``ref.info`` (with
    ``record``: the object as Braintrust answered it)."""
    args = ref.create_args
    if ref.object_type == DATASET and args.get("dataset_id"):
        dataset = backend._call_object("GET", f"/v1/dataset/{args['dataset_id']}", deadline)
        project = backend._call_object("GET", f"/v1/project/{dataset.get('project_id')}", deadline)
        ref.ids = {"dataset_id": dataset["id"]}
        ref.info.update(project_id=project["id"], project_name=project.get("name"), project_record=project,
                        dataset_name=dataset.get("name"), record=dataset)
        return
    if ref.object_type == EXPERIMENT and args.get("open"):
        experiment = open_experiment(backend, args, deadline)
        ref.ids = {"experiment_id": experiment["id"]}
        ref.info.update(project_id=experiment.get("project_id"), project_name=args.get("project_name"),
                        experiment_name=experiment.get("name"), base_exp_id=experiment.get("base_exp_id"), record=experiment)
        return
    if args.get("project_id"):
        # A new experiment or dataset's project given by id is looked up, whatever name came with it
        # (Eval(name, project_id=) names its project by id), as 0.48.1 does.
        project = backend._project({**args, "project_name": None}, deadline)
    else:
        project = backend._project(args, deadline)
    ref.info.update(project_id=project["id"], project_name=project.get("name"), project_record=project)
    if ref.object_type == EXPERIMENT:
        experiment = create_experiment(backend, project, args, deadline)
        ref.ids = {"experiment_id": experiment["id"]}
        ref.info.update(experiment_name=experiment.get("name"), base_exp_id=experiment.get("base_exp_id"), record=experiment)
    elif ref.object_type == DATASET:
        dataset = create_dataset(backend, project, args, deadline)
        ref.ids = {"dataset_id": dataset["id"]}
        ref.info.update(dataset_name=dataset.get("name"), record=dataset)


def find_experiment(backend: Any, project_id: str | None, name: str, deadline: Deadline, project_name: str | None = None) -> dict[str, Any] | None:
    """The experiment of that name in the project given by id and/or name, or None."""
    project = {k: v for k, v in (("project_name", project_name), ("project_id", project_id)) if v is not None}
    params = {"experiment_name": name, **project, "org_name": backend.state.org_name}
    found = backend._call("GET", "/v1/experiment", deadline, params=params)
    objects = found.get("objects") if isinstance(found, dict) else None
    if not isinstance(objects, list):
        raise BackendError("GET /v1/experiment answered without a list of objects; is BRAINTRUST_API_URL the Braintrust API?", "bad_response")
    return checked_object(objects[0], "GET /v1/experiment") if objects else None


def open_experiment(backend: Any, args: dict, deadline: Deadline) -> dict[str, Any]:
    """``init(open=True)``: one lookup by the project's name or id, as 0.48.1 makes (reading
    never creates the project, as registering it with ``POST /v1/project`` would)."""
    experiment = find_experiment(backend, args.get("project_id"), args["experiment_name"], deadline, args.get("project_name"))
    if experiment is None:
        project = args.get("project_name") or args.get("project_id")
        raise ObjectNotFound(f"Experiment {args['experiment_name']} not found in project {project}.")
    return experiment


def create_experiment(backend: Any, project: dict, args: dict, deadline: Deadline) -> dict[str, Any]:
    from braintrust import git

    body: dict[str, Any] = {"project_id": project["id"], "ensure_new": bool(args.get("ensure_new", True))}
    if args.get("experiment_name"):
        body["name"] = args["experiment_name"]
    if args.get("description") is not None:
        body["description"] = args["description"]
    settings = git.combine_settings(backend.state.git_metadata, args.get("git_metadata_settings"))
    if backend.state.git_metadata is None and args.get("git_metadata_settings") is None:
        settings = {"collect": "none"}  # the public SDK collects nothing when the org sets no policy
    repo_info = args.get("repo_info")
    if repo_info is None and settings.get("collect") != "none":
        repo_info = git.collect_repo_info(settings, args.get("cwd"))
    if repo_info is not None:
        body["repo_info"] = repo_info
    base_id = args.get("base_exp_id")
    if base_id is None and args.get("base_experiment"):
        base = find_experiment(backend, project["id"], args["base_experiment"], deadline)
        if base is None:
            log.warning("braintrust: base experiment %r not found in project %r; comparing with the default.", args["base_experiment"], project.get("name"))
        else:
            base_id = base["id"]
    if base_id is not None:
        body["base_exp_id"] = base_id
    elif settings.get("collect") != "none":
        body["ancestor_commits"] = git.ancestor_commits(args.get("cwd"))
    for key in ("dataset_id", "dataset_version", "parameters_id", "parameters_version"):
        if args.get(key) is not None:
            body[key] = args[key]
    body["public"] = bool(args.get("public", False))
    for key in ("metadata", "tags"):
        if args.get(key) is not None:
            body[key] = args[key]
    return backend._call_object("POST", "/v1/experiment", deadline, body=body, retry=False)


def create_dataset(backend: Any, project: dict, args: dict, deadline: Deadline) -> dict[str, Any]:
    body: dict[str, Any] = {"project_id": project["id"], "name": args.get("dataset_name") or "logs"}
    for key in ("description", "metadata"):
        if args.get(key) is not None:
            body[key] = args[key]
    return backend._call_object("POST", "/v1/dataset", deadline, body=body)
