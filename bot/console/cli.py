"""``python -m bot.console``: staff accounts, the case queue in a terminal, exports, and the web server.

    python -m bot.console users add NAME [--role agent|admin] [--password-stdin]
    python -m bot.console users list
    python -m bot.console users passwd NAME [--password-stdin]     # ends NAME's sessions
    python -m bot.console users role NAME admin|agent
    python -m bot.console users disable NAME | enable NAME        # disabling ends NAME's sessions
    python -m bot.console users revoke-sessions NAME
    python -m bot.console cases list [--status open --status with_bank] [--kind …] [--search …]
    python -m bot.console cases show WS-20261125-0001
    python -m bot.console export --format csv [--what transcripts] [--output FILE] [filters]
    python -m bot.console erase --conversation ID | --case WS-… [--by NAME] [--reason TEXT]  # Rasa stopped
    python -m bot.console purge [--dry-run] [--older-than-days N]   # default RETENTION_DAYS, else 180
    python -m bot.console serve [--host 127.0.0.1] [--port 5002]

Data locations come from ``CASE_STORE_URL`` and ``TRACKER_DB_URL``, as for the web app.
Every change to an account, every case shown and every export is in the audit log, by
``cli:$USER`` (an export with the file it wrote). A file the export writes is
readable by its owner only (0600), whatever the umask.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from bot.console import params
from bot.console.auth import STAFF_ROLES, AccountError, StaffAuth
from bot.console.exporting import FORMATS, WHAT, audit_detail, export_chunks, write_private
from bot.console.params import BadParameter
from bot.console.rendering import environment
from bot.console.settings import Settings
from bot.console.store import CaseFilter, ConsoleStore
from bot.console.transcripts import TrackerReader
from bot.domain.cases import KINDS, STATUSES
from bot.domain.checklist import build_checklist, render_text
from bot.storage import erasure
from bot.storage.redis_state import redis_url_from_env, sync_client

MAX_LIMIT = 1000


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
    add.add_argument(
        "--role", choices=STAFF_ROLES, default="agent", help="admin: also exports and manages staff"
    )
    _add_password_argument(add)
    users.add_parser("list", help="list staff accounts with their role, state and live sessions")
    passwd = users.add_parser("passwd", help="set a new password (prompts for it); ends the user's sessions")
    passwd.add_argument("name")
    _add_password_argument(passwd)
    role = users.add_parser("role", help="make a staff member an admin or an agent")
    role.add_argument("name")
    role.add_argument("role", choices=STAFF_ROLES)
    for command, description in (
        ("disable", "stop an account from signing in, and end its sessions now"),
        ("enable", "let a disabled account sign in again"),
        ("revoke-sessions", "sign a staff member out everywhere"),
    ):
        users.add_parser(command, help=description).add_argument("name")

    cases = commands.add_parser("cases", help="the case queue").add_subparsers(
        dest="cases_command", required=True
    )
    listing = cases.add_parser("list", help="list cases, newest first")
    _add_filter_arguments(listing)
    listing.add_argument("--limit", type=_limit, default=50, help=f"1 to {MAX_LIMIT}")
    show = cases.add_parser("show", help="a case with its checklist and transcript")
    show.add_argument("case_id")

    export = commands.add_parser("export", help="cases or transcripts as CSV or JSON")
    export.add_argument("--format", choices=FORMATS, required=True)
    export.add_argument("--what", choices=WHAT, default="cases")
    export.add_argument("--output", help="file to write (default: standard output)")
    _add_filter_arguments(export)

    erase = commands.add_parser(
        "erase",
        help="erase a conversation's personal data (case facts, events, notes, transcript, Redis keys)",
        description="For operators, while the Rasa servers are stopped: the live path (the user's "
        "删除我的信息, the console) erases through the Rasa server under the conversation's lock, "
        "so that a turn in flight cannot write the transcript back. Each case is kept as a tombstone.",
    )
    target = erase.add_mutually_exclusive_group(required=True)
    target.add_argument("--conversation", help="the conversation's id (web:…, wechat:…, rest:…)")
    target.add_argument("--case", help="a case id: erases the whole conversation it belongs to")
    erase.add_argument("--by", help="who asked: 'user' or a staff name (default: cli:$USER)")
    erase.add_argument("--reason", default="operator_request")
    purge = commands.add_parser(
        "purge", help="erase conversations whose cases all closed, and which stayed silent, N days ago"
    )
    purge.add_argument("--dry-run", action="store_true", help="list the cases it would erase; change nothing")
    purge.add_argument("--older-than-days", type=int, help="default: RETENTION_DAYS, else 180")

    serve = commands.add_parser("serve", help="run the web console")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=5002)
    return root


def _limit(text: str) -> int:
    """As strict as the web console's numbers: ``int`` would take ``-1`` (every row) and ``３``."""
    try:
        limit = params.integer(text, "limit", maximum=MAX_LIMIT)
    except params.BadParameter:
        limit = None
    if limit is None:
        raise argparse.ArgumentTypeError(f"a whole number from 1 to {MAX_LIMIT}")
    return limit


def _add_password_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--password-stdin", action="store_true", help="read the password from standard input")


