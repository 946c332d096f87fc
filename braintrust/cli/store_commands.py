"""The local-store commands of ``braintrust``: pure functions writing plain text to a stream.

``store`` is the store folder (``.braintrust``), the database file in it, or a ``LocalStore``.
Each function returns 0 once it has printed what was asked, and raises ``LookupError`` when the
store, project or experiment does not exist; the message says what exists instead and nothing
is printed. Looking never creates a store. No colours.
"""

from __future__ import annotations

import json
import os
import shlex
import unicodedata
from pathlib import Path
from typing import IO, Any, Iterable

from braintrust.attachments.kinds import map_attachment_references
from braintrust.delivery.backend import DATASET, EXPERIMENT, PROJECT_LOGS
from braintrust.local_compare import duration_of
from braintrust.store.location import DATABASE_FILENAME
from braintrust.store.rows import commented_row
from braintrust.store.sqlite_store import LocalStore

VALUE_WIDTH = 100
_FIELDS = ("input", "output", "expected")


def _database(store: str | os.PathLike[str]) -> Path:
    path = Path(store).expanduser()
    if path.is_dir() or (not path.exists() and path.suffix not in (".sqlite", ".db")):
        return path / DATABASE_FILENAME
    return path


def _open(store: LocalStore | str | os.PathLike[str]) -> LocalStore:
    if isinstance(store, LocalStore):
        return store
    path = _database(store)
    if not path.is_file():
        raise LookupError(
            f"no local Braintrust store at {path}: nothing has been logged there yet. Run your evals "
            "without BRAINTRUST_API_KEY (or with BRAINTRUST_LOCAL=1), or point BRAINTRUST_LOCAL_DIR "
            "at the folder that holds the store."
        )
    return LocalStore(path)


def _when(iso: str | None) -> str:
    """``2026-11-22T13:42:01.315470+00:00`` -> ``2026-11-22 13:42:01``."""
    return (iso or "-").replace("T", " ")[:19]


