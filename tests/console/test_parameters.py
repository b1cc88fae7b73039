"""Hostile parameters on every route: never a 500, and a 400 page saying what is wrong where a value is bad.

``GET_PARAMETERS`` names what each GET route reads and how; the first test
checks that it covers every GET route the app has, so a new page cannot skip
the walk. Which hostile values a kind of parameter accepts is written out
here, not derived from the code under test.
"""

from __future__ import annotations

import re
from functools import partial
from urllib.parse import quote

import pytest
from console_support import Console, on_both_backends, open_mis_swipe

from bot.infra import staff_bridge
from bot.infra.staff_bridge import BridgeAnswer

HOSTILE = {
    "huge": "9" * 40,
    "negative": "-1",
    "superscript": "²",
    "fullwidth": "３",
    "nul": "\x00abc",
    "control": "a\x1b[31mb",
    "ancient": "0001-01-01",
    "far_future": "9999-12-31",
    "no_such_day": "2026-02-30",
    "empty": "",
    "long": "长" * 300,
    "sql": "1' OR '1'='1'; DROP TABLE cases; --",
}
EVERYTHING = frozenset(HOSTILE)
quote_segment = partial(quote, safe="")
# The hostile values each kind of parameter takes (an empty value is an absent one).
VALID = {
    "date": {"empty"},
    "integer": {"empty"},
    "choice": {"empty"},
    "cursor": {"empty"},
    "exact": EVERYTHING - {"nul", "control", "long"},  # a bank, a channel, a tag: matched as given
    "search": EVERYTHING - {"long"},  # control characters are dropped
    "sender": EVERYTHING - {"nul", "control", "long", "empty"},  # required
    "case_id": {"empty"},  # WS-YYYYMMDD-NNNN
    "next": EVERYTHING,  # anything but a path on this site is replaced by "/"
}
FILTER = {
    "status": "choice",
    "kind": "choice",
    "bank": "exact",
    "channel": "exact",
    "tag": "exact",
    "since": "date",
    "until": "date",
    "q": "search",
}
GET_PARAMETERS: dict[str, dict[str, str]] = {
    "/": {**FILTER, "after": "cursor", "before": "cursor"},
    "/dashboard": FILTER,
    "/export/<name:str>": FILTER,
    "/conversations": {"page": "integer"},
    "/conversation": {"sender": "sender"},
    "/conversation/stream": {"sender": "sender"},
    "/conversation/erase": {"sender": "sender"},  # its case parameter needs a sender beside it: below
    "/audit": {"before": "integer", "case": "case_id"},
    "/cases/<case_id:str>": {"erased": "choice"},
    "/cases/<case_id:str>/receipts/<receipt_id:str>": {},
    "/teach": {},
    "/teach/export.yml": {},
    "/users": {},
    "/login": {"next": "next"},
    "/static/console.css": {},
    "/static/<name:takeover.js>": {},
}


def get_routes(console: Console) -> set[str]:
    return {"/" + route.path.lstrip("/") for route in console.app.router.routes if "GET" in route.methods}


def url_for(route: str) -> str:
    return (
        route.replace("<name:str>", "cases.csv")
        .replace("<case_id:str>", "WS-20261125-0001")
        .replace("<receipt_id:str>", "no-such-receipt")
        .replace("<name:takeover.js>", "takeover.js")
    )


def assert_answer(response: object, valid: bool, where: tuple[str, ...]) -> None:
    assert response.status_code < 500, where
    if valid:
        assert response.status_code in (200, 303, 404), (response.status_code, where)
    else:
        assert response.status_code == 400, (response.status_code, where)
        # The error page, with the parameter's own message rather than a catch-all.
        assert "出错了" in response.text and "请求无法处理" not in response.text, where
        assert "”无效。" not in response.text, where


def test_the_table_names_every_get_route(console: Console) -> None:
    assert get_routes(console) == set(GET_PARAMETERS)


@on_both_backends
def test_every_get_parameter_answers_hostile_values_with_200_or_400(console: Console) -> None:
    open_mis_swipe(console.store, console.settings)
    staff, anonymous = console.signed_in(), console.session()
    for route, parameters in GET_PARAMETERS.items():
        browser = anonymous if route == "/login" else staff
        for parameter, kind in parameters.items():
            for name, value in HOSTILE.items():
                response = browser.get(url_for(route), params={parameter: value}, allow_redirects=False)
                assert_answer(response, name in VALID[kind], (route, parameter, name))


