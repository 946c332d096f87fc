"""Parametrizing a test from data: ``eval_case(data=...)`` / ``braintrust(data=...)``.

A source is a list (of dicts with input/expected/metadata/tags/id, or of plain inputs), a
callable returning one, a ``.jsonl`` path (relative to the test file), or a Braintrust
``Dataset`` (from ``init_dataset``; read from the local store when there is no key). Every
record becomes one item of the test, with the ``braintrust_case`` fixture holding it. pytest ids
come from record ids; a record without one is named by its input when that is a string or a
number (as pytest names plain parameters), else ``case-N`` (its position). Ids are reduced to
``[A-Za-z0-9_.:-]`` (other characters escaped first, as pytest escapes them: ``日本`` is
``u65e5_u672c``) and 60 characters, and a repeat gets ``-2``, ``-3``...: stable across runs
of the same data, and an id or string input keeps its id when records are added before it.

A dataset that is not pinned is pinned to its current version at collection; under pytest-xdist
the first worker to read it records that version (and the ids of its records, so that a record
deleted since is not read back) in a folder the controller shares, and every other worker reads
the same records, so all workers collect the same ids. The datasets read are
noted per project (``DATASETS_KEY``): a project whose cases come from one dataset version has its
experiment linked to it, as ``Eval`` links its experiment (``dataset_id`` / ``dataset_version``).
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any, Iterable

import pytest

from pytest_braintrust.case import DataRecord

_ID_CHARS = re.compile(r"[^A-Za-z0-9_.:-]+")

#: ``{project (None: the run's default) -> {(dataset id, version read)}}``: the Braintrust datasets
#: test cases were read from.
DATASETS_KEY = pytest.StashKey[dict]()


def parametrize_data(metafunc: pytest.Metafunc, source: Any, project: str | None = None) -> None:
    """Make every record of ``source`` one item of the test (``project``: its marker's, if any)."""
    read_from = source
    if callable(source) and not _is_dataset(source):  # (a callable returning a Dataset links it too)
        read_from = source()
        records = load_records(read_from, metafunc, getattr(source, "__name__", None) or repr(source))
    else:
        records = load_records(source, metafunc)
    if _is_dataset(read_from):
        read = metafunc.config.stash.setdefault(DATASETS_KEY, {})
        read.setdefault(project, set()).add((read_from.id, read_from.version))
    if not records:
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: the data source {source!r} has no records{_where_to_add(read_from)}.")
    if "braintrust_case" not in metafunc.fixturenames:
        metafunc.fixturenames.append("braintrust_case")
    metafunc.parametrize("braintrust_case", records, ids=unique_ids(records), indirect=True)


def _where_to_add(source: Any) -> str:
    """For an empty Braintrust dataset: where it was read, and how records get there."""
    if not _is_dataset(source):
        return ""
    from braintrust.objects.reads import reads
    from braintrust.state import global_state

    try:
        where = reads().where()
    except Exception:
        where = "Braintrust"
    listing = " (`braintrust list` shows the datasets there)" if global_state().is_local() else ""
    return (f" in {where}; check its project and name{listing}, "
            "or add records with init_dataset(...).insert(input=..., expected=...)")


def _is_dataset(source: Any) -> bool:
    return hasattr(source, "fetch") and hasattr(source, "ref") and getattr(source.ref, "object_type", None) == "dataset"


def unique_ids(records: list[DataRecord]) -> list[str]:
    """One pytest id per record. A repeated id gets ``-2``, ``-3``...: never one that another
    record has as its own (records ``x``, ``x``, ``x-2`` are ``x``, ``x-3``, ``x-2``)."""
    bases = [_readable_id(record) or f"case-{index + 1}" for index, record in enumerate(records)]
    ids, seen, taken = [], set(), set(bases)
    # The next suffix to try per base: a suffix passed over stays taken, so resuming there gives
    # the same ids as counting from 2 again, without rescanning (100,000 equal inputs: quadratic).
    next_suffix: dict[str, int] = {}
    for base in bases:
        candidate, n = base, next_suffix.get(base, 2)
        while candidate in seen or (candidate != base and candidate in taken):
            candidate, n = f"{base}-{n}", n + 1
        next_suffix[base] = n
        seen.add(candidate)
        ids.append(candidate)
    return ids


def _readable_id(record: DataRecord) -> str:
    """The record's id, else its input when a string or number, as an id pytest can show ("" if none)."""
    if record.id:
        text = str(record.id)
    elif isinstance(record.input, (str, int, float)) and not isinstance(record.input, bool):
        text = str(record.input)
    else:
        return ""
    # Other characters are escaped first, as pytest escapes them in its own ids (\u65e5):
    # an id in another script is still its own id, not dropped for the record's position.
    text = text.encode("ascii", "backslashreplace").decode("ascii")
    return _ID_CHARS.sub("_", text).strip("_")[:60].rstrip("_")


#: ``{id(iterator): (iterator, its records)}``: a one-shot source (a generator, ``map(...)``)
#: read once, for every test its mark covers (``pytestmark = eval_case(data=gen())``).
_READ_ONCE: dict[int, tuple[Any, list[DataRecord]]] = {}


def load_records(source: Any, metafunc: pytest.Metafunc, called: str = "") -> list[DataRecord]:
    """``called``: the callable ``source`` came from, if any (named in errors)."""
    if isinstance(source, (str, os.PathLike)):
        return _from_jsonl(Path(source), metafunc)
    if _is_dataset(source):
        return _from_dataset(source, metafunc)
    if callable(source) and not called:
        return load_records(source(), metafunc, getattr(source, "__name__", None) or repr(source))
    if isinstance(source, (set, frozenset)):
        source = _in_stable_order(source)
    if isinstance(source, Iterable) and not isinstance(source, (dict, str, bytes)):
        # (errors name the test and the record: a module's mark may feed several tests)
        given = f"data={called}()" if called else "data="
        where = f"{metafunc.definition.nodeid}: {given} record"
        if iter(source) is not source:  # (a list, a tuple: read again for each test)
            return [to_record(item, f"{where} {i + 1}") for i, item in enumerate(source)]
        read = _READ_ONCE.get(id(source))
        if read is None or read[0] is not source:
            read = _READ_ONCE[id(source)] = (source, [to_record(item, f"{where} {i + 1}") for i, item in enumerate(source)])
        return read[1]
    if called:
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: data={called} must return a list, a .jsonl path or a Dataset; "
                                f"{called}() returned {type(source).__name__}.")
    raise pytest.UsageError(
        f"{metafunc.definition.nodeid}: data= must be a list, a callable, a .jsonl path or a Dataset; got {type(source).__name__}."
    )