def _printable(text: Any) -> str:
    """``text`` on one line with no terminal control: control characters (a newline or an escape
    sequence in a name) as their Python escapes."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


def _width(text: str) -> int:
    """Columns ``text`` takes in a terminal: wide East Asian characters and emoji take two."""
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 0 if unicodedata.combining(c) else 1 for c in text)


def _table(rows: list[tuple[str, ...]], indent: str, right: Iterable[int] = ()) -> list[str]:
    """Rows of cells as aligned lines; columns in ``right`` are right-aligned."""
    rows = [tuple(_printable(cell) for cell in row) for row in rows]
    widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]))]
    right = set(right)
    lines = []
    for row in rows:
        pads = [" " * (w - _width(cell)) for cell, w in zip(row, widths)]
        cells = [pad + cell if i in right else cell + pad for i, (cell, pad) in enumerate(zip(row, pads))]
        lines.append((indent + "  ".join(cells)).rstrip())
    return lines


#: How many of a project's experiments (the newest) ``braintrust list`` shows.
LISTED_EXPERIMENTS = 10


def list_store(store: LocalStore | str | os.PathLike[str], out: IO[str]) -> int:
    """Projects with their newest experiments (name, created, rows), datasets and project logs."""
    local = _open(store)
    try:
        return _list(local, out)
    finally:
        if local is not store:
            local.close()


def _list(local: LocalStore, out: IO[str]) -> int:
    projects = local.list_projects()  # (first: a store that cannot be read prints nothing)
    out.write(f"Local Braintrust store: {local.path}\n")
    if not projects:
        out.write("\nNo projects yet.\n")
        return 0
    for project in projects:
        table: list[tuple[str, ...]] = [("KIND", "NAME", "CREATED (UTC)", "ROWS")]
        experiments = local.list_experiments(project["id"])
        older = max(0, len(experiments) - LISTED_EXPERIMENTS)
        for experiment in experiments[older:]:
            rows = local.count_rows(EXPERIMENT, experiment["id"])
            table.append(("experiment", experiment["name"], _when(experiment["created"]), str(rows)))
        for dataset in local.list_datasets(project["id"]):
            rows = local.count_rows(DATASET, dataset["id"])
            table.append(("dataset", dataset["name"], _when(dataset["created"]), str(rows)))
        logs = local.count_rows(PROJECT_LOGS, project["id"])
        if logs:
            table.append(("logs", "-", "-", str(logs)))
        out.write(f"\nProject {_printable(project['name'])}  (id {project['id']})\n")
        if len(table) == 1:
            out.write("  (empty)\n")
        else:
            out.write("\n".join(_table(table, "  ", right=(3,))) + "\n")
        if older:
            what = "1 older experiment" if older == 1 else f"{older} older experiments"
            out.write(f"  (and {what}: `braintrust experiments {shlex.quote(project['name'])} --last 0`)\n")
        if logs:
            out.write(f"  (the latest logs: `braintrust logs {shlex.quote(project['name'])}`)\n")
    return 0


# -- a project's logs ---------------------------------------------------------------------------


def show_logs(store: LocalStore | str | os.PathLike[str], project: str, last: int, out: IO[str]) -> int:
    """The last ``last`` traces (0: all) of a project's logs (``init_logger``) as trees, oldest first."""
    local = _open(store)
    try:
        found = _existing_project(local, project)
        total = local.count_rows(PROJECT_LOGS, found["id"])
        rows = local.latest_traces(PROJECT_LOGS, found["id"], last or total) if total else []  # (no more traces than rows)
        traces = len({row.get("root_span_id") or row.get("id") for row in rows if not commented_row(row)})
        out.write(f"Logs of project {found['name']}: the last {traces} trace{'s' if traces != 1 else ''} ({total} rows in all)\n\n")
        lines = span_tree_lines(rows)
        out.write(("\n".join(lines) if lines else "(no logs yet: rows logged with init_logger appear here)") + "\n")
        return 0
    finally:
        if local is not store:
            local.close()


# -- a dataset's records -----------------------------------------------------------------------


def show_dataset(store: LocalStore | str | os.PathLike[str], project: str, dataset: str, version: str | None, limit: int,
                 out: IO[str]) -> int:
    """A dataset's records (``init_dataset(...).insert``), at ``version`` (None: the current one),
    at most ``limit`` of them (0: all), in the order they were first written."""
    local = _open(store)
    try:
        found_project = _existing_project(local, project)
        found = local.get_dataset(project_id=found_project["id"], name=dataset) or local.get_dataset(id=dataset)
        if found is None or found["project_id"] != found_project["id"]:
            names = _names(local.list_datasets(found_project["id"]))
            raise LookupError(f"no dataset {dataset!r} in project {found_project['name']!r}; datasets: {names}.")
        total = local.count_rows(DATASET, found["id"]) if version is None else None
        rows, more = local.fetch_rows(DATASET, found["id"], version=version, limit=limit or None)
        at = f"version {version}" if version is not None else f"version {local.max_xact_id(DATASET, found['id']) or '-'}"
        counted = f"{total} record{'s' if total != 1 else ''}, " if total is not None else ""
        out.write(f"Dataset {found['name']}  (project {found_project['name']}): {counted}{at}\n\n")
        for row in rows:
            out.write(f"{row.get('id')}\n")
            details = [(field, _short(row[field])) for field in ("input", "expected", "metadata", "tags") if row.get(field) not in (None, {}, [])]
            width = max((len(label) for label, _ in details), default=0) + 1
            for label, text in details:
                out.write(f"    {(label + ':').ljust(width)} {text}\n")
        if not rows:
            out.write("(no records)\n")
        elif more:
            out.write(f"... and more (showing the first {limit}; --limit N shows more)\n")
        return 0
    finally:
        if local is not store:
            local.close()


