"""The staff console's web app (Sanic, server-rendered Jinja2 pages, no JavaScript).

Every page but /login needs a session; every POST must carry the session's
CSRF token. Routes declared with ``ctx_admin=True`` (exports, the audit log,
staff accounts) answer 403 to an agent. Pages only read, except the forms that
change a case, a review, a flagged example or an account, and each of those
is written to the audit log. Every parameter is parsed by ``bot.console.params``:
a bad one gets a 400 page saying what is wrong.
"""

from __future__ import annotations

import hmac
import math
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from sanic import Request, Sanic
from sanic.response import HTTPResponse, html, redirect, text

from bot.console import params
from bot.console.auth import (
    STAFF_ROLES,
    USERNAME_PATTERN,
    AccountDisabled,
    AccountError,
    LoginThrottled,
    StaffAuth,
    StaffSession,
)
from bot.console.exporting import CONTENT_TYPES, FORMATS, WHAT, export_chunks
from bot.console.params import BadParameter
from bot.console.rendering import environment
from bot.console.settings import Settings
from bot.console.store import CaseFilter, ConsoleStore, Cursor
from bot.console.teach import AnnotationError, check_annotation, export_nlu, load_domain, suggest_annotation
from bot.console.teach import training_texts as load_training_texts
from bot.console.transcripts import TrackerReader
from bot.domain import knowledge
from bot.domain.cases import Case
from bot.domain.checklist import build_checklist, render_text
from bot.domain.clock import now

