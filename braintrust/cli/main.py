"""The ``braintrust`` command.

``braintrust eval PATH...``           run the evaluators of eval files (see ``eval_command``; ``--watch``: ``watch``)
``braintrust list``                   what the local store holds (projects, experiments, datasets, logs)
``braintrust experiments [P]``        the newest experiments (of project P) with rows and score averages, newest last
``braintrust show P [E]``             the traces of one experiment (default: P's newest) as a tree
                                      (``--case TEXT``, ``--errors``: only some of them; ``--limit N``);
                                      ``show E``, ``compare E``: experiment E (a name no project has), in its project
``braintrust logs P [--last N]``      the last N traces of project P's logs as trees
``braintrust dataset P D [--version V]``  dataset D's records (as of version V)
``braintrust compare P [E [BASE]]``   E's (default: P's newest) summary compared with BASE (default: its base, else the last run of the same cases)
``braintrust prune [P] --keep N``     delete all but the N newest experiments of each project (of P)
``braintrust replay [DIR]``           send spilled rows and attachments (default: the local store's ``spill/``)
``braintrust attachment KEY [-o F]``  an attachment's bytes from the local store (KEY: as ``show`` prints it)
``braintrust gate P E --fail-under``  E's summary judged by quality gates (exit 10 when one fails)

``--last N`` / ``--limit N`` (``show``, ``experiments``, ``logs``, ``dataset``): 0 means all of them.

Exit status: 0 done; 1 failed (nothing to show, a lookup failed, ``eval`` failures); 2 usage
error; 10 a quality gate failed (``gate``); 130 interrupted; 141 the output was closed early (``| head``).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import shlex
import sys
from pathlib import Path
from typing import Any, Callable, Sequence


#: The end of ``braintrust --help``.
EXIT_STATUSES = ("Exit status: 0 done; 1 failed (nothing to show, a lookup failed, `eval` failures); 2 usage error; "
                 "10 a quality gate failed (`gate`); 130 interrupted; 141 the output was closed early (`| head`). "
                 "`braintrust COMMAND --help` tells more.")
#: How many experiments ``braintrust experiments`` lists unless told (the newest).
EXPERIMENTS_SHOWN = 20
#: How many traces ``braintrust show`` prints unless told (the first).
TRACES_SHOWN = 50
#: ``show``'s and ``compare``'s first argument (see ``store_commands.named_experiment``).
PROJECT_OR_EXPERIMENT = ("name or id (default: the project of the store's newest experiment); alone, an "
                         "experiment's name or id also works, if no project has that name")


def _store(args: argparse.Namespace):
    from braintrust.store.location import database_for_commands
    from braintrust.store.sqlite_store import LocalStore

    path = _database_in(Path(args.store).expanduser()) if args.store else database_for_commands()
    if not path.exists():
        from braintrust.store.connection import file_in_the_way

        blocker = file_in_the_way(path.parent)
        if blocker is not None:
            print(f"braintrust: no local store at {path}: {blocker} is a file, not a folder; point --store "
                  "(or BRAINTRUST_LOCAL_DIR) at the store's folder or its database file.", file=sys.stderr)
            return None
        below = [] if args.store else _stores_below(Path.cwd())
        again = getattr(args, "argv", None) or [args.command]
        hint = "".join(
            f"\n  found one below: `braintrust {shlex.join([*again, '--store', os.path.relpath(found.parent)])}`" for found in below
        )
        print(
            f"braintrust: no local store at {path}. Run an eval or a logger without BRAINTRUST_API_KEY "
            f"first, or point --store (or BRAINTRUST_LOCAL_DIR) at one.{hint}",
            file=sys.stderr,
        )
        return None
    if path.is_file() and path.stat().st_size == 0:  # (SQLite would make it a store: a read would write it)
        print(f"braintrust: {path} is an empty file, not a local store; point --store (or BRAINTRUST_LOCAL_DIR) at "
              "the store's folder or its database file.", file=sys.stderr)
        return None
    return LocalStore(path)


def _database_in(path: Path) -> Path:
    """The database ``--store PATH`` names: the file PATH, else the store in the folder PATH, or
    in the project folder PATH's ``.braintrust/`` (where pytest ran: ``--store .``)."""
    if not path.is_dir():
        return path
    inside = path / ".braintrust" / "braintrust.sqlite"
    return inside if not (path / "braintrust.sqlite").exists() and inside.exists() else path / "braintrust.sqlite"


