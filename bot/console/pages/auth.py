"""Signing in and out, and staff accounts (admins only; adding one and setting passwords stay on the CLI)."""

from __future__ import annotations

import hmac
import math
import secrets
from collections.abc import Callable

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, redirect

from bot.console import params
from bot.console.auth import STAFF_ROLES, USERNAME_PATTERN, AccountDisabled, AccountError, LoginThrottled
from bot.console.params import BadParameter
from bot.console.web import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    auth,
    cookie,
    failure,
    render,
    safe_next,
    settings,
    store,
    username,
)

pages = Blueprint("auth")


def login_page(
    request: Request, status: int = 200, error: str | None = None, seconds: int = 0
) -> HTTPResponse:
    # Reuse the token already in the cookie, so that two tabs (or a favicon
    # fetch redirected here) do not invalidate a form already on screen.
    token = request.cookies.get(LOGIN_COOKIE) or ""
    if len(token) < 32:
        token = secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        status=status,
        login_token=token,
        error=error,
        seconds=seconds,
        next=safe_next((request.form if request.method == "POST" else request.args).get("next")),
    )
    cookie(response, request, LOGIN_COOKIE, token, max_age=3600)
    return response


@pages.get("/login")
async def login_form(request: Request) -> HTTPResponse:
    if request.ctx.session is not None:
        return redirect("/", status=303)
    return login_page(request)


@pages.post("/login")
async def login(request: Request) -> HTTPResponse:
    # Double-submit token: the form's hidden field must match the SameSite=Strict cookie.
    submitted, expected = request.form.get("login_token") or "", request.cookies.get(LOGIN_COOKIE) or ""
    if not (submitted and expected and hmac.compare_digest(submitted.encode(), expected.encode())):
        return failure(request, 403, "csrf")
    name = (request.form.get("username") or "").strip()
    # remote_addr is the client as named by a proxy Sanic is told to trust
    # (SANIC_PROXIES_COUNT, SANIC_REAL_IP_HEADER), and empty without one: then
    # the address is the peer's, which behind an unconfigured proxy is the proxy's.
    client = request.remote_addr or request.ip or "unknown"
    try:
        session = auth(request).login(name, request.form.get("password") or "", client)
    except LoginThrottled as throttled:
        seconds = max(math.ceil(throttled.retry_after.total_seconds()), 1)
        response = login_page(request, 429, "throttled", seconds=seconds)
        response.headers["Retry-After"] = str(seconds)
        return response
    except AccountDisabled:
        return login_page(request, 403, "disabled")
    if session is None:
        return login_page(request, 401, "wrong")
    store(request).audit(session.username, "signed_in", detail={"ip": client})
    response = redirect(safe_next(request.form.get("next")), status=303)
    lifetime = int(settings(request).session_lifetime.total_seconds())
    cookie(response, request, SESSION_COOKIE, session.token, lifetime)
    del response.cookies[LOGIN_COOKIE]
    return response


@pages.post("/logout")
async def logout(request: Request) -> HTTPResponse:
    auth(request).logout(request.ctx.session.token)
    response = redirect("/login", status=303)
    del response.cookies[SESSION_COOKIE]
    return response


@pages.get("/users", ctx_admin=True)
async def users(request: Request) -> HTTPResponse:
    return render(request, "users.html", users=auth(request).users(), roles=STAFF_ROLES)


def change_user(request: Request, name: str, change: Callable[[str, str], object]) -> HTTPResponse:
    if not USERNAME_PATTERN.fullmatch(name):
        raise BadParameter("username", "username")
    try:
        change(name, username(request))
    except AccountError as error:
        return failure(request, 404 if error.code == "no_user" else 400, error.code, back="/users")
    return redirect("/users", status=303)


@pages.post("/users/<name:str>/disable", ctx_admin=True)
async def disable_user(request: Request, name: str) -> HTTPResponse:
    return change_user(request, name, lambda user, who: auth(request).set_disabled(user, True, by=who))


@pages.post("/users/<name:str>/enable", ctx_admin=True)
async def enable_user(request: Request, name: str) -> HTTPResponse:
    return change_user(request, name, lambda user, who: auth(request).set_disabled(user, False, by=who))


@pages.post("/users/<name:str>/revoke-sessions", ctx_admin=True)
async def revoke_sessions(request: Request, name: str) -> HTTPResponse:
    return change_user(request, name, lambda user, who: auth(request).revoke_sessions(user, by=who))


@pages.post("/users/<name:str>/role", ctx_admin=True)
async def change_role(request: Request, name: str) -> HTTPResponse:
    role = params.required(params.choice(request.form.get("role"), "role", STAFF_ROLES), "role")
    return change_user(request, name, lambda user, who: auth(request).set_role(user, role, by=who))