HERE = Path(__file__).parent
SESSION_COOKIE = "console_session"
LOGIN_COOKIE = "console_login"
PUBLIC_PATHS = frozenset({"/login", "/static/console.css"})
# The conversation list's pages; deeper offsets would only make the database count rows.
MAX_PAGE = 10_000
SECURITY_HEADERS = {
    # No script runs on any page; the charts are inline SVG with inline styles.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def create_app(settings: Settings | None = None) -> Sanic:
    settings = settings or Settings.from_env()
    app = Sanic("wushua_console")
    app.config.FALLBACK_ERROR_FORMAT = "html"
    store = ConsoleStore(settings.case_db)
    auth = StaffAuth(store.db, settings)
    tracker = TrackerReader(settings.tracker_db)
    pages = environment(html=True)
    app.ctx.settings, app.ctx.store, app.ctx.auth, app.ctx.tracker = settings, store, auth, tracker

    def render(request: Request, name: str, status: int = 200, **context: Any) -> HTTPResponse:
        session: StaffSession | None = request.ctx.session
        body = pages.get_template(name).render(
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

    @app.exception(BadParameter)
    async def bad_parameter(request: Request, error: BadParameter) -> HTTPResponse:
        # Back to the page without its query: the parameters are what went wrong.
        back = request.path if request.method == "GET" else safe_next(request.form.get("next"))
        return failure(request, 400, "bad_parameter", back=back, error=error)

    def username(request: Request) -> str:
        return request.ctx.session.username

    def cookie(response: HTTPResponse, request: Request, name: str, value: str, max_age: int) -> None:
        response.cookies[name] = value
        morsel = response.cookies[name]
        morsel["path"] = "/"
        morsel["httponly"] = True
        morsel["samesite"] = "Strict"
        morsel["max-age"] = max_age
        if settings.cookies_secure_for(request.host):
            morsel["secure"] = True

    @app.middleware("request")
    async def require_session(request: Request) -> HTTPResponse | None:
        request.ctx.session = auth.session(request.cookies.get(SESSION_COOKIE))
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

    @app.middleware("response")
    async def security_headers(request: Request, response: HTTPResponse) -> None:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)

    @app.get("/static/console.css")
    async def stylesheet(request: Request) -> HTTPResponse:
        css = (HERE / "static" / "console.css").read_text(encoding="utf-8")
        return text(css, content_type="text/css; charset=utf-8", headers={"Cache-Control": "max-age=3600"})

    # Signing in and out

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

    @app.get("/login")
    async def login_form(request: Request) -> HTTPResponse:
        if request.ctx.session is not None:
            return redirect("/", status=303)
        return login_page(request)

    @app.post("/login")
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
            session = auth.login(name, request.form.get("password") or "", client)
        except LoginThrottled as throttled:
            seconds = max(math.ceil(throttled.retry_after.total_seconds()), 1)
            response = login_page(request, 429, "throttled", seconds=seconds)
            response.headers["Retry-After"] = str(seconds)
            return response
        except AccountDisabled:
            return login_page(request, 403, "disabled")
        if session is None:
            return login_page(request, 401, "wrong")
        store.audit(session.username, "signed_in", detail={"ip": client})
        response = redirect(safe_next(request.form.get("next")), status=303)
        cookie(
            response, request, SESSION_COOKIE, session.token, int(settings.session_lifetime.total_seconds())
        )
        del response.cookies[LOGIN_COOKIE]
        return response

    @app.post("/logout")
    async def logout(request: Request) -> HTTPResponse:
        auth.logout(request.ctx.session.token)
        response = redirect("/login", status=303)
        del response.cookies[SESSION_COOKIE]
        return response

    # The queue

    @app.get("/")
    async def queue(request: Request) -> HTTPResponse:
        case_filter = CaseFilter.from_params(query(request))
        page = store.queue(
            case_filter,
            after=Cursor.decode(request.args.get("after"), "after"),
            before=Cursor.decode(request.args.get("before"), "before"),
            limit=settings.page_size,
        )
        return render(
            request,
            "queue.html",
            filter=case_filter,
            filter_query=urlencode(case_filter.params()),
            page=page,
            handoffs=store.waiting_handoffs(),
            banks=store.distinct_values("bank"),
            channels=store.distinct_values("channel"),
            tags=store.all_tags(),
        )

    @app.post("/handoffs/<handoff_id:str>/resolve")
    async def resolve_handoff(request: Request, handoff_id: str) -> HTTPResponse:
        handoff = params.row_id(handoff_id, "handoff_id")
        if store.resolve_handoff(handoff, username(request)) is None:
            return failure(request, 404, "handoff_not_found")
        return redirect(safe_next(request.form.get("next")), status=303)

    # A case

    def conversation_context(sender_id: str) -> dict[str, Any]:
        domain = load_domain(settings.domain_path)
        transcript = tracker.transcript(sender_id)
        flagged = {example.event_id: example for example in store.flagged_examples(sender_id)}
        review = store.review(sender_id)
        last_event = tracker.last_event_id(sender_id)
        return {
            "sender_id": sender_id,
            "transcript": transcript,
            "tracker_available": tracker.available,
            "suggestions": {turn.event_id: suggest_annotation(turn) for turn in transcript if turn.can_teach},
            "flagged": flagged,
            "intents": domain.intents,
            "entities": domain.entities,
            "review": review,
            "last_event_id": last_event,
            "unreviewed": bool(
                last_event
                and (review is None or review.last_event_id is None or review.last_event_id < last_event)
            ),
        }

    @app.get("/cases/<case_id:str>")
    async def case_page(request: Request, case_id: str) -> HTTPResponse:
        case = store.cases.get(params.required(params.case_id(case_id), "case_id"))
        if case is None:
            return failure(request, 404, "case_not_found", back="/")
        checklist = build_checklist(case)
        return render(
            request,
            "case.html",
            case=case,
            checklist=checklist,
            checklist_text=render_text(checklist),
            notes=store.notes(case.case_id),
            tags=store.tags(case.case_id),
            audit=store.audit_log(case_id=case.case_id, limit=50),
            handoff=store.waiting_handoff_for_case(case.case_id),
            other_cases=[other for other in store.cases_for_sender(case.sender_id) if other != case.case_id],
            here=case_url(case),
            **conversation_context(case.sender_id),
        )

    def change_case(
        request: Request, case_id: str, change: Callable[[Case, str], object], bad: str, anchor: str = ""
    ) -> HTTPResponse:
        """Look the case up, apply the change as the signed-in staff member, go back to the case."""
        case = store.cases.get(params.required(params.case_id(case_id), "case_id"))
        if case is None:
            return failure(request, 404, "case_not_found", back="/")
        try:
            change(case, username(request))
        except ValueError:
            return failure(request, 400, bad, back=case_url(case))
        return redirect(case_url(case) + anchor, status=303)

    @app.post("/cases/<case_id:str>/status")
    async def change_status(request: Request, case_id: str) -> HTTPResponse:
        status = request.form.get("status") or ""
        return change_case(
            request, case_id, lambda case, who: store.set_status(case.case_id, status, who), "bad_status"
        )

    @app.post("/cases/<case_id:str>/checklist-links/revoke")
    async def revoke_checklist_links(request: Request, case_id: str) -> HTTPResponse:
        return change_case(
            request,
            case_id,
            lambda case, who: store.revoke_checklist_links(case.case_id, who),
            "case_not_found",
        )

    @app.post("/cases/<case_id:str>/notes")
    async def add_note(request: Request, case_id: str) -> HTTPResponse:
        note = request.form.get("text") or ""
        return change_case(
            request, case_id, lambda case, who: store.add_note(case.case_id, note, who), "bad_note", "#notes"
        )

    @app.post("/cases/<case_id:str>/tags")
    async def add_tag(request: Request, case_id: str) -> HTTPResponse:
        tag = request.form.get("tag") or ""
        return change_case(
            request, case_id, lambda case, who: store.add_tag(case.case_id, tag, who), "bad_tag", "#tags"
        )

    @app.post("/cases/<case_id:str>/tags/remove")
    async def remove_tag(request: Request, case_id: str) -> HTTPResponse:
        tag = request.form.get("tag") or ""
        return change_case(
            request, case_id, lambda case, who: store.remove_tag(case.case_id, tag, who), "bad_tag", "#tags"
        )

    # Conversations

    @app.get("/conversations")
    async def conversations(request: Request) -> HTTPResponse:
        page_number = params.integer(request.args.get("page"), "page", maximum=MAX_PAGE) or 1
        size = settings.page_size
        summaries = tracker.conversations(limit=size + 1, offset=(page_number - 1) * size)
        return render(
            request,
            "conversations.html",
            conversations=summaries[:size],
            cases={
                summary.sender_id: store.cases_for_sender(summary.sender_id) for summary in summaries[:size]
            },
            page_number=page_number,
            has_more=len(summaries) > size,
            tracker_available=tracker.available,
        )

    @app.get("/conversation")
    async def conversation(request: Request) -> HTTPResponse:
        sender_id = sender(request.args.get("sender"))
        context = conversation_context(sender_id)
        if not context["transcript"]:
            return failure(request, 404, "conversation_not_found", back="/conversations")
        return render(
            request,
            "conversation.html",
            cases=store.cases_for_sender(sender_id),
            here=f"/conversation?{urlencode({'sender': sender_id})}",
            **context,
        )

    @app.post("/conversation/review")
    async def review(request: Request) -> HTTPResponse:
        sender_id = sender(request.form.get("sender"))
        case_id = params.case_id(request.form.get("case_id"))
        last_event = tracker.last_event_id(sender_id)
        if last_event is None:
            return failure(request, 404, "conversation_not_found", back="/conversations")
        store.mark_reviewed(sender_id, username(request), last_event, case_id)
        return redirect(safe_next(request.form.get("next")) + "#transcript", status=303)

    # Teaching the bot

    @app.post("/teach/flag")
    async def flag(request: Request) -> HTTPResponse:
        back = safe_next(request.form.get("next"))
        sender_id = sender(request.form.get("sender"))
        event_id = params.row_id(request.form.get("event_id"), "event_id")
        case_id = params.case_id(request.form.get("case_id"))
        turn = tracker.user_turn(sender_id, event_id)
        if turn is None or not turn.can_teach:
            return failure(request, 404, "message_not_found", back=back)
        domain = load_domain(settings.domain_path)
        intent = request.form.get("intent")
        if intent not in domain.intents:
            return failure(request, 400, "bad_intent", back=back)
        try:
            annotated = check_annotation(
                request.form.get("annotated") or turn.text, turn.text, domain.entities
            )
        except AnnotationError as error:
            return failure(request, 400, f"annotation_{error.code}", back=back)
        store.flag_example(
            sender_id=sender_id,
            event_id=turn.event_id,
            text=turn.text,
            annotated=annotated,
            predicted_intent=turn.intent,
            confidence=turn.confidence,
            intent=intent,
            username=username(request),
            case_id=case_id,
        )
        return redirect(f"{back}#e{turn.event_id}", status=303)

    @app.get("/teach")
    async def teach(request: Request) -> HTTPResponse:
        examples = store.flagged_examples()
        export = export_nlu(examples, load_training_texts(settings.training_data), now())
        return render(
            request,
            "teach.html",
            examples=examples,
            skipped={example.example_id for example in export.skipped},
            exported=export.exported,
            needs_review=tracker.needs_review(limit=50),
        )

    @app.post("/teach/<example_id:str>/delete")
    async def unflag(request: Request, example_id: str) -> HTTPResponse:
        store.delete_flag(params.row_id(example_id, "example_id"), username(request))
        return redirect("/teach", status=303)

    @app.get("/teach/export.yml", ctx_admin=True)
    async def export_training_data(request: Request) -> HTTPResponse:
        export = export_nlu(store.flagged_examples(), load_training_texts(settings.training_data), now())
        store.audit(username(request), "nlu_exported", detail={"examples": export.exported})
        return text(
            export.yaml,
            content_type="application/x-yaml; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="console_flagged.yml"'},
        )

    # Dashboard, audit log, exports

    @app.get("/dashboard")
    async def dashboard(request: Request) -> HTTPResponse:
        case_filter = CaseFilter.from_params(query(request))
        per_day = store.cases_per_day(case_filter, days=30)
        statuses = store.status_counts(case_filter)
        total = sum(statuses.values())
        fallbacks = tracker.fallbacks_per_day(per_day[0][0], per_day[-1][0]) if per_day else []
        messages = sum(messages for _, messages, _ in fallbacks)
        labels = pages.globals["status_labels"]
        return render(
            request,
            "dashboard.html",
            filter=case_filter,
            banks=store.distinct_values("bank"),
            channels=store.distinct_values("channel"),
            tags=store.all_tags(),
            per_day=per_day,
            day_labels=[f"{day:%m-%d}" for day, _ in per_day],
            funnel=store.steps_reached(case_filter),
            step_titles=[step["title"] for step in knowledge.steps()["steps"][case_filter.kind]]
            if case_filter.kind
            else None,
            status_parts={labels[status]: count for status, count in statuses.items()},
            total=total,
            resolved_share=statuses["resolved"] / total if total else None,
            finished_share=(statuses["resolved"] + statuses["closed"]) / total if total else None,
            fallback_rates=[round(100 * failed / sent, 1) if sent else None for _, sent, failed in fallbacks],
            fallback_share=sum(failed for _, _, failed in fallbacks) / messages if messages else None,
            top_intents=tracker.top_intents(10),
        )

    @app.get("/audit", ctx_admin=True)
    async def audit_log(request: Request) -> HTTPResponse:
        before = params.integer(request.args.get("before"), "before")
        entries = store.audit_log(before_id=before, limit=101)
        return render(request, "audit.html", entries=entries[:100], more=len(entries) > 100)

    @app.get("/export/<name:str>", ctx_admin=True)
    async def export(request: Request, name: str) -> HTTPResponse | None:
        what, _, fmt = name.partition(".")
        if what not in WHAT or fmt not in FORMATS:
            return failure(request, 404, "not_found", back="/")
        case_filter = CaseFilter.from_params(query(request))
        store.audit(
            username(request),
            "exported",
            detail={"what": what, "format": fmt, "filter": case_filter.params()},
        )
        stamp = now().strftime("%Y%m%d-%H%M")
        response = await request.respond(
            content_type=CONTENT_TYPES[fmt],
            headers={
                "Content-Disposition": f'attachment; filename="{what}-{stamp}.{fmt}"',
                **SECURITY_HEADERS,
            },
        )
        for chunk in export_chunks(store, tracker, case_filter, what, fmt):
            await response.send(chunk)
        await response.eof()
        return None

    # Staff accounts (adding one and setting passwords stay on the command line)

    @app.get("/users", ctx_admin=True)
    async def users(request: Request) -> HTTPResponse:
        return render(request, "users.html", users=auth.users(), roles=STAFF_ROLES)

    def change_user(request: Request, name: str, change: Callable[[str, str], object]) -> HTTPResponse:
        if not USERNAME_PATTERN.fullmatch(name):
            raise BadParameter("username", "username")
        try:
            change(name, username(request))
        except AccountError as error:
            return failure(request, 404 if error.code == "no_user" else 400, error.code, back="/users")
        return redirect("/users", status=303)

    @app.post("/users/<name:str>/disable", ctx_admin=True)
    async def disable_user(request: Request, name: str) -> HTTPResponse:
        return change_user(request, name, lambda user, who: auth.set_disabled(user, True, by=who))

    @app.post("/users/<name:str>/enable", ctx_admin=True)
    async def enable_user(request: Request, name: str) -> HTTPResponse:
        return change_user(request, name, lambda user, who: auth.set_disabled(user, False, by=who))

    @app.post("/users/<name:str>/revoke-sessions", ctx_admin=True)
    async def revoke_sessions(request: Request, name: str) -> HTTPResponse:
        return change_user(request, name, lambda user, who: auth.revoke_sessions(user, by=who))

    @app.post("/users/<name:str>/role", ctx_admin=True)
    async def change_role(request: Request, name: str) -> HTTPResponse:
        role = params.required(params.choice(request.form.get("role"), "role", STAFF_ROLES), "role")
        return change_user(request, name, lambda user, who: auth.set_role(user, role, by=who))

    return app


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