def _read_password(from_stdin: bool, stdin: TextIO) -> str:
    if from_stdin:
        return stdin.readline().rstrip("\r\n")
    password = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != password:
        raise AccountError("bad_password", "the passwords differ")
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
        if args.command == "users":
            return _users(args, StaffAuth(store.db, settings), stdin, stdout)
        return _command(args, store, tracker, stdout)
    except AccountError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except BadParameter as error:
        described = environment(html=False).from_string(
            '{% import "_bad_parameter.html" as parameter %}{{ parameter.describe(error) }}'
        )
        print(f"error: --{error.name}: {described.render(error=error)}", file=sys.stderr)
        return 2
    finally:
        store.close()
        tracker.close()


def _users(args: argparse.Namespace, auth: StaffAuth, stdin: TextIO, stdout: TextIO) -> int:
    """Raises ``AccountError`` for an unknown user, a bad password or role, or the last admin."""
    command, name, by = args.users_command, getattr(args, "name", None), _actor()
    if command == "list":
        for user in auth.users():
            state = "disabled" if user.disabled else "enabled"
            print(f"{user.username:<32} {user.role:<6} {state:<9} {user.sessions} session(s)", file=stdout)
        return 0
    if command == "add":
        auth.add_user(name, _read_password(args.password_stdin, stdin), role=args.role, by=by)
        print(f"Created staff account {name} ({args.role}).", file=stdout)
        if not any(user.role == "admin" and not user.disabled for user in auth.users()):
            print("No admin yet: add one with --role admin to export data and manage staff.", file=stdout)
    elif command == "passwd":
        ended = auth.set_password(name, _read_password(args.password_stdin, stdin), by=by)
        print(f"Changed the password of {name}; ended {ended} session(s).", file=stdout)
    elif command == "role":
        changed = auth.set_role(name, args.role, by=by)
        print(f"{name} is {'now' if changed else 'already'} {args.role}.", file=stdout)
    elif command in ("disable", "enable"):
        changed = auth.set_disabled(name, command == "disable", by=by)
        print(f"{name} is {'now' if changed else 'already'} {command}d.", file=stdout)
    else:
        ended = auth.revoke_sessions(name, by=by)
        print(f"Ended {ended} session(s) of {name}.", file=stdout)
    return 0


def _command(args: argparse.Namespace, store: ConsoleStore, tracker: TrackerReader, stdout: TextIO) -> int:
    text = environment(html=False)
    if args.command == "cases" and args.cases_command == "list":
        page = store.queue(_case_filter(args), limit=args.limit)
        print(text.get_template("cli/cases.txt").render(page=page).rstrip(), file=stdout)
        return 0
    if args.command == "cases":
        case = store.cases.get(args.case_id)
        if case is None:
            print(f"error: no case {args.case_id}", file=sys.stderr)
            return 1
        store.record_view(_actor(), "case_viewed", case.case_id, case.sender_id)
        transcript = tracker.transcript(case.sender_id)
        rendered = text.get_template("cli/case.txt").render(
            case=case, checklist_text=render_text(build_checklist(case)), transcript=transcript
        )
        print(rendered.rstrip(), file=stdout)
        return 0
    if args.command in ("erase", "purge"):
        return _erase(args, store, tracker, stdout)
    case_filter = _case_filter(args)
    output = Path(args.output) if args.output else None
    store.audit(_actor(), "exported", detail=audit_detail(store, case_filter, args.what, args.format, output))
    chunks = export_chunks(store, tracker, case_filter, args.what, args.format)
    if output:
        write_private(output, chunks)
    else:
        stdout.writelines(chunks)
    return 0


def _erase(args: argparse.Namespace, store: ConsoleStore, tracker: TrackerReader, stdout: TextIO) -> int:
    if args.command == "purge":
        days = args.older_than_days or erasure.retention_days_from_env() or erasure.DEFAULT_RETENTION_DAYS
        report = erasure.purge_closed_cases(
            store.cases, tracker.location, older_than_days=days, dry_run=args.dry_run, by=_actor()
        )
        verb = "Would erase" if args.dry_run else "Erased"
        print(f"{verb} {report.conversations} conversation(s), {len(report.erased.case_ids)} case(s), "
              f"closed and silent since {report.cutoff:%Y-%m-%d %H:%M}.", file=stdout)  # fmt: skip
        for case_id in report.erased.case_ids if args.dry_run else ():
            print(case_id, file=stdout)
        _print_counts(report.erased, stdout)
        return 0
    by = args.by or _actor()
    if args.case:
        case = store.cases.get(args.case)
        if case is None:
            print(f"error: no case {args.case}", file=sys.stderr)
            return 1
        sender_id = case.sender_id
    else:
        sender_id = args.conversation
    report = erasure.erase_conversation(store.cases, sender_id, requested_by=by, reason=args.reason)
    report.counts["tracker_events"] = erasure.erase_tracker_events(tracker.location, sender_id)
    redis_url = redis_url_from_env()
    if redis_url:
        client = sync_client(redis_url)
        try:
            report.counts["redis_keys"] = erasure.erase_redis_state(client, sender_id)
        finally:
            client.close()
    print(f"Erased {len(report.case_ids)} case(s): {' '.join(report.case_ids) or '-'}", file=stdout)
    _print_counts(report, stdout)
    return 0


def _print_counts(report: erasure.ErasureReport, stdout: TextIO) -> None:
    for name, count in sorted(report.counts.items()):
        print(f"  {name:<24} {count}", file=stdout)