def _in_stable_order(records: set | frozenset) -> list[Any]:
    """A set's records in an order every process agrees on: a set of strings iterates in an
    order that changes with each process's hash seed, so pytest-xdist workers would collect the
    same tests in different orders (and stop the run), and each run would order the cases anew."""
    return sorted(records, key=lambda item: (type(item).__qualname__, repr(item)))


def to_record(item: Any, where: str) -> DataRecord:
    if isinstance(item, DataRecord):
        return item
    if isinstance(item, dict):
        if "input" not in item:
            if "expected" in item:  # a record missing its input, not an input with a field "expected"
                raise pytest.UsageError(
                    f"{where}: has \"expected\" but no \"input\"; write {{\"input\": ..., \"expected\": ...}} "
                    "(an object with neither \"input\" nor \"expected\" is the input itself)."
                )
            return DataRecord(input=item)
        metadata = item.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise pytest.UsageError(f"{where}: metadata must be an object, got {type(metadata).__name__}. "
                                    f"Write it as a dict of fields ({{\"key\": value}}), not {metadata!r:.60}.")
        tags = item.get("tags") or []
        if isinstance(tags, str):
            raise pytest.UsageError(f"{where}: tags must be a list of strings, got the string {tags!r} (write [{json.dumps(tags)}]).")
        if not isinstance(tags, (list, tuple, set, frozenset)) or not all(isinstance(tag, str) for tag in tags):
            raise pytest.UsageError(f"{where}: tags must be a list of strings, got {tags!r:.60}.")
        return DataRecord(
            input=item.get("input"),
            expected=item["expected"] if "expected" in item else item.get("output"),
            metadata=dict(metadata),
            tags=list(tags),
            id=str(item["id"]) if item.get("id") is not None else None,
        )
    fields = {k: getattr(item, k) for k in ("input", "expected", "metadata", "tags", "id") if hasattr(item, k)}
    if "input" in fields:
        return to_record(fields, where)
    return DataRecord(input=item)


