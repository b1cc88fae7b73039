"""The Jinja2 environments: HTML pages (autoescaped) and the command line's plain text."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from jinja2 import Environment, FileSystemLoader

from bot.console import charts
from bot.console.transcripts import LOW_CONFIDENCE
from bot.domain import knowledge
from bot.domain.cases import KINDS, STATUSES
from bot.domain.checklist import format_amount

TEMPLATES = Path(__file__).parent / "templates"


def wait_parts(waited: timedelta) -> tuple[int, int, int]:
    """Days, hours and minutes; the template words them."""
    minutes = int(waited.total_seconds() // 60)
    return minutes // (24 * 60), minutes // 60 % 24, minutes % 60


def environment(*, html: bool = True) -> Environment:
    """``html=False`` is for the terminal, where escaping would garble the text."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=html, trim_blocks=True, lstrip_blocks=True
    )
    env.globals.update(
        STATUSES=STATUSES,
        KINDS=KINDS,
        status_labels=knowledge.steps()["statuses"],
        kind_labels={kind: entry["label"] for kind, entry in knowledge.steps()["kinds"].items()},
        charts=charts,
        LOW_CONFIDENCE=LOW_CONFIDENCE,
    )
    env.filters.update(
        when=lambda moment: moment.strftime("%Y-%m-%d %H:%M") if moment else "",
        short_when=lambda moment: moment.strftime("%m-%d %H:%M") if moment else "",
        amount=format_amount,
        wait_parts=wait_parts,
        percent=lambda share: f"{share * 100:.1f}%" if share is not None else "—",
    )
    return env