@on_both_backends
def test_path_parameters_that_cannot_be_ids_answer_400_and_unknown_exports_404(console: Console) -> None:
    staff = console.signed_in()
    for name, value in HOSTILE.items():
        if name == "empty":
            continue
        case = staff.get("/cases/" + quote_segment(value))
        assert_answer(case, False, ("/cases/", name))
        assert staff.get("/export/" + quote_segment(value)).status_code == 404, name
    assert staff.get("/cases/ws-20261125-0001").status_code == 404  # well-formed, just not there
    for method in ("GET", "POST", "HEAD"):
        for path in ("/nothing-here", "/users//disable", "/cases/%00/notes"):
            assert staff.request(method, path).status_code in (400, 403, 404, 405), (method, path)


@on_both_backends
def test_the_reported_requests(console: Console) -> None:
    staff = console.signed_in()
    for path, status, message in (
        ("/dashboard?since=0001-01-01", 400, "开始日期"),
        ("/dashboard?until=9999-12-31", 400, "结束日期"),
        ("/?q=%00abc", 200, "没有符合条件的案件"),
        ("/audit?before=²", 400, "翻页位置"),
        ("/audit?before=３", 400, "半角数字"),
        ("/dashboard?since=2025-11-24", 400, "最长 366 天"),
        ("/export/cases.csv?since=2024-01-01&until=2025-12-31", 400, "最长 366 天"),
        ("/?until=2026-11-01&since=2026-11-02", 400, "开始日期不能晚于结束日期"),
    ):
        response = staff.get(path)
        assert response.status_code == status and message in response.text, path
    longest = staff.get("/dashboard", params={"since": "2025-11-25"})  # 366 days to today
    assert longest.status_code == 200 and len(longest.text) < 2_000_000


def test_the_erase_page_parses_its_case_parameter(console: Console) -> None:
    case, _ = open_mis_swipe(console.store, console.settings)
    staff = console.signed_in()
    for name, value in HOSTILE.items():
        response = staff.get("/conversation/erase", params={"sender": case.sender_id, "case": value})
        assert_answer(response, name in VALID["case_id"], ("/conversation/erase", "case", name))


@on_both_backends
def test_every_post_answers_hostile_values_without_a_500(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def rasa_says_no(*args: object, **kwargs: object) -> BridgeAnswer:
        return BridgeAnswer(False, error="not_found")

    # The Rasa server is not running: a 502 saying so would be a right answer, not a crash.
    monkeypatch.setattr(staff_bridge, "call", rasa_says_no)
    monkeypatch.setattr(staff_bridge, "erase", rasa_says_no)
    case, user_ids = open_mis_swipe(console.store, console.settings)
    staff = console.signed_in()
    token = staff.csrf_token()
    fields = {"status": "x", "text": "x", "tag": "x", "sender": case.sender_id, "event_id": str(user_ids[0]),
              "intent": "greet", "annotated": "x", "case_id": case.case_id, "role": "agent",
              "next": "/"}  # fmt: skip
    routes = sorted(
        "/" + route.path.lstrip("/")
        for route in console.app.router.routes
        if "POST" in route.methods and route.path not in ("login", "logout")
    )
    assert len(routes) >= 13
    for route in routes:
        for name, value in HOSTILE.items():
            path = re.sub(r"<[a-z_]+:str>", quote_segment(value) or "x", route)
            response = staff.post(path, data={"csrf_token": token, **fields}, allow_redirects=False)
            assert response.status_code < 500, (route, "path", name)
            for field in fields:
                path = re.sub(r"<[a-z_]+:str>", "1", route)
                if "/cases/" in route:
                    path = path.replace("/cases/1", f"/cases/{case.case_id}")
                data = {"csrf_token": token, **fields, field: value}
                response = staff.post(path, data=data, allow_redirects=False)
                assert response.status_code < 500, (route, field, name)
    for path, data in (
        ("/teach/flag", {"event_id": "３"}),
        ("/teach/flag", {"sender": "\x00"}),
        ("/conversation/review", {"case_id": "WS-1"}),
        ("/handoffs/²/resolve", {}),
        ("/teach/99999999999999999999/delete", {}),
        ("/users/bad%20name/disable", {}),
        ("/users/alice/role", {"role": "root"}),
    ):
        response = staff.post(path, data={"csrf_token": token, **fields, **data}, allow_redirects=False)
        assert response.status_code == 400 and "出错了" in response.text, path
    assert console.store.cases.get(case.case_id).status == "open"  # "x" was never a status
