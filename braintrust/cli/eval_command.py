"""``braintrust eval [options] PATH...``: import evaluation files, then run the evaluators they define.

Files: a directory is searched (recursively) for ``eval_*.py``, skipping hidden folders (``.git``,
``.venv``, ...), ``site-packages``, ``node_modules`` and ``__pycache__``; a file named directly is
run whatever its name (with a hint to rename it). Each file is imported once, under a unique module
name, with its folder first on ``sys.path`` (the working folder is on it too, as in 0.48.1), while ``Eval(...)``/``EvalAsync(...)`` calls only
register their evaluator (``braintrust.eval.registry.collecting``). The evaluators then run one after
the other, in file order; each one's reporter (``reporter=``; without it the only ``Reporter(...)``
the files define, else the summary printer; several and none named is the evaluator's failure, as
in 0.48.1) reports it as soon as it finished, and every reporter's ``report_run`` gets its reports at the end.

Exit status (what a CI job can rely on):

====  =====================================================================================
0     every file imported, at least one evaluator was found, every evaluator ran and every
      reporter's ``report_run`` passed (with ``--list``: files imported, evaluators found)
1     an eval file failed to import (its traceback is printed, with the file), no evaluator
      was found, an evaluator failed to run (experiment not created, timeout, bad ``data``,
      unknown reporter ...), a reporter raised, or a reporter's ``report_run`` returned
      False. The default reporter fails a run when any case's *task* raised (as the public
      SDK's CLI does); scorer errors are reported but do not fail it.
2     usage error: unknown option, malformed ``--filter``, missing path or ``--env-file``,
      malformed env file
130   interrupted (Ctrl-C): what already ran is flushed first
141   the output was closed early (``| head``): what already ran is flushed first
====  =====================================================================================

A broken file does not stop the other files from running (unless ``--terminate-on-failure``), but
the command still exits 1. ``--terminate-on-failure`` stops at the first failure of any kind
(a file that fails to import, an evaluator that fails to run or whose report fails).

``--env-file FILE``: ``KEY=VALUE`` lines (``export`` prefix, ``#`` comments, quoted values allowed)
are loaded into ``os.environ`` before anything else. Variables already set in the environment win
(so a CI secret is never replaced by a checked-in file), except ones that are set but empty or
blank, which the SDK treats as unset anyway. ``--api-key``, ``--org-name`` and ``--app-url`` win over
both (they set ``BRAINTRUST_API_KEY``, ``BRAINTRUST_ORG_NAME`` and ``BRAINTRUST_APP_URL`` for this run).
"""

from __future__ import annotations

import argparse
import fnmatch
import importlib.machinery
import importlib.util
import inspect
import json
import os
import re
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Pattern

from braintrust.cli.env_file import UsageError, load_env_file, read_env_file

EVAL_FILE_PATTERN = "eval_*.py"
SKIPPED_DIRS = ("site-packages", "node_modules", "__pycache__")
FILTER_EXAMPLE = "metadata.priority=^P0$"

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

API_KEY_WARNING = (
    "braintrust eval: warning: --api-key is visible to other users in the process list and stays in your "
    "shell history; prefer the BRAINTRUST_API_KEY environment variable (or --env-file)."
)




# -- arguments ---------------------------------------------------------------------------------


def parse_filter(text: str) -> tuple[str, Pattern[str]]:
    """``PATH=REGEX`` → ``(dotted path, compiled regex)``; raises ``ValueError`` naming the form.
    A REGEX written as a JSON string (``input.name="foo"``) is that string, as in 0.48.1."""
    path, sep, pattern = text.partition("=")
    path = path.strip()
    if not sep or not path or any(not part for part in path.split(".")):
        raise ValueError(f"invalid filter {text!r}: expected PATH=REGEX, e.g. {FILTER_EXAMPLE}")
    try:
        decoded = json.loads(pattern)
    except ValueError:
        decoded = None
    if isinstance(decoded, str):
        pattern = decoded
    try:
        return path, re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"invalid filter {text!r}: bad regular expression ({exc}); expected PATH=REGEX, e.g. {FILTER_EXAMPLE}") from None