# -- one experiment as a span tree ------------------------------------------------------------


def _short(value: Any, width: int = VALUE_WIDTH) -> str:
    """Compact JSON on one line, cut to ``width`` characters; attachments as
    ``[attachment NAME TYPE KEY8]`` (``braintrust attachment KEY8`` gets the bytes)."""
    text = json.dumps(_readable(value), ensure_ascii=False, default=str)
    return text if len(text) <= width else text[: width - 3] + "..."


def _readable(value: Any) -> Any:
    return map_attachment_references(value, _attachment_label)


def _attachment_label(reference: dict[str, Any]) -> str:
    where = f"at {reference.get('url')}" if reference.get("type") == "external_attachment" else str(reference.get("key"))[:8]
    return f"[attachment {reference.get('filename')} {reference.get('content_type')} {where}]"


def _scores(scores: Any) -> str:
    if not isinstance(scores, dict):
        return _short(scores)
    parts = []
    for name, value in scores.items():
        shown = f"{value:.2f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "-" if value is None else str(value)
        parts.append(f"{name}={shown}")
    return "  ".join(parts)


def _error_line(error: Any) -> str:
    """An error on one line: a traceback's last line (the exception), else every line joined
    with " | " (a pytest case's error is its message, then where: ``file:line``)."""
    if isinstance(error, str):
        lines = [line.strip() for line in error.strip().splitlines() if line.strip()]
        if lines and lines[0].startswith("Traceback ("):
            lines = lines[-1:]
        text = " | ".join(lines)
        return text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 3] + "..."
    return _short(error)


def _details(row: dict[str, Any]) -> list[tuple[str, str]]:
    details = [(field, _short(row[field])) for field in _FIELDS if row.get(field) is not None]
    if row.get("scores"):
        details.append(("scores", _scores(row["scores"])))
    if row.get("error") is not None:
        details.append(("error", _error_line(row["error"])))
    metrics = row.get("metrics") or {}
    duration = duration_of(metrics)
    if duration is not None:  # (none when the clock was set back while it ran)
        details.append(("duration", f"{duration:.3f} s"))
    logged = [(name, value) for name, value in metrics.items()
              if name not in ("start", "end") and isinstance(value, (int, float)) and not isinstance(value, bool)]
    if logged:  # an LLM call's token counts and time to first token; a user's own metrics
        logged.sort(key=lambda item: item[0] != "tokens")  # the total first
        text = "  ".join(f"{name}={value:.3g}" if isinstance(value, float) else f"{name}={value}" for name, value in logged)
        details.append(("metrics", text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 3] + "..."))
    return details


def _start(row: dict[str, Any]) -> tuple[float, str]:
    start = (row.get("metrics") or {}).get("start")
    return (float(start) if isinstance(start, (int, float)) else float("inf"), str(row.get("created") or ""))


