"""Teaching the bot: flag a message with the right intent, review the flags, export them for training."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, redirect, text

from bot.console import params
from bot.console.teach import AnnotationError, check_annotation, export_nlu, load_domain, training_texts
from bot.console.web import failure, render, safe_next, sender, settings, store, tracker, username
from bot.domain.clock import now

pages = Blueprint("teach")


@pages.post("/teach/flag")
async def flag(request: Request) -> HTTPResponse:
    back = safe_next(request.form.get("next"))
    sender_id = sender(request.form.get("sender"))
    event_id = params.row_id(request.form.get("event_id"), "event_id")
    case_id = params.case_id(request.form.get("case_id"))
    turn = tracker(request).user_turn(sender_id, event_id)
    if turn is None or not turn.can_teach:
        return failure(request, 404, "message_not_found", back=back)
    domain = load_domain(settings(request).domain_path)
    intent = request.form.get("intent")
    if intent not in domain.intents:
        return failure(request, 400, "bad_intent", back=back)
    try:
        annotated = check_annotation(request.form.get("annotated") or turn.text, turn.text, domain.entities)
    except AnnotationError as error:
        return failure(request, 400, f"annotation_{error.code}", back=back)
    store(request).flag_example(
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


@pages.get("/teach")
async def teach(request: Request) -> HTTPResponse:
    examples = store(request).flagged_examples()
    export = export_nlu(examples, training_texts(settings(request).training_data), now())
    return render(
        request,
        "teach.html",
        examples=examples,
        skipped={example.example_id for example in export.skipped},
        exported=export.exported,
        needs_review=tracker(request).needs_review(limit=50),
    )


@pages.post("/teach/<example_id:str>/delete")
async def unflag(request: Request, example_id: str) -> HTTPResponse:
    store(request).delete_flag(params.row_id(example_id, "example_id"), username(request))
    return redirect("/teach", status=303)


@pages.get("/teach/export.yml", ctx_admin=True)
async def export_training_data(request: Request) -> HTTPResponse:
    export = export_nlu(
        store(request).flagged_examples(), training_texts(settings(request).training_data), now()
    )
    store(request).audit(username(request), "nlu_exported", detail={"examples": export.exported})
    return text(
        export.yaml,
        content_type="application/x-yaml; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="console_flagged.yml"'},
    )
