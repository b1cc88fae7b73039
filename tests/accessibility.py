"""WCAG 2.1 A and AA checks of a page in the browser tests, with axe-core.

axe-core is the npm package pinned in package-lock.json; its script is read
from node_modules and evaluated in the page, so nothing is fetched while the
tests run. Evaluating it through Playwright (the DevTools protocol) is not
subject to the page's Content-Security-Policy, so the console's policy, which
allows no script at all, stays as it is served.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Page

AXE = Path(__file__).resolve().parents[1] / "node_modules" / "axe-core" / "axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

# Only what a failure message needs: the whole result is megabytes on a long page.
RUN_AXE = """async tags => {
    const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
    return result.violations.map(violation => ({
        id: violation.id,
        impact: violation.impact,
        help: violation.help,
        nodes: violation.nodes.map(node => ({target: node.target, summary: node.failureSummary})),
    }));
}"""


@cache
def axe_source() -> str:
    if not AXE.exists():
        raise FileNotFoundError(f"{AXE} is missing: run `npm ci` (make does)")
    return AXE.read_text(encoding="utf-8")


def wcag_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.1 A/AA violations on the page as it is now."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    return page.evaluate(RUN_AXE, WCAG_21_AA)


def describe(violations: list[dict[str, Any]]) -> str:
    """One line per violated rule, then one per failing element with axe's reason."""
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"]:
            summary = " ".join((node["summary"] or "").split())
            lines.append(f"    {' '.join(map(str, node['target']))}: {summary}")
    return "\n".join(lines)


def assert_accessible(page: Page, what: str) -> None:
    violations = wcag_violations(page)
    assert not violations, f"{what} has WCAG 2.1 A/AA violations:\n{describe(violations)}"