def span_tree_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The rows as an indented tree by ``span_parents`` (children under their parent, by start).
    Comment rows (``log_feedback(comment=...)``) are shown on the row they are about."""
    comments: dict[str, list[str]] = {}
    spans = []
    for row in rows:
        about = commented_row(row)
        if about:
            comment = row["comment"]
            text = comment.get("text") if isinstance(comment, dict) and "text" in comment else comment
            comments.setdefault(about, []).append(_short(text))
        else:
            spans.append(row)
    known = {row.get("id") for row in spans}
    for about, texts in comments.items():  # about a row not shown here: a line of its own
        if about not in known:
            spans.append({"id": f"comment on {about}", "created": None, "_comments": texts})
    # Log records (``logger.info(...)``) carry the ids of the span they were written in: shown
    # as one line under it (or at the top, outside spans), never as spans themselves.
    records: dict[str, list[dict[str, Any]]] = {}
    for row in [r for r in spans if (r.get("span_attributes") or {}).get("type") == "log"]:
        spans.remove(row)
        records.setdefault(row.get("span_id") or "", []).append(row)
    by_span = {row["span_id"]: row for row in spans if row.get("span_id")}
    children: dict[str, list[dict[str, Any]]] = {}
    roots = []
    for span_id, held in records.items():
        if span_id not in by_span:
            roots.extend(held)
    for row in spans:
        parents = row.get("span_parents") or []
        parent = parents[0] if isinstance(parents, list) and parents else None
        if parent in by_span and parent != row.get("span_id"):
            children.setdefault(parent, []).append(row)
        else:
            roots.append(row)
    lines: list[str] = []
    seen: set[int] = set()

    def visit(row: dict[str, Any], depth: int) -> None:
        if id(row) in seen:
            return
        seen.add(id(row))
        attributes = row.get("span_attributes") or {}
        if attributes.get("type") == "log":
            lines.append(f"{'  ' * depth}[{attributes.get('log_level', 'log')}] {_short(row.get('output'))}")
            return
        name = attributes.get("name") or row.get("id")
        kind = f" [{attributes['type']}]" if attributes.get("type") else ""
        lines.append(f"{'  ' * depth}{name}{kind}")
        details = _details(row) + [("comment", text) for text in comments.get(row.get("id"), row.get("_comments", []))]
        width = max((len(label) for label, _ in details), default=0) + 1
        for label, text in details:
            lines.append(f"{'  ' * depth}    {(label + ':').ljust(width)} {text}")
        for child in sorted(children.get(row.get("span_id") or "", []) + records.get(row.get("span_id") or "", []), key=_start):
            visit(child, depth + 1)

    for root in sorted(roots, key=_start):
        visit(root, 0)
    return lines


def git_head(repo_info: Any) -> dict[str, Any] | None:
    """``{"branch", "commit", "dirty"}`` of an experiment's git metadata, or None without it
    (``branch``: the branch, else the tag, else "detached")."""
    if not isinstance(repo_info, dict) or not repo_info.get("commit"):
        return None
    where = repo_info.get("branch") or repo_info.get("tag") or "detached"
    return {"branch": where, "commit": str(repo_info["commit"]), "dirty": bool(repo_info.get("dirty"))}


def git_short(repo_info: Any) -> str:
    """``main@1a2b3c4`` (``*`` after it: uncommitted changes), or "-" without git metadata."""
    head = git_head(repo_info)
    return f"{head['branch']}@{head['commit'][:7]}{'*' if head['dirty'] else ''}" if head else "-"


def _git_line(repo_info: Any) -> str:
    """``main 1a2b3c4d5e6f, with uncommitted changes``: where the experiment's code came from."""
    head = git_head(repo_info)
    if head is None:
        return ""
    return f"{head['branch']} {head['commit'][:12]}{', with uncommitted changes' if head['dirty'] else ''}"


def _existing_project(local: LocalStore, project: str) -> dict[str, Any]:
    """The project by name or id; ``LookupError`` naming the projects there are (and the command
    that shows ``project`` when it is an experiment's name)."""
    found = _find_project(local, project)
    if found is None:
        owners = _owners(local, project)
        hint = ""
        if owners:
            show = ["braintrust", "show", project] if len(owners) == 1 else ["braintrust", "show", owners[0]["name"], project]
            which = "project" if len(owners) == 1 else "projects"
            hint = f" ({project!r} is an experiment of {which} {_names(owners)}: `{shlex.join(show)}` shows it.)"
        raise LookupError(f"no project {project!r} in {local.path}; projects: {_names(local.list_projects())}.{hint}")
    return found


#: How many names a message lists at most (a store may hold thousands of experiments).
NAMES_LISTED = 10


