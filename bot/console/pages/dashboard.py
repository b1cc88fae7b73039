"""The dashboard: cases per day, steps reached, statuses, time to resolution and satisfaction, and the
bot's fallbacks, under the queue's filter."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from bot.console.store import CaseFilter
from bot.console.web import query, render, store, tracker
from bot.domain import knowledge

pages = Blueprint("dashboard")


@pages.get("/dashboard")
async def dashboard(request: Request) -> HTTPResponse:
    case_filter = CaseFilter.from_params(query(request))
    per_day = store(request).cases_per_day(case_filter, days=30)
    statuses = store(request).status_counts(case_filter)
    total = sum(statuses.values())
    fallbacks = tracker(request).fallbacks_per_day(per_day[0][0], per_day[-1][0]) if per_day else []
    messages = sum(messages for _, messages, _ in fallbacks)
    labels = request.app.ctx.templates.globals["status_labels"]
    by_path, by_week = store(request).outcomes(case_filter)
    return render(
        request,
        "dashboard.html",
        filter=case_filter,
        banks=store(request).distinct_values("bank"),
        channels=store(request).distinct_values("channel"),
        tags=store(request).all_tags(),
        per_day=per_day,
        day_labels=[f"{day:%m-%d}" for day, _ in per_day],
        funnel=store(request).steps_reached(case_filter),
        step_titles=[step["title"] for step in knowledge.steps()["steps"][case_filter.kind]]
        if case_filter.kind
        else None,
        status_parts={labels[status]: count for status, count in statuses.items()},
        total=total,
        resolved_share=statuses["resolved"] / total if total else None,
        finished_share=(statuses["resolved"] + statuses["closed"]) / total if total else None,
        fallback_rates=[round(100 * failed / sent, 1) if sent else None for _, sent, failed in fallbacks],
        fallback_share=sum(failed for _, _, failed in fallbacks) / messages if messages else None,
        top_intents=tracker(request).top_intents(10),
        by_path=by_path,
        by_week=by_week,
    )