def _from_jsonl(path: Path, metafunc: pytest.Metafunc) -> list[DataRecord]:
    looked_in = ""
    if not path.is_absolute():
        # (.path, not .fspath: pytest's legacypath plugin adds that one, and -p no:legacypath removes it)
        candidates = [metafunc.definition.path.parent / path, metafunc.config.rootpath / path]
        path = next((c for c in candidates if c.exists()), candidates[0])
        looked_in = f"; a relative path is looked up next to the test file, then in the rootdir ({candidates[1]})"
    if path.suffix != ".jsonl":
        raise pytest.UsageError(f"data={str(path)!r}: only .jsonl files are read (one JSON object per line).")
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise pytest.UsageError(f"data={str(path)!r}: cannot read the file ({exc.strerror}){looked_in}.{_files_beside(path)}") from None
    if content.startswith(codecs.BOM_UTF8):  # (as editors on Windows save UTF-8)
        content = content[len(codecs.BOM_UTF8):]
    records = []
    # Lines end at "\n" only (a CRLF line's "\r" is whitespace to the JSON parser): JSON text may
    # hold U+2028 and other characters that ``str.splitlines`` would also split at.
    for number, raw in enumerate(content.split(b"\n"), start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise pytest.UsageError(f"{path}:{number}: not valid UTF-8 (byte {raw[exc.start]:#04x} at column {exc.start + 1}); "
                                    "save the file as UTF-8.") from None
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            # (the column finds a stray comma or quote in a line of a few hundred characters)
            raise pytest.UsageError(f"{path}:{number}: not valid JSON ({exc.msg} at column {exc.colno}); "
                                    "every line must be one JSON object.") from None
        if not isinstance(item, dict):
            raise pytest.UsageError(f"{path}:{number}: expected a JSON object with input/expected, got {type(item).__name__}.")
        records.append(to_record(item, f"{path}:{number}"))
    return records


def _files_beside(path: Path) -> str:
    """For a data file not found: the .jsonl files in its folder (a typo in the name shows)."""
    try:
        names = sorted(p.name for p in path.parent.glob("*.jsonl") if p.name != path.name)
    except OSError:
        return ""
    if not names:
        return ""
    shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    return f" The .jsonl files in {path.parent}: {shown}."


def _from_dataset(dataset: Any, metafunc: pytest.Metafunc) -> list[DataRecord]:
    from braintrust.delivery.backend import BackendError

    try:
        rows = _dataset_rows(dataset, metafunc.config)
    except (BackendError, ValueError) as exc:  # (a dataset missing, or Braintrust refusing the read)
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: cannot read the data source {dataset!r}: {exc}") from None
    records = []
    for row in rows:
        origin = {"object_type": "dataset", "object_id": dataset.id, "id": row.get("id"), "_xact_id": row.get("_xact_id"), "created": row.get("created")}
        records.append(
            DataRecord(
                input=row.get("input"),
                # (a dataset opened with use_output=True names it "output")
                expected=row["expected"] if "expected" in row else row.get("output"),
                metadata=dict(row.get("metadata") or {}),
                tags=list(row.get("tags") or []),
                id=row.get("id"),
                origin=origin,
            )
        )
    return records


def _dataset_rows(dataset: Any, config: pytest.Config) -> list[dict[str, Any]]:
    """The records to test: of the version given, else of a version pinned now (see ``_shared_pin``)."""
    if dataset.explicit_version is not None:
        return list(dataset.fetch())
    # (an environment= is looked up here, once for all workers)
    dataset.pinned_version, kept = _shared_pin(dataset, config)
    rows = list(dataset.fetch())
    if kept is None:
        return rows
    # A read as of a version brings back the records deleted since: the ids leave them out.
    return [row for row in rows if row.get("id") in kept]


def _shared_pin(dataset: Any, config: pytest.Config) -> tuple[str, set[str] | None]:
    """The version to read: the current one (or its environment's), agreed between xdist workers
    through pin files. For the current version, also the ids of its records (else None): a
    version is the newest ``_xact_id`` of the records there, so the records deleted after it
    are read back as of it."""
    from pytest_braintrust.xdist import PINS_KEY

    pins_dir = (getattr(config, "workerinput", None) or {}).get(PINS_KEY)
    pin_file = None
    if pins_dir:
        # (one dataset read through other BTQL clauses is other records: a pin of its own)
        identity = {**dataset.ref.create_args, "environment": dataset.environment, "btql": dataset._internal_btql}
        key = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:20]
        Path(pins_dir).mkdir(parents=True, exist_ok=True)
        pin_file = Path(pins_dir) / f"{key}.version"
        if pin_file.exists():
            return _read_pin(pin_file)
    version = dataset.version
    kept = None if dataset.environment is not None else [row.get("id") for row in dataset.fetch()]
    if pin_file is None:
        return version, None if kept is None else set(kept)
    draft = pin_file.with_name(f"{pin_file.name}.{os.getpid()}")
    draft.write_text(json.dumps({"version": version, "ids": kept}))
    try:
        os.link(draft, pin_file)  # atomic: the first worker's version wins, complete
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return _read_pin(pin_file)


def _read_pin(pin_file: Path) -> tuple[str, set[str] | None]:
    pin = json.loads(pin_file.read_text())
    return pin["version"], None if pin["ids"] is None else set(pin["ids"])