def _names(records: list[dict[str, Any]], newest_last: bool = False) -> str:
    """The records' names for a message: at most ``NAMES_LISTED`` of them (the last ones when
    ``newest_last``, as experiments come), and how many others there are."""
    names = [str(record["name"]) for record in records]
    if len(names) <= NAMES_LISTED:
        return ", ".join(names) or "none"
    shown = names[-NAMES_LISTED:] if newest_last else names[:NAMES_LISTED]
    return f"{', '.join(shown)} (and {len(names) - NAMES_LISTED} {'older' if newest_last else 'more'})"


def _owners(local: LocalStore, experiment: str) -> list[dict[str, Any]]:
    """The projects with an experiment of this name (or id)."""
    ids = {e["project_id"] for e in local.list_experiments(None) if experiment in (e["name"], e["id"])}
    return [p for p in local.list_projects() if p["id"] in ids]


def _find_project(local: LocalStore, project: str | None) -> dict[str, Any] | None:
    if project is None:
        return None
    return local.get_project(name=project) or local.get_project(id=project)


def named_experiment(local: LocalStore, project: str | None, experiment: str | None,
                     command: str = "show") -> tuple[dict[str, Any] | None, str | None]:
    """The project (None: none given) and experiment (a name or id; None: the newest) that
    ``braintrust COMMAND [PROJECT [EXPERIMENT]]`` names. A lone name that is no project but an
    experiment's name or id (as a summary prints it) is that experiment, in its project.
    ``LookupError`` for an unknown project, or a lone name that no project or several have."""
    if project is None:
        return None, experiment
    found = _find_project(local, project)
    if found is not None or experiment is not None:
        return found or _existing_project(local, project), experiment  # (raises when there is no such project)
    owners = _owners(local, project)
    if len(owners) == 1:
        return owners[0], project
    if not owners:
        raise LookupError(f"no project {project!r} in {local.path}, nor an experiment of that name; "
                          f"projects: {_names(local.list_projects())}.")
    retry = shlex.join(["braintrust", command, owners[0]["name"], project])
    raise LookupError(f"{project!r} is an experiment of {len(owners)} projects ({_names(owners)}); "
                      f"name the project too: `{retry}`.")


def show_experiment(
    store: LocalStore | str | os.PathLike[str], project: str | None, experiment: str | None, out: IO[str],
    case: str | None = None, errors_only: bool = False, limit: int | None = None,
) -> int:
    """The rows of one experiment as a tree. ``project`` and ``experiment`` are names or ids
    (see ``named_experiment``: a lone experiment name is that experiment); no project searches
    all of them; no experiment shows the project's newest one. ``case``:
    only the traces whose root span's name (a pytest case's test id) or input (as JSON)
    contains it, ignoring case; ``errors_only``: only the traces whose root row has an error
    (a failed pytest case, an ``Eval`` task that raised); ``limit``: at most that many traces,
    the first ones (None or 0: all), and a line saying how many there are."""
    local = _open(store)
    try:
        return _show(local, project, experiment, out, case, errors_only, limit)
    finally:
        if local is not store:
            local.close()


def _selected_traces(rows: Iterable[dict[str, Any]], case: str | None, errors_only: bool,
                     comments: list[dict[str, Any]] | None = None) -> tuple[list[str], int]:
    """The traces whose root matches (their ids, in the experiment's order), and how many
    traces there are. ``rows`` is read once (pages of a large experiment, never held); the
    comment rows among them are appended to ``comments`` when given."""
    wanted = case.casefold() if case else None

    def named(row: dict[str, Any]) -> bool:
        name = str((row.get("span_attributes") or {}).get("name") or "")
        return wanted in name.casefold() or wanted in json.dumps(row.get("input"), ensure_ascii=False, default=str).casefold()

    chosen: dict[Any, None] = {}  # (ordered, and a set)
    roots = 0
    for row in rows:
        if commented_row(row):
            if comments is not None:
                comments.append(row)
            continue
        if row.get("span_parents"):
            continue
        roots += 1
        if (wanted is None or named(row)) and (not errors_only or row.get("error") is not None):
            chosen[row.get("root_span_id") or row.get("id")] = None
    return list(chosen), roots


