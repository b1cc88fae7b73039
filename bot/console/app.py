"""The staff console's web app (Sanic, server-rendered Jinja2 pages).

Every page but /login needs a session; every POST must carry the session's
CSRF token. Routes declared with ``ctx_admin=True`` (exports, the audit log,
staff accounts, deleting a user's personal data) answer 403 to an agent. Pages
only read, except the forms that change a case, a review, a flagged example or
an account, and each of those is written to the audit log; so is every look at
a case or a conversation. The one script, ``static/takeover.js``, follows a
conversation live while staff have taken it over. Every parameter is parsed by ``bot.console.params``:
a bad one gets a 400 page saying what is wrong. Each page is a blueprint in
``bot.console.pages``; this module builds the app, its shared objects (on
``app.ctx``) and the checks every request passes.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import quote

from sanic import Request, Sanic
from sanic.response import HTTPResponse, redirect, text

from bot.console.auth import StaffAuth
from bot.console.pages import (
    audit,
    auth,
    cases,
    conversations,
    dashboard,
    erasure,
    exports,
    queue,
    takeover,
    teach,
)
from bot.console.params import BadParameter
from bot.console.rendering import environment
from bot.console.settings import Settings
from bot.console.store import ConsoleStore
from bot.console.transcripts import TrackerReader
from bot.console.web import SECURITY_HEADERS, SESSION_COOKIE, failure, safe_next

HERE = Path(__file__).parent
PUBLIC_PATHS = frozenset({"/login", "/static/console.css"})
PAGES = (auth, queue, cases, conversations, takeover, erasure, teach, dashboard, audit, exports)


def create_app(settings: Settings | None = None) -> Sanic:
    settings = settings or Settings.from_env()
    app = Sanic("wushua_console")
    app.config.FALLBACK_ERROR_FORMAT = "html"
    app.ctx.settings = settings
    app.ctx.store = ConsoleStore(settings.case_db)
    app.ctx.auth = StaffAuth(app.ctx.store.db, settings)
    app.ctx.tracker = TrackerReader(settings.tracker_db)
    app.ctx.templates = environment(html=True)
    app.exception(BadParameter)(bad_parameter)
    app.register_middleware(require_session, "request")
    app.register_middleware(security_headers, "response")
    app.add_route(stylesheet, "/static/console.css")
    app.add_route(script, "/static/<name:takeover.js>")
    for page in PAGES:
        app.blueprint(page.pages)

    @app.after_server_start
    async def start_sweeping(app: Sanic, loop: asyncio.AbstractEventLoop) -> None:
        app.ctx.takeover_sweep = loop.create_task(takeover.keep_handing_back(app))
        app.ctx.retention_purge = loop.create_task(takeover.keep_purging(app))

    return app


async def bad_parameter(request: Request, error: BadParameter) -> HTTPResponse:
    # Back to the page without its query: the parameters are what went wrong.
    back = request.path if request.method == "GET" else safe_next(request.form.get("next"))
    return failure(request, 400, "bad_parameter", back=back, error=error)


async def require_session(request: Request) -> HTTPResponse | None:
    request.ctx.session = request.app.ctx.auth.session(request.cookies.get(SESSION_COOKIE))
    if request.path in PUBLIC_PATHS:
        return None
    if request.ctx.session is None:
        if request.method in ("GET", "HEAD"):
            target = request.path + (f"?{request.query_string}" if request.query_string else "")
            return redirect(f"/login?next={quote(target, safe='')}", status=303)
        return failure(request, 403, "signed_out")
    # No route (a 404 to come) has no ctx.
    admin_only = request.route is not None and getattr(request.route.ctx, "admin", False)
    if admin_only and not request.ctx.session.is_admin:
        return failure(request, 403, "admin_only", back="/")
    if request.method not in ("GET", "HEAD") and not request.ctx.session.csrf_ok(
        request.form.get("csrf_token")
    ):
        return failure(request, 403, "csrf")
    return None


async def security_headers(request: Request, response: HTTPResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


async def script(request: Request, name: str) -> HTTPResponse:
    source = (HERE / "static" / name).read_text(encoding="utf-8")
    headers = {"Cache-Control": "max-age=3600"}
    return text(source, content_type="text/javascript; charset=utf-8", headers=headers)


async def stylesheet(request: Request) -> HTTPResponse:
    css = (HERE / "static" / "console.css").read_text(encoding="utf-8")
    return text(css, content_type="text/css; charset=utf-8", headers={"Cache-Control": "max-age=3600"})
