"""``python -m bot.console``: accounts, the queue and a case in a terminal, exports."""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from console_support import PASSWORD, add_user, database_url, on_both_backends, open_mis_swipe

from bot.console.auth import StaffAuth
from bot.console.cli import main
from bot.console.settings import Settings
from bot.console.store import ConsoleStore
from bot.domain.cases import Facts
from bot.domain.knowledge import PROJECT_ROOT


@pytest.fixture(autouse=True)
def data_locations(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    monkeypatch.setenv("CASE_STORE_URL", database_url(settings.case_db))
    monkeypatch.setenv("TRACKER_DB_URL", database_url(settings.tracker_db))


def run(*argv: str, stdin: str = "") -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), stdin=io.StringIO(stdin), stdout=out)
    return code, out.getvalue()


@on_both_backends
def test_users_add_reads_the_password_and_refuses_a_twin(store: ConsoleStore, settings: Settings) -> None:
    assert run("users", "add", "alice", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n") == (
        0,
        "Created staff account alice (admin).\n",
    )
    auth = StaffAuth(store.db, settings)
    assert auth.login("alice", PASSWORD, "127.0.0.1").is_admin
    assert run("users", "add", "alice", "--password-stdin", stdin=PASSWORD + "\n")[0] == 1
    assert run("users", "add", "bob", "--password-stdin", stdin="short\n")[0] == 1
    assert run("users", "add", "bob", "--password-stdin", stdin=PASSWORD + "\n")[0] == 0
    code, listing = run("users", "list")
    assert code == 0 and listing.splitlines() == [
        f"{'alice':<32} admin  enabled   1 session(s)",
        f"{'bob':<32} agent  enabled   0 session(s)",
    ]
    entry = store.audit_log()[0]
    assert (entry.username, entry.action, entry.detail) == (
        f"cli:{os.environ.get('USER') or 'unknown'}",
        "user_added",
        {"username": "bob", "role": "agent"},
    )


def test_the_first_agent_is_told_that_there_is_no_admin_yet(store: ConsoleStore) -> None:
    code, out = run("users", "add", "carol", "--password-stdin", stdin=PASSWORD + "\n")
    assert code == 0 and "No admin yet" in out


@on_both_backends
def test_users_disable_enable_passwd_role_and_revoke_sessions(
    store: ConsoleStore, settings: Settings
) -> None:
    auth = add_user(store, settings, "alice")
    add_user(store, settings, "bob", role="agent")
    session = auth.login("bob", PASSWORD, "10.0.0.1")
    assert run("users", "disable", "bob") == (0, "bob is now disabled.\n")
    assert auth.session(session.token) is None
    assert run("users", "disable", "bob") == (0, "bob is already disabled.\n")
    assert run("users", "enable", "bob") == (0, "bob is now enabled.\n")
    session = auth.login("bob", PASSWORD, "10.0.0.2")
    assert run("users", "passwd", "bob", "--password-stdin", stdin="another long one\n") == (
        0,
        "Changed the password of bob; ended 1 session(s).\n",
    )
    assert auth.session(session.token) is None
    session = auth.login("bob", "another long one", "10.0.0.3")
    assert run("users", "role", "bob", "admin") == (0, "bob is now admin.\n")
    assert auth.session(session.token).is_admin
    assert run("users", "revoke-sessions", "bob") == (0, "Ended 1 session(s) of bob.\n")
    assert auth.session(session.token) is None
    assert run("users", "disable", "nobody")[0] == 1
    assert run("users", "passwd", "bob", "--password-stdin", stdin="short\n")[0] == 1
    assert run("users", "role", "alice", "agent")[0] == 0
    assert run("users", "role", "bob", "agent")[0] == 1  # the last admin
    actions = [(entry.action, entry.detail["username"]) for entry in store.audit_log()]
    assert actions[:7] == [
        ("role_changed", "alice"),
        ("sessions_revoked", "bob"),
        ("role_changed", "bob"),
        ("password_changed", "bob"),
        ("user_enabled", "bob"),
        ("user_disabled", "bob"),
        ("user_added", "bob"),
    ]