def _seconds(text: str) -> float:
    """An argparse type: a number of seconds above 0."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0, got {text!r}")
    return value


def _stores_below(folder: Path, limit: int = 3) -> list[Path]:
    """Stores in the folders just below ``folder`` (pytest puts one in the rootdir of a suite
    run from above it, e.g. ``pytest example_project``)."""
    found: list[Path] = []
    for pattern in ("*/.braintrust/braintrust.sqlite", "*/*/.braintrust/braintrust.sqlite"):
        try:
            found += sorted(folder.glob(pattern))
        except OSError:
            break
    return found[:limit]


def _spill_folders_elsewhere(searched: Path) -> list[Path]:
    """Folders holding spill files that a bare ``braintrust replay``, which read ``searched``,
    does not: the spill folders of ``.braintrust`` folders just below (pytest put a suite's store
    in its rootdir), and the private one rows spill to when the configured one cannot be written."""
    from braintrust.delivery.replay import spill_files
    from braintrust.delivery.spill import fallback_spill_dir

    candidates = [folder for pattern in ("*/.braintrust/spill", "*/*/.braintrust/spill")
                  for folder in sorted(Path.cwd().glob(pattern))] + [fallback_spill_dir()]
    return [folder for folder in candidates
            if folder.resolve() != searched.resolve() and folder.is_dir() and spill_files(folder)]


def _relative_below_cwd(path: Path) -> str:
    """``path`` relative to the current folder when it is inside it, else as it is (also when
    they are on different Windows drives, where ``relpath`` raises ``ValueError``)."""
    try:
        shown = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if shown.startswith("..") else shown


def _read_store(args: argparse.Namespace, read: Callable[[Any], int | None], errors: tuple[type, ...] = (LookupError,)) -> int:
    """Open the store the arguments name, run ``read(store)``, close it: exit 1 when there is no
    store or ``read`` raises one of ``errors`` (its message is the error)."""
    store = _store(args)
    if store is None:
        return 1
    import sqlite3

    try:
        return int(read(store) or 0)
    except BrokenPipeError:  # (an OSError, but no error of the read: ``main`` stops quietly)
        raise
    except errors as exc:
        print(f"braintrust: {exc}", file=sys.stderr)
        return 1
    except sqlite3.DatabaseError as exc:  # found while reading (opening names the file itself)
        if type(exc) is sqlite3.DatabaseError:  # "database disk image is malformed"
            print(f"braintrust: {store.path} cannot be read as a Braintrust store ({exc}): it is damaged; move it "
                  "aside (a new store is then made in its place) or set BRAINTRUST_LOCAL_DIR to another folder.",
                  file=sys.stderr)
        else:
            print(f"braintrust: the local Braintrust store {store.path}: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()


def cmd_list(args: argparse.Namespace) -> int:
    from braintrust.cli.store_commands import list_store

    return _read_store(args, lambda store: list_store(store, sys.stdout))


def cmd_show(args: argparse.Namespace) -> int:
    from braintrust.cli.store_commands import show_experiment

    return _read_store(args, lambda store: show_experiment(store, args.project, args.experiment, sys.stdout,
                                                           case=args.case, errors_only=args.errors, limit=args.limit))


def cmd_logs(args: argparse.Namespace) -> int:
    from braintrust.cli.store_commands import show_logs

    return _read_store(args, lambda store: show_logs(store, args.project, args.last, sys.stdout))


def cmd_dataset(args: argparse.Namespace) -> int:
    from braintrust.cli.store_commands import show_dataset

    # (ValueError: a --version that is no version)
    return _read_store(args, lambda store: show_dataset(store, args.project, args.dataset, args.version, args.limit, sys.stdout),
                       errors=(LookupError, ValueError))


def cmd_experiments(args: argparse.Namespace) -> int:
    from braintrust.cli.compare_command import list_experiments

    return _read_store(args, lambda store: list_experiments(store, args.project, sys.stdout, as_json=args.json, last=args.last))


def cmd_compare(args: argparse.Namespace) -> int:
    from braintrust.cli.compare_command import compare

    return _read_store(args, lambda store: compare(store, args.project, args.experiment, args.base, sys.stdout, sys.stderr, as_json=args.json))


def cmd_prune(args: argparse.Namespace) -> int:
    from braintrust.cli.prune_command import prune

    return _read_store(args, lambda store: prune(store, args.project, args.keep, args.dry_run, sys.stdout, sys.stderr))


def cmd_attachment(args: argparse.Namespace) -> int:
    from braintrust.cli.attachment_command import default_streams, save_attachment

    out, is_terminal = default_streams()
    return _read_store(args, lambda store: save_attachment(store, args.key, args.output, out, sys.stderr, is_terminal),
                       errors=(LookupError, OSError))


def cmd_replay(args: argparse.Namespace) -> int:
    from braintrust.delivery.replay import replay, spill_files
    from braintrust.store.location import DATABASE_FILENAME, spill_dir_for_commands

    directory = Path(args.directory).expanduser() if args.directory else spill_dir_for_commands()
    if args.directory and not directory.is_dir():  # (the default folder exists once a row spilled)
        what = "is not a folder" if directory.exists() else "does not exist"
        print(f"braintrust replay: {directory} {what}; give the spill folder that a warning or a pytest "
              "summary named (default: the local store's spill/)", file=sys.stderr)
        return 2
    if not directory.is_dir() or not spill_files(directory):
        print(f"braintrust: nothing to replay in {directory}")
        if not args.directory:
            for waiting in _spill_folders_elsewhere(directory):
                shown = _relative_below_cwd(waiting)
                print(f"  spill files are waiting in {waiting}: `braintrust replay {shlex.quote(shown)}`")
        return 0
    store = None
    if args.store:
        # (as the other commands read it; a folder with no store yet gets one)
        store = Path(args.store).expanduser()
        store = _database_in(store) if store.is_dir() or store.suffix == ".sqlite" else store / DATABASE_FILENAME
    try:
        result = replay(directory, timeout_seconds=args.timeout, store=store)
    except KeyboardInterrupt:  # (files are rewritten atomically after each batch: nothing is half-done)
        print(f"braintrust replay: interrupted; the rows not sent yet stay in {directory}: run it again to send them",
              file=sys.stderr)
        return 130
    print(
        f"braintrust: replayed {result.rows_sent} rows from {result.files_done} of {result.files} spill files"
        + (f" (into the local store {', '.join(sorted(result.stores_written))})" if result.stores_written else "")
        + (f" and {result.attachments_sent} attachments" if result.attachments_sent else "")
        + (f"; {result.objects_created} object{'s' if result.objects_created != 1 else ''} registered (found, or created once): "
           + ", ".join(result.registered) if result.objects_created else "")
        + (f"; {result.rows_failed} rows failed again and stay in {directory}" if result.rows_failed else "")
        + (f"; {result.attachments_failed} attachments failed again and stay in {directory}" if result.attachments_failed else "")
    )
    for error in result.errors:
        print(f"  {error}", file=sys.stderr)
    if result.unusable_stores and store is None:
        print(f"  (rows for a local store that cannot be written go to another with `braintrust replay {directory} --store FOLDER`)",
              file=sys.stderr)
    return 0 if not result.rows_failed and not result.attachments_failed and not result.errors else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="braintrust", description="pytest-braintrust's Braintrust SDK command line.", epilog=EXIT_STATUSES,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    parser.commands = sub.choices  # (``parse_arguments`` names the command in a usage error)

    from braintrust.cli.eval_command import add_eval_arguments, count, positive_int

    add_eval_arguments(sub.add_parser("eval", help="run the evaluators defined in eval files (eval_*.py)"))

    list_parser = sub.add_parser("list", help="list what the local store holds")
    list_parser.add_argument("--store", help="store folder, the project folder holding it, or database file (default: .braintrust/ in the project root)")
    list_parser.set_defaults(func=cmd_list)

    show_parser = sub.add_parser("show", help="show one experiment's traces from the local store")
    show_parser.add_argument("project", nargs="?", help=PROJECT_OR_EXPERIMENT)
    show_parser.add_argument("experiment", nargs="?", help="name or id (default: the project's newest)")
    show_parser.add_argument("--case", metavar="TEXT", help="only the traces whose name (a test id) or input contains TEXT, ignoring case")
    show_parser.add_argument("--errors", action="store_true", help="only the traces that ended with an error (failed cases)")
    show_parser.add_argument("--limit", type=count, default=TRACES_SHOWN, metavar="N",
                             help=f"at most N traces, the first ones (default {TRACES_SHOWN}; 0: all of them)")
    show_parser.add_argument("--store", help="store folder or database file")
    show_parser.set_defaults(func=cmd_show)

    dataset_parser = sub.add_parser("dataset", help="a dataset's records from the local store")
    dataset_parser.add_argument("project", help="name or id")
    dataset_parser.add_argument("dataset", help="name or id")
    dataset_parser.add_argument("--version", help="as of this version (default: the current one)")
    dataset_parser.add_argument("--limit", type=count, default=50, metavar="N", help="how many records (default 50; 0: all of them)")
    dataset_parser.add_argument("--store", help="store folder or database file")
    dataset_parser.set_defaults(func=cmd_dataset)

    logs_parser = sub.add_parser("logs", help="the last traces of a project's logs from the local store")
    logs_parser.add_argument("project", help="name or id")
    logs_parser.add_argument("--last", type=count, default=20, metavar="N", help="how many traces (default 20; 0: all of them)")
    logs_parser.add_argument("--store", help="store folder or database file")
    logs_parser.set_defaults(func=cmd_logs)

    experiments_parser = sub.add_parser("experiments", help="list experiments with their rows and score averages")
    experiments_parser.add_argument("project", nargs="?", help="only this project (name or id)")
    experiments_parser.add_argument("--json", action="store_true", help="machine-readable output")
    experiments_parser.add_argument(
        "--last", type=count, default=EXPERIMENTS_SHOWN, metavar="N",
        help=f"only the N newest experiments (default {EXPERIMENTS_SHOWN}; 0: all of them)",
    )
    experiments_parser.add_argument("--store", help="store folder or database file")
    experiments_parser.set_defaults(func=cmd_experiments)

    compare_parser = sub.add_parser("compare", help="compare an experiment with a base experiment from the local store")
    compare_parser.add_argument("project", nargs="?", help=PROJECT_OR_EXPERIMENT)
    compare_parser.add_argument("experiment", nargs="?", help="name or id (default: the project's newest)")
    compare_parser.add_argument("base", nargs="?", help="default: the experiment's base experiment, else the last run of the same cases")
    compare_parser.add_argument("--json", action="store_true", help="the summary as JSON")
    compare_parser.add_argument("--store", help="store folder or database file")
    compare_parser.set_defaults(func=cmd_compare)

    from braintrust.cli.gate_command import add_gate_parser

    add_gate_parser(sub)

    prune_parser = sub.add_parser("prune", help="delete old experiments from the local store, keeping the newest of each project")
    prune_parser.add_argument("project", nargs="?", help="only this project (name or id)")
    prune_parser.add_argument("--keep", type=positive_int, required=True, metavar="N", help="how many of the newest experiments to keep")
    prune_parser.add_argument("--dry-run", action="store_true", help="only list what would be deleted")
    prune_parser.add_argument("--store", help="store folder or database file")
    prune_parser.set_defaults(func=cmd_prune)

    attachment_parser = sub.add_parser("attachment", help="an attachment's bytes from the local store")
    attachment_parser.add_argument("key", help="the attachment's key, or its first characters (as `braintrust show` prints them)")
    attachment_parser.add_argument("-o", "--output", metavar="FILE", help="write the bytes here (a folder: under the attachment's file name)")
    attachment_parser.add_argument("--store", help="store folder or database file")
    attachment_parser.set_defaults(func=cmd_attachment)

    replay_parser = sub.add_parser("replay", help="send rows that were spilled to disk")
    replay_parser.add_argument("directory", nargs="?", help="spill folder (default: the local store's spill/)")
    replay_parser.add_argument("--timeout", type=_seconds, default=60.0, help="seconds to spend at most (default 60)")
    replay_parser.add_argument("--store", metavar="FOLDER",
                               help="send rows that were going to a local store to the store in FOLDER instead "
                                    "(theirs could not be written); their projects and experiments are found or made there by name")
    replay_parser.set_defaults(func=cmd_replay)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from braintrust.cli.terminal import escaped_controls, never_fail_to_encode

    arguments = list(sys.argv[1:] if argv is None else argv)
    never_fail_to_encode()
    is_eval = bool(arguments) and arguments[0] == "eval"
    if is_eval:
        # Its own parser, so that options may come after paths (``eval_a.py --jsonl eval_b.py``).
        from braintrust.cli.eval_command import build_eval_parser

        args = build_eval_parser().parse_intermixed_args(arguments[1:])
        args.argv = arguments[1:]  # (``--watch`` runs the same command again)
    else:
        args = parse_arguments(build_parser(), arguments)
        args.argv = arguments  # (to repeat the command with --store, when the store is elsewhere)
    import sqlite3

    from braintrust.store.connection import StoreError

    # (``eval`` prints what the eval files print, as 0.48.1 does; JSON escapes its own characters)
    escaping = not is_eval and getattr(args, "json", None) is not True
    try:
        with escaped_controls() if escaping else contextlib.nullcontext():
            return int(args.func(args) or 0)
    except (StoreError, sqlite3.DatabaseError) as exc:  # a damaged or foreign store file, a newer schema
        print(f"braintrust: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader went away (``| head``, a pager quit): stop quietly, as Unix tools do
        _discard_stdout()
        return BROKEN_PIPE_EXIT
    except OSError as exc:
        if exc.filename is None:
            raise
        # A path given that cannot even be looked at (too long a name, a folder on the way not readable).
        shown = str(exc.filename)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        print(f"braintrust: cannot look at {shown!r}: {exc.strerror or exc}; check the path given.", file=sys.stderr)
        return 2 if exc.errno == errno.ENAMETOOLONG else 1
    except KeyboardInterrupt:  # Ctrl-C (a command that must tidy up, ``eval``, ``replay``, catches its own)
        print("braintrust: interrupted", file=sys.stderr)
        return INTERRUPTED_EXIT


def parse_arguments(parser: argparse.ArgumentParser, arguments: list[str]) -> argparse.Namespace:
    """``parser.parse_args``, but an unknown option is reported with its command's usage line
    (argparse's shows the top level's), and a command of 0.48.1's CLI that is not here says so."""
    if arguments and arguments[0] in NOT_HERE:
        parser.error(f"there is no `braintrust {arguments[0]}` here: {NOT_HERE[arguments[0]]}")
    args, unknown = parser.parse_known_args(arguments)
    if unknown:
        command = parser.commands[args.command]
        command.error(f"unrecognized arguments: {' '.join(unknown)} (see `{command.prog} --help`)")
    return args


#: 0.48.1's commands that pytest-braintrust does not have, with what to do instead.
NOT_HERE = {
    "push": "pytest-braintrust does not bundle code for Braintrust's runtime; push functions with the "
            "public SDK's `braintrust push` (pip install braintrust, in another environment)",
    "install": "pytest-braintrust does not set up cloud resources; use the public SDK's `braintrust install` "
               "(pip install 'braintrust[cli]', in another environment)",
}
#: 128 + SIGINT: what a shell reports for a command Ctrl-C stopped.
INTERRUPTED_EXIT = 130


#: 128 + SIGPIPE: what a shell reports for a tool its pipe's reader closed.
BROKEN_PIPE_EXIT = 141


def _discard_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush of it does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real stdout to replace
        pass


if __name__ == "__main__":
    sys.exit(main())