def _shown_rows(local: LocalStore, experiment_id: str, traces: list[str], comments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of these traces (read from the store), with the ``comments`` on them."""
    kept = local.trace_rows(EXPERIMENT, experiment_id, traces) if traces else []
    ids = {row.get("id") for row in kept}
    return kept + [row for row in comments if commented_row(row) in ids]


def _show(local: LocalStore, project: str | None, experiment: str | None, out: IO[str],
          case: str | None = None, errors_only: bool = False, limit: int | None = None) -> int:
    found_project, experiment = named_experiment(local, project, experiment, "show")
    project_id = found_project["id"] if found_project else None
    if experiment is None:
        candidates = local.list_experiments(project_id)
        chosen = candidates[-1] if candidates else None
    else:
        chosen = (
            local.get_experiment(project_id=project_id, name=experiment)
            if project_id
            else local.get_experiment(name=experiment)
        ) or local.get_experiment(id=experiment)
        if chosen is not None and project_id and chosen["project_id"] != project_id:
            chosen = None
    if chosen is None:
        names = _names(local.list_experiments(project_id), newest_last=True)
        where = f"project {found_project['name']!r}" if found_project else str(local.path)
        wanted = f"experiment {experiment!r}" if experiment else "experiment"
        dataset = local.get_dataset(project_id=project_id, name=experiment) if project_id and experiment else None
        hint = f" ({experiment!r} is a dataset: `braintrust dataset {shlex.quote(found_project['name'])} {shlex.quote(experiment)}`)" if dataset else ""
        raise LookupError(f"no {wanted} in {where}; experiments: {names}.{hint}")
    owner = found_project or local.get_project(id=chosen["project_id"]) or {"name": chosen["project_id"]}
    header = [("id:", chosen["id"]), ("created:", _when(chosen["created"]) + " UTC"),
              ("rows:", str(local.count_rows(EXPERIMENT, chosen["id"])))]
    if chosen.get("base_exp_id"):
        base = local.get_experiment(id=chosen["base_exp_id"])
        header.append(("base:", base["name"] if base else chosen["base_exp_id"]))
    git = _git_line(chosen.get("repo_info"))
    if git:
        header.append(("git:", git))
    out.write(f"Experiment {_printable(chosen['name'])}  (project {_printable(owner['name'])})\n")
    out.write("\n".join(_table([(label, value) for label, value in header], "  ")) + "\n\n")
    # The traces are picked from the rows read page by page; only the shown ones' rows are read
    # whole (a large experiment is never held in memory for its first 50 traces).
    comments: list[dict[str, Any]] = []
    rows = (row for page in local.iter_rows(EXPERIMENT, chosen["id"]) for row in page)
    picked, traces = _selected_traces(rows, case, errors_only, comments)
    shown = picked[:limit] if limit else picked
    more = f"the first {len(shown)} shown (--limit 0 shows all)" if len(shown) < len(picked) else ""
    if case is None and not errors_only:
        if more:
            lines = span_tree_lines(_shown_rows(local, chosen["id"], shown, comments))
        else:  # (every row: rows of traces whose root was not written too)
            lines = span_tree_lines(local.fetch_rows(EXPERIMENT, chosen["id"])[0])
        out.write(("\n".join(lines) if lines else "(no rows)") + "\n")
        if more:
            out.write(f"\n{traces} traces, {more}; --case TEXT or --errors picks some\n")
        return 0
    asked = " and ".join(([f"{case!r} in the name or input"] if case is not None else []) + (["an error"] if errors_only else []))
    if shown:
        out.write("\n".join(span_tree_lines(_shown_rows(local, chosen["id"], shown, comments))) + "\n\n")
    out.write(f"{len(picked)} of {traces} traces with {asked}" + (f"; {more}" if more else "") + "\n")
    return 0