def test_users_passwd_prompts_twice_without_stdin(
    monkeypatch: pytest.MonkeyPatch, store: ConsoleStore, settings: Settings
) -> None:
    auth = add_user(store, settings, "alice")
    answers = iter(["a new long password", "a new long passwore"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    assert run("users", "passwd", "alice")[0] == 1
    answers = iter(["a new long password", "a new long password"])
    assert run("users", "passwd", "alice")[0] == 0
    assert auth.login("alice", "a new long password", "10.0.0.1") is not None


def test_users_add_prompts_twice_without_stdin(monkeypatch: pytest.MonkeyPatch, store: ConsoleStore) -> None:
    answers = iter([PASSWORD, "something else"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    assert run("users", "add", "carol")[0] == 1
    answers = iter([PASSWORD, PASSWORD])
    assert run("users", "add", "carol")[0] == 0


@on_both_backends
def test_cases_list_filters_like_the_queue(store: ConsoleStore, settings: Settings) -> None:
    case, _ = open_mis_swipe(store, settings)
    other = store.cases.open_case("s2", "wechat", "unauthorized", Facts(bank="招商银行"))
    store.set_status(other.case_id, "with_bank", "alice")
    code, listing = run("cases", "list")
    assert code == 0 and case.case_id in listing and other.case_id in listing and "共 2 件" in listing
    _, filtered = run("cases", "list", "--status", "with_bank")
    assert other.case_id in filtered and case.case_id not in filtered and "发卡行处理中" in filtered
    _, searched = run("cases", "list", "--search", "华联", "--kind", "misswipe")
    assert case.case_id in searched and other.case_id not in searched
    _, limited = run("cases", "list", "--limit", "1")
    assert "显示最新的 1 件" in limited
    for bad in ("-1", "0", "３", "1001", "9" * 40):
        with pytest.raises(SystemExit):  # argparse: a usage message, exit status 2
            run("cases", "list", "--limit", bad)


@on_both_backends
def test_cases_show_prints_facts_checklist_and_the_annotated_transcript(
    store: ConsoleStore, settings: Settings
) -> None:
    case, _ = open_mis_swipe(store, settings)
    code, shown = run("cases", "show", case.case_id.lower())
    assert code == 0
    for expected in (case.case_id, "华联超市", "3000元", "☐", "95588", "对话记录",
                     "用户 11-25 09:00：我在华联超市刷卡被重复扣款了3000元",
                     "[report_misswipe 0.97 merchant=华联超市",
                     "[utter_ask_bank]", "〔工商银行｜建设银行〕", "! 用户", "! 助手"):  # fmt: skip
        assert expected in shown, expected
    assert "&lt;" not in shown
    assert run("cases", "show", "WS-19990101-0001")[0] == 1


@on_both_backends
def test_export_writes_csv_or_json_for_the_filter(
    store: ConsoleStore, settings: Settings, tmp_path: Path
) -> None:
    case, _ = open_mis_swipe(store, settings)
    store.cases.open_case("s2", "wechat", "unauthorized", Facts())
    code, out = run("export", "--format", "json", "--kind", "misswipe")
    assert code == 0 and [record["case_id"] for record in json.loads(out)] == [case.case_id]
    target = tmp_path / "turns.csv"
    assert (
        run(
            "export", "--format", "csv", "--what", "transcripts", "--search", "华联", "--output", str(target)
        )[0]
        == 0
    )
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8").lstrip("\ufeff"))))
    assert {row["case_id"] for row in rows} == {case.case_id} and rows[0]["speaker"] == "user"
    assert store.audit_log()[0].action == "exported"


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_an_export_file_is_readable_by_its_owner_only_whatever_the_umask(
    store: ConsoleStore, settings: Settings, tmp_path: Path, umask: int
) -> None:
    open_mis_swipe(store, settings)
    fresh, existing = tmp_path / "fresh.json", tmp_path / "existing.csv"
    existing.write_text("old, readable by anyone")
    existing.chmod(0o666)
    previous = os.umask(umask)
    try:
        for target, fmt in ((fresh, "json"), (existing, "csv")):
            assert run("export", "--format", fmt, "--what", "transcripts", "--output", str(target))[0] == 0
    finally:
        os.umask(previous)
    for target in (fresh, existing):
        assert stat.S_IMODE(target.stat().st_mode) == 0o600, target
    assert "华联超市" in fresh.read_text(encoding="utf-8") and "readable" not in existing.read_text()
    assert [entry.action for entry in store.audit_log()] == ["exported", "exported"]
    # Newest first: where each copy is, for whoever later handles a deletion request.
    assert [entry.detail["path"] for entry in store.audit_log()] == [str(existing), str(fresh)]


@on_both_backends
def test_a_bad_filter_on_the_command_line_says_what_is_wrong(
    store: ConsoleStore, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "never.csv"
    assert run("export", "--format", "csv", "--since", "0001-01-01", "--output", str(target))[0] == 2
    assert "--since" in capsys.readouterr().err and not target.exists()
    assert run("cases", "list", "--since", "2026-01-01", "--until", "2025-01-01")[0] == 2
    assert "开始日期不能晚于结束日期" in capsys.readouterr().err
    assert store.audit_log() == []  # nothing was exported


def test_the_module_runs_as_a_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.console", "--help"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120, env={**os.environ},
    )  # fmt: skip
    assert result.returncode == 0
    for command in ("users", "cases", "export", "serve"):
        assert command in result.stdout


def test_serve_starts_the_web_console(settings: Settings) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "bot.console", "serve", "--port", str(port)],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                response = requests.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except requests.ConnectionError:
                assert server.poll() is None, server.stdout.read()
                time.sleep(0.3)
        else:
            pytest.fail("the console did not answer within 60 s")
        assert response.url.endswith("/login?next=%2F") and "误刷助手 · 客服台" in response.text
        assert settings.case_db.exists()  # it opened (and migrated) the store named by CASE_STORE_URL
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert f"Staff console: http://127.0.0.1:{port}/" in output
