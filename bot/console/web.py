"""What every console page uses: the per-app objects, rendering, the error page, cookies, parameters."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from sanic import Request
from sanic.response import HTTPResponse, html

from bot.console import params
from bot.console.auth import StaffAuth, StaffSession
from bot.console.settings import Settings
from bot.console.store import ConsoleStore
from bot.console.transcripts import TrackerReader
from bot.domain.cases import Case

SESSION_COOKIE = "console_session"
LOGIN_COOKIE = "console_login"
SECURITY_HEADERS = {
    # The one script is the console's own (the live takeover view, which reads a
    # server-sent event stream from the console); the charts are inline SVG with inline styles.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def settings(request: Request) -> Settings:
    return request.app.ctx.settings


def store(request: Request) -> ConsoleStore:
    return request.app.ctx.store


def auth(request: Request) -> StaffAuth:
    return request.app.ctx.auth


def tracker(request: Request) -> TrackerReader:
    return request.app.ctx.tracker


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTTPResponse:
    session: StaffSession | None = request.ctx.session
    body = request.app.ctx.templates.get_template(name).render(
        staff=session.username if session else None,
        is_admin=bool(session and session.is_admin),
        csrf_token=session.csrf_token if session else "",
        path=request.path,
        **context,
    )
    return html(body, status=status)


def failure(
    request: Request, status: int, code: str, back: str | None = None, **context: Any
) -> HTTPResponse:
    return render(request, "error.html", status=status, code=code, back=back, **context)


def username(request: Request) -> str:
    return request.ctx.session.username


def cookie(response: HTTPResponse, request: Request, name: str, value: str, max_age: int) -> None:
    response.cookies[name] = value
    morsel = response.cookies[name]
    morsel["path"] = "/"
    morsel["httponly"] = True
    morsel["samesite"] = "Strict"
    morsel["max-age"] = max_age
    if settings(request).cookies_secure_for(request.host):
        morsel["secure"] = True


def sender(value: str | None) -> str:
    """A conversation id, as the tracker store keys it."""
    return params.required(params.text(value, "sender", maximum=params.MAX_SENDER_CHARS), "sender")


def query(request: Request) -> dict[str, list[str]]:
    """The query string as lists of values (Sanic's ``args.get`` gives only the first)."""
    return {name: request.args.getlist(name) for name in request.args}


def case_url(case: Case) -> str:
    return f"/cases/{quote(case.case_id)}"


def safe_next(target: str | None, default: str = "/") -> str:
    """Only a path on this site: never another host (``//evil``, ``/\\evil``, ``https://…``)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    if any(char in target for char in "\r\n") or urlsplit(target).netloc:
        return default
    return target
