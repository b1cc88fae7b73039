"""``python -m bot.console``: staff accounts, the case queue in a terminal, exports, and the web server.

    python -m bot.console users add NAME [--password-stdin]
    python -m bot.console users list
    python -m bot.console cases list [--status open --status with_bank] [--kind …] [--search …]
    python -m bot.console cases show WS-20261125-0001
    python -m bot.console export --format csv [--what transcripts] [--output FILE] [filters]
    python -m bot.console serve [--host 127.0.0.1] [--port 5002]

Data locations come from ``CASE_STORE_URL`` and ``TRACKER_DB_URL``, as for the web app.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from bot.cases import KINDS, STATUSES
from bot.checklist import build_checklist, render_text
from bot.console.auth import AccountError, StaffAuth
from bot.console.exporting import FORMATS, WHAT, export_chunks
from bot.console.rendering import environment
from bot.console.settings import Settings
from bot.console.store import CaseFilter, ConsoleStore
from bot.console.transcripts import TrackerReader


def _actor() -> str:
    return f"cli:{os.environ.get('USER') or 'unknown'}"


def _add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--status", action="append", choices=STATUSES, default=[], help="repeat for several")
    parser.add_argument("--kind", choices=KINDS)
    parser.add_argument("--bank")
    parser.add_argument("--channel")
    parser.add_argument("--since", help="opened on or after YYYY-MM-DD")
    parser.add_argument("--until", help="opened on or before YYYY-MM-DD")
    parser.add_argument("--search", help="case id, card last 4 digits or merchant")
    parser.add_argument("--tag")


def _case_filter(args: argparse.Namespace) -> CaseFilter:
    params = {
        "status": args.status,
        **{
            name: [value]
            for name, value in (
                ("kind", args.kind),
                ("bank", args.bank),
                ("channel", args.channel),
                ("since", args.since),
                ("until", args.until),
                ("q", args.search),
                ("tag", args.tag),
            )
            if value
        },
    }
    return CaseFilter.from_params(params)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m bot.console", description="误刷助手 staff console")
    commands = root.add_subparsers(dest="command", required=True)

    users = commands.add_parser("users", help="staff accounts").add_subparsers(
        dest="users_command", required=True
    )
    add = users.add_parser("add", help="create a staff account (prompts for the password)")
    add.add_argument("name")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    users.add_parser("list", help="list staff accounts")

    cases = commands.add_parser("cases", help="the case queue").add_subparsers(
        dest="cases_command", required=True
    )
    listing = cases.add_parser("list", help="list cases, newest first")
    _add_filter_arguments(listing)
    listing.add_argument("--limit", type=int, default=50)
    show = cases.add_parser("show", help="a case with its checklist and transcript")
    show.add_argument("case_id")

    export = commands.add_parser("export", help="cases or transcripts as CSV or JSON")
    export.add_argument("--format", choices=FORMATS, required=True)
    export.add_argument("--what", choices=WHAT, default="cases")
    export.add_argument("--output", help="file to write (default: standard output)")
    _add_filter_arguments(export)

    serve = commands.add_parser("serve", help="run the web console")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=5002)
    return root


def _read_password(from_stdin: bool, stdin: TextIO) -> str:
    if from_stdin:
        return stdin.readline().rstrip("\r\n")
    password = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != password:
        raise AccountError("the passwords differ")
    return password


def main(argv: Sequence[str] | None = None, *, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> int:
    args = parser().parse_args(argv)
    settings = Settings.from_env()
    if args.command == "serve":
        from bot.console.app import create_app  # Sanic only when serving

        print(f"Staff console: http://{args.host}:{args.port}/", file=stdout, flush=True)
        create_app(settings).run(host=args.host, port=args.port, access_log=False, motd=False)
        return 0
    store, tracker = ConsoleStore(settings.case_db), TrackerReader(settings.tracker_db)
    try:
        return _command(args, settings, store, tracker, stdin, stdout)
    finally:
        store.close()
        tracker.close()


def _command(
    args: argparse.Namespace,
    settings: Settings,
    store: ConsoleStore,
    tracker: TrackerReader,
    stdin: TextIO,
    stdout: TextIO,
) -> int:
    text = environment(html=False)
    if args.command == "users":
        auth = StaffAuth(store.db, settings)
        if args.users_command == "list":
            print("\n".join(auth.usernames()), file=stdout)
            return 0
        try:
            auth.add_user(args.name, _read_password(args.password_stdin, stdin))
        except AccountError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        store.audit(_actor(), "user_added", detail={"username": args.name})
        print(f"Created staff account {args.name}.", file=stdout)
        return 0
    if args.command == "cases" and args.cases_command == "list":
        page = store.queue(_case_filter(args), limit=args.limit)
        print(text.get_template("cli/cases.txt").render(page=page).rstrip(), file=stdout)
        return 0
    if args.command == "cases":
        case = store.cases.get(args.case_id)
        if case is None:
            print(f"error: no case {args.case_id}", file=sys.stderr)
            return 1
        transcript = tracker.transcript(case.sender_id)
        rendered = text.get_template("cli/case.txt").render(
            case=case, checklist_text=render_text(build_checklist(case)), transcript=transcript
        )
        print(rendered.rstrip(), file=stdout)
        return 0
    case_filter = _case_filter(args)
    store.audit(
        _actor(),
        "exported",
        detail={"what": args.what, "format": args.format, "filter": case_filter.params()},
    )
    chunks = export_chunks(store, tracker, case_filter, args.what, args.format)
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="") as handle:
            handle.writelines(chunks)
    else:
        stdout.writelines(chunks)
    return 0