class _FilterAction(argparse.Action):
    """``--filter A=x B=y`` and ``--filter A=x --filter B=y``. A value without ``=`` naming an existing
    file or folder is taken as a PATH (``--filter a=b evals/`` would otherwise swallow ``evals/``)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option_string: str | None = None) -> None:
        filters = list(getattr(namespace, self.dest, None) or [])
        extra = list(getattr(namespace, "extra_paths", None) or [])
        for value in values:
            if "=" not in value and os.path.exists(value):
                extra.append(value)
                continue
            try:
                filters.append(parse_filter(value))
            except ValueError as exc:
                parser.error(f"argument --filter: {exc}")
        setattr(namespace, self.dest, filters)
        namespace.extra_paths = extra


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    return _whole_number(text, 1, "a positive integer")


def count(text: str) -> int:
    """An argparse type: a whole number of at least 0."""
    return _whole_number(text, 0, "a whole number of 0 or more")


def _whole_number(text: str, least: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number (0-65535), got {text!r}")
    return port


def add_eval_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("paths", nargs="*", metavar="PATH", help=f"eval files, or folders searched for {EVAL_FILE_PATTERN} (default: the current folder)")
    parser.add_argument("--list", action="store_true", help="print the evaluators' names and run nothing")
    parser.add_argument(
        "--filter", nargs="+", action=_FilterAction, default=[], metavar="PATH=REGEX",
        help=f"run only cases whose field at the dotted PATH matches REGEX (from its start), e.g. {FILTER_EXAMPLE} "
        "or input.name=foo.*bar; repeatable, all must match",
    )
    parser.add_argument("--jsonl", action="store_true", help="print one JSON summary per line on stdout")
    parser.add_argument("--no-send-logs", action="store_true", help="run the evaluators without an experiment: their results are printed, not written or sent (a logger the file starts itself still logs, as in 0.48.1)")
    parser.add_argument("--terminate-on-failure", action="store_true", help="stop at the first failing evaluator (or file) instead of moving on")
    parser.add_argument("--num-workers", type=positive_int, metavar="N", help="threads for sync tasks and scorers (default: min(32, CPU count + 4))")
    parser.add_argument("--no-progress-bars", action="store_true", help="no progress bars (they are only drawn when stderr is a terminal)")
    parser.add_argument("--env-file", metavar="FILE", help="KEY=VALUE lines loaded into the environment first (set variables win)")
    parser.add_argument("--api-key", help="Braintrust API key for this run (prefer the BRAINTRUST_API_KEY variable)")
    parser.add_argument("--org-name", help="organization to use (BRAINTRUST_ORG_NAME)")
    parser.add_argument("--app-url", help="Braintrust app URL (BRAINTRUST_APP_URL)")
    parser.add_argument("-v", "--verbose", action="store_true", help="full stack traces")
    parser.add_argument("--watch", action="store_true", help="run again whenever a Python file under the paths changes (Ctrl-C stops)")
    parser.add_argument("--dev", action="store_true",
                        help="serve the evaluators to the Braintrust playground (remote evals) instead of running them (Ctrl-C stops)")
    parser.add_argument("--dev-host", default="localhost", help="the dev server's host (default localhost; 0.0.0.0 for every interface)")
    parser.add_argument("--dev-port", type=_port, default=8300, metavar="PORT", help="the dev server's port (default 8300; 0: any free one)")
    parser.add_argument("--dev-org-name", metavar="ORG", help="let only users of this Braintrust organization run the dev server's evals")
    parser.set_defaults(func=cmd_eval, extra_paths=[], argv=None)
    return parser


def build_eval_parser(prog: str = "braintrust eval") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Import evaluation files and run the evaluators they define (Eval(...) calls).",
        epilog="Exit status: 0 all ran and passed; 1 a file failed to import, no evaluator found, an evaluator "
        "failed to run or its report failed (a case whose task raised fails it); 2 usage error; 130 interrupted.",
    )
    return add_eval_arguments(parser)


# -- env file ----------------------------------------------------------------------------------


# -- finding and importing files ---------------------------------------------------------------


def _skip_dir(name: str) -> bool:
    return name.startswith(".") or name in SKIPPED_DIRS


def find_eval_files(paths: Iterable[str]) -> tuple[list[Path], list[str]]:
    """(files to import, hints). Raises ``UsageError`` for a path that does not exist."""
    files: list[Path] = []
    seen: set[Path] = set()
    hints: list[str] = []

    def add(path: Path) -> None:
        resolved = path.resolve()
        if resolved not in seen:
            seen.add(resolved)
            files.append(path)

    for text in paths:
        path = Path(text).expanduser()
        if path.is_dir():
            found = []
            for directory, dirnames, filenames in os.walk(path):
                dirnames[:] = sorted(d for d in dirnames if not _skip_dir(d))
                found.extend(Path(directory) / f for f in filenames if fnmatch.fnmatch(f, EVAL_FILE_PATTERN))
            if not found:
                hints.append(f"braintrust eval: no {EVAL_FILE_PATTERN} files under {text}")
            for file in sorted(found):
                add(file)
        elif path.is_file():
            if not fnmatch.fnmatch(path.name, EVAL_FILE_PATTERN):
                stem = path.stem if path.suffix == ".py" else path.name
                hints.append(
                    f"braintrust eval: running {text} although its name does not match {EVAL_FILE_PATTERN}; "
                    f"rename it eval_{stem}.py so that `braintrust eval <folder>` finds it"
                )
            add(path)
        else:
            raise UsageError(f"no such file or directory: {text}")
    return files, hints


_module_counter = 0


def _module_name(path: Path) -> str:
    global _module_counter
    _module_counter += 1
    stem = re.sub(r"\W", "_", path.stem) or "eval"
    return f"braintrust_eval_{_module_counter}_{stem}"


def put_working_folder_on_path() -> None:
    """Let eval files import the project's own packages from the folder the command runs in, as
    0.48.1's ``braintrust`` does (a console script's ``sys.path`` starts at its ``bin/``, not there)."""
    here = os.getcwd()
    if not any(entry in ("", here) for entry in sys.path):
        sys.path.insert(0, here)


#: The folders of the eval files imported so far (each put on ``sys.path``).
_eval_folders: set[str] = set()


def _forget_other_folders_modules(folder: Path) -> None:
    """Make ``folder``'s own modules importable by its eval files: a module an earlier eval file
    imported from *its* folder under a name ``folder`` also has (each folder's ``helpers.py``) is
    dropped from ``sys.modules``, so ``import helpers`` loads this folder's, not the cached one.
    (The earlier file keeps the module it imported.)"""
    for name, module in list(sys.modules.items()):
        location = getattr(module, "__file__", None)
        if "." in name or not location:
            continue
        origin = Path(location).parent
        if Path(location).name == "__init__.py":
            origin = origin.parent
        if str(origin) not in _eval_folders or origin == folder:
            continue
        if (folder / f"{name}.py").is_file() or (folder / name / "__init__.py").is_file():
            for loaded in [loaded for loaded in sys.modules if loaded == name or loaded.startswith(name + ".")]:
                del sys.modules[loaded]


def import_eval_file(path: Path) -> None:
    """Import one file as a fresh module, with its folder first on ``sys.path``. Its ``__file__``
    (and so the tracebacks logged with its errors) is absolute, as in 0.48.1."""
    folder = str(path.resolve().parent)
    _forget_other_folders_modules(Path(folder))
    _eval_folders.add(folder)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = _module_name(path)
    location = os.path.abspath(path)
    loader = importlib.machinery.SourceFileLoader(name, location)
    spec = importlib.util.spec_from_file_location(name, location, loader=loader)
    if spec is None:  # pragma: no cover - a SourceFileLoader always gives a spec
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise


def _user_traceback(exc: BaseException, verbose: bool) -> str:
    """The traceback without the frames of this command and of importlib (unless verbose)."""
    tb = exc.__traceback__
    if not verbose:
        here = os.path.abspath(__file__)
        while tb is not None:
            filename = tb.tb_frame.f_code.co_filename
            if filename.startswith("<frozen importlib") or os.path.abspath(filename) == here:
                tb = tb.tb_next
            else:
                break
    return "".join(traceback.format_exception(type(exc), exc, tb)).rstrip()


# -- running -----------------------------------------------------------------------------------


@dataclass
class _Loaded:
    file: Path
    entry: Any  # registry.RegisteredEvaluator


@dataclass
class _Outcome:
    failures: list[str] = field(default_factory=list)
    stopped: bool = False

    def fail(self, what: str) -> None:
        self.failures.append(what)


def eprint(*parts: Any) -> None:
    print(*parts, file=sys.stderr, flush=True)


def _call(fn: Any, **arguments: Any) -> Any:
    """Call a reporter function as 0.48.1's ``braintrust eval`` does, matching its parameters to
    ``arguments`` by name (``match_arguments``: ``report_run(eval_reports, verbose, jsonl)`` gets
    the reports; one that takes fewer arguments gets fewer); an awaitable result is run to completion."""
    from braintrust.eval.scorers import match_arguments

    positional, keyword = match_arguments(fn, arguments, order=tuple(arguments))
    result = fn(*positional, **keyword)
    if inspect.isawaitable(result):
        from braintrust.eval.loop import run_sync

        result = run_sync(result)
    return result


def _apply_credentials(args: argparse.Namespace) -> None:
    if args.api_key is not None:
        eprint(API_KEY_WARNING)
        os.environ["BRAINTRUST_API_KEY"] = args.api_key
    if args.org_name is not None:
        os.environ["BRAINTRUST_ORG_NAME"] = args.org_name
    if args.app_url is not None:
        os.environ["BRAINTRUST_APP_URL"] = args.app_url


def _load(files: list[Path], args: argparse.Namespace, outcome: _Outcome) -> tuple[list[_Loaded], dict[str, Any]]:
    from braintrust.eval import registry

    loaded: list[_Loaded] = []
    with registry.collecting() as recorded:
        for file in files:
            before = len(recorded)
            registry.start_file(os.path.abspath(file))
            try:
                import_eval_file(file)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # SyntaxError, ImportError, SystemExit, a bad Eval(...) call ...
                registry.discard_file()
                eprint(f"braintrust eval: failed to import {file}:")
                eprint(_user_traceback(exc, args.verbose))
                outcome.fail(f"import of {file}")
                if args.terminate_on_failure:
                    outcome.stopped = True
                    break
                continue  # what a broken file registered before failing is not used
            added = recorded[before:]
            if not added:
                eprint(f"braintrust eval: {file} defines no evaluator (no Eval(...) call ran while importing it){_main_guard_hint(file)}")
            loaded.extend(_Loaded(file, entry) for entry in added)
        reporters = registry.registered_reporters()
    return loaded, reporters


def _main_guard_hint(file: Path) -> str:
    """Why a file's Eval(...) may not have run: it is under ``if __name__ == "__main__":``, or
    it is an ``EvalAsync(...)`` never awaited (its coroutine registers nothing until it runs)."""
    try:
        source = file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    if re.search(r"""__name__\s*==\s*['"]__main__['"]""", source):
        return "; an Eval(...) under `if __name__ == \"__main__\":` does not run when braintrust eval imports the file: call it at the top level"
    if re.search(r"\bEvalAsync\s*\(", source) and not re.search(r"\bawait\s+EvalAsync\b", source):
        return ("; EvalAsync(...) returns a coroutine that registers its evaluator only when awaited: "
                "call Eval(...) at the top level instead (or `await EvalAsync(...)` in a function asyncio.run runs)")
    return ""


def _list(loaded: list[_Loaded], jsonl: bool) -> None:
    for item in loaded:
        evaluator = item.entry.evaluator
        if jsonl:
            print(json.dumps({"eval_name": evaluator.eval_name, "project_name": evaluator.project_name,
                              "experiment_name": evaluator.experiment_name, "file": str(item.file)}))
        else:
            print(evaluator.eval_name)


def _run_all(loaded: list[_Loaded], defined_reporters: dict[str, Any], args: argparse.Namespace, outcome: _Outcome) -> None:
    from braintrust.eval import registry
    from braintrust.eval.reporters import default_reporter

    reports: dict[str, tuple[Any, list[Any]]] = {}  # reporter name -> (reporter, reports), in first-use order
    for index, item in enumerate(loaded):
        evaluator = item.entry.evaluator
        name = evaluator.eval_name
        ok = True
        try:
            reporter = registry.resolve_reporter(item.entry.reporter, defined_reporters)
            result = registry.run_evaluator(
                evaluator,
                filters=args.filter or None,
                no_send_logs=args.no_send_logs,
                num_workers=None,  # the shared pool, bounded by set_thread_pool_max_workers below
                progress=not args.no_progress_bars,
                jsonl=args.jsonl,
            )
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            eprint(f"braintrust eval: evaluator {name} ({item.file}) failed to run: {type(exc).__name__}: {exc}")
            if args.verbose:
                eprint(_user_traceback(exc, True))
            else:
                eprint("braintrust eval: add --verbose to see the full stack trace.")
            outcome.fail(f"evaluator {name}")
            ok = False
        else:
            try:
                report = _call(reporter.report_eval, evaluator=evaluator, result=result, verbose=args.verbose, jsonl=args.jsonl)
            except (KeyboardInterrupt, BrokenPipeError):  # (the output's reader went away: no reporter's fault)
                raise
            except Exception as exc:
                eprint(f"braintrust eval: reporter {reporter.name!r} failed on evaluator {name}:")
                eprint(_user_traceback(exc, True))
                outcome.fail(f"report of {name}")
                ok = False
            else:
                reports.setdefault(reporter.name, (reporter, []))[1].append(report)
                # the default reporter's report is False when a task raised; others' reports are opaque
                if reporter is default_reporter and not report:
                    outcome.fail(f"evaluator {name}: a task raised")
                    ok = False
        if not ok and args.terminate_on_failure:
            rest = [later.entry.evaluator.eval_name for later in loaded[index + 1:]]
            if rest:
                eprint(f"braintrust eval: stopping at the first failure (--terminate-on-failure); not run: {', '.join(rest)}")
            outcome.stopped = True
            break
    for reporter, its_reports in reports.values():
        try:
            passed = _call(reporter.report_run, results=its_reports, verbose=args.verbose, jsonl=args.jsonl)
        except (KeyboardInterrupt, BrokenPipeError):
            raise
        except Exception as exc:
            eprint(f"braintrust eval: reporter {reporter.name!r} failed in report_run:")
            eprint(_user_traceback(exc, True))
            outcome.fail(f"reporter {reporter.name}")
            continue
        if not passed and reporter is not default_reporter:  # (the default one's failures are counted above)
            outcome.fail(f"reporter {reporter.name!r}: report_run returned {passed!r}")


def _flush_after_interrupt() -> None:
    from braintrust.delivery import runtime

    if getattr(runtime, "_processor", None) is None:
        return
    try:
        runtime.flush(timeout=10)
    except KeyboardInterrupt:  # a second Ctrl-C: the flush spilled what it had not sent yet
        eprint("braintrust eval: interrupted again; the rows not sent yet were spilled")
    except BaseException as exc:  # a failed flush: we are leaving anyway
        eprint(f"braintrust eval: flush after interrupt failed: {exc!r}")


def _paths(args: argparse.Namespace) -> list[str]:
    """The paths given, or the current folder (as 0.48.1's ``braintrust eval`` with none)."""
    return list(args.paths or []) + list(getattr(args, "extra_paths", None) or []) or ["."]


def _check_usage(args: argparse.Namespace) -> None:
    """The usage errors a run would find in its paths and ``--env-file`` (``UsageError``)."""
    if args.env_file:
        read_env_file(args.env_file)
    find_eval_files(_paths(args))


def run(args: argparse.Namespace) -> int:
    """The command, with parsed arguments. Raises ``UsageError``."""
    paths = _paths(args)
    if args.env_file:
        load_env_file(args.env_file)
    _apply_credentials(args)
    files, hints = find_eval_files(paths)
    put_working_folder_on_path()
    for hint in hints:
        eprint(hint)
    outcome = _Outcome()
    if not files:
        eprint(f"braintrust eval: no evaluators found: no {EVAL_FILE_PATTERN} files in {', '.join(paths)}")
        return EXIT_FAILED
    loaded, defined_reporters = _load(files, args, outcome)
    if outcome.stopped:
        return EXIT_FAILED
    if not loaded:
        imported = len(files) - sum(1 for failure in outcome.failures if failure.startswith("import of "))
        if imported:  # (when no file imported, the import errors above say it all)
            eprint(
                f"braintrust eval: no evaluators found in {imported} file{'s' if imported != 1 else ''}"
                + (" that imported" if imported < len(files) else "")
                + "; an eval file must call Eval(...) (or EvalAsync(...)) when it is imported"
            )
        return EXIT_FAILED
    if args.list:
        _list(loaded, args.jsonl)
        return EXIT_FAILED if outcome.failures else EXIT_OK
    if args.dev:
        return _serve(loaded, args, outcome)
    if args.num_workers:
        # One pool for every evaluator (run_evaluator(num_workers=) would start a pool per evaluator).
        from braintrust.eval.threads import set_thread_pool_max_workers

        set_thread_pool_max_workers(args.num_workers)
    _run_all(loaded, defined_reporters, args, outcome)
    if outcome.failures:
        eprint(f"braintrust eval: failed ({'; '.join(outcome.failures)})")
        return EXIT_FAILED
    return EXIT_OK


def _serve(loaded: list[_Loaded], args: argparse.Namespace, outcome: _Outcome) -> int:
    """``--dev``: serve the evaluators until Ctrl-C (not when a file failed to import: the
    playground would see some evaluators missing without knowing why)."""
    if outcome.failures:
        eprint(f"braintrust eval: not starting the dev server ({'; '.join(outcome.failures)})")
        return EXIT_FAILED
    from braintrust.devserver.server import serve

    evaluators = {item.entry.evaluator.eval_name: item.entry.evaluator for item in loaded}
    try:
        serve(evaluators, host=args.dev_host, port=args.dev_port, org_name=args.dev_org_name)
    except OSError as exc:
        eprint(f"braintrust eval: the dev server cannot listen on {args.dev_host}:{args.dev_port} ({exc.strerror or exc}); "
               "pass another --dev-port (or --dev-host)")
        return EXIT_FAILED
    return EXIT_OK


def cmd_eval(args: argparse.Namespace) -> int:
    if args.dev and (args.watch or args.list):
        eprint(f"usage: braintrust eval [options] PATH...\nbraintrust eval: error: --dev cannot be combined with {'--watch' if args.watch else '--list'}")
        return EXIT_USAGE
    if args.watch:
        from braintrust.cli.watch import watch, without_watch

        try:  # (no change to a watched file can fix these: say so now rather than watch forever)
            _check_usage(args)
        except UsageError as exc:
            eprint(f"usage: braintrust eval [options] PATH...\nbraintrust eval: error: {exc}")
            return EXIT_USAGE
        return watch(without_watch(args.argv or []), _paths(args))
    try:
        return run(args)
    except UsageError as exc:
        eprint(f"usage: braintrust eval [options] PATH...\nbraintrust eval: error: {exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        eprint("\nbraintrust eval: interrupted; flushing what already ran")
        _flush_after_interrupt()
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the output was closed early (``| head``): what ran is still sent, then exit 141
        _flush_after_interrupt()
        raise
