"""PNG charts of a run: latency percentiles, throughput, time per part of a turn, intent confusion."""

from __future__ import annotations

import subprocess
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib import font_manager
from matplotlib.ticker import NullLocator

BOTS = {"wushua": "误刷助手", "baseline": "stock bot"}
PARTS = {
    "nlu_ms": "NLU",
    "policies_ms": "policies",
    "actions_ms": "action server",
    "tracker_store_ms": "tracker store",
    "other_ms": "other (Rasa)",
    "http_ms": "HTTP, channel, queueing",
}


def _use_cjk_font() -> None:
    """Draw with a Chinese font when fontconfig knows one (Debian: fonts-noto-cjk), else ASCII names.

    Matplotlib 3.5 has no per-glyph fallback, so the CJK font (which has Latin
    too) is used for everything. Intent names are ASCII either way.
    """
    try:
        listed = subprocess.run(["fc-list", "-f", "%{file}\n", ":lang=zh"], capture_output=True, text=True)
    except FileNotFoundError:
        listed = None
    files = sorted(set(listed.stdout.split())) if listed else []
    if not files:
        BOTS["wushua"] = "wushua"
        return
    chosen = next((path for path in files if "Sans" in path and "Regular" in path), files[0])
    font_manager.fontManager.addfont(chosen)
    plt.rcParams["font.family"] = [font_manager.FontProperties(fname=chosen).get_name()]


def _save(figure: plt.Figure, path: Path) -> str:
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path.name


def latency(load: dict, out: Path) -> str:
    figure, axes = plt.subplots(figsize=(7, 4))
    for (bot, label), style in zip(BOTS.items(), ("-", "--"), strict=True):
        levels = load.get(bot, {}).get("levels", [])
        if not levels:
            continue
        for key, colour in (("p50_ms", "tab:blue"), ("p95_ms", "tab:orange"), ("p99_ms", "tab:red")):
            users = [level["users"] for level in levels]
            values = [level[key] for level in levels]
            axes.plot(users, values, style, marker="o", color=colour, label=f"{label} {key[:3]}")
    users = sorted({level["users"] for bot in load.values() for level in bot["levels"]})
    axes.set(
        xlabel="concurrent users", ylabel="ms per turn", xscale="log", yscale="log", title="Latency per turn"
    )
    axes.set_xticks(users, map(str, users))
    axes.xaxis.set_minor_locator(NullLocator())
    axes.legend(fontsize=8)
    return _save(figure, out / "latency.png")


def throughput(load: dict, out: Path) -> str:
    figure, axes = plt.subplots(figsize=(7, 4))
    bots = [bot for bot in BOTS if bot in load]
    users = sorted({level["users"] for bot in bots for level in load[bot]["levels"]})
    width = 0.8 / len(bots)
    for offset, bot in enumerate(bots):
        by_users = {level["users"]: level["turns_per_second"] for level in load[bot]["levels"]}
        positions = [index + offset * width for index in range(len(users))]
        axes.bar(positions, [by_users.get(count, 0) for count in users], width, label=BOTS[bot])
    axes.set_xticks([index + width * (len(bots) - 1) / 2 for index in range(len(users))], map(str, users))
    axes.set(xlabel="concurrent users", ylabel="turns per second", title="Throughput")
    axes.legend()
    return _save(figure, out / "throughput.png")


def breakdown(levels: list[dict], out: Path) -> str:
    figure, axes = plt.subplots(figsize=(7, 4))
    labels = [str(level["users"]) for level in levels]
    bottoms = [0.0] * len(levels)
    for key, name in PARTS.items():
        values = [max(level["breakdown"].get(key, 0.0), 0.0) for level in levels]
        axes.bar(labels, values, bottom=bottoms, label=name)
        bottoms = [bottom + value for bottom, value in zip(bottoms, values, strict=True)]
    axes.set(
        xlabel="concurrent users", ylabel="mean ms per turn", title="Where a turn's time goes (误刷助手)"
    )
    axes.legend(fontsize=8)
    return _save(figure, out / "breakdown.png")


def confusion(labels: list[str], matrix: list[list[int]], out: Path) -> str:
    size = max(6.0, 0.4 * len(labels))
    figure, axes = plt.subplots(figsize=(size + 2, size))
    image = axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    axes.set_yticks(range(len(labels)), labels, fontsize=7)
    darkest = max(map(max, matrix))
    for row, counts in enumerate(matrix):
        for column, count in enumerate(counts):
            if count:
                colour = "white" if count > darkest / 2 else "black"
                axes.text(column, row, count, ha="center", va="center", fontsize=6, color=colour)
    axes.set(xlabel="predicted", ylabel="true", title="Held-out intents")
    figure.colorbar(image, ax=axes, fraction=0.04)
    return _save(figure, out / "confusion.png")


def draw(summary: dict, out: Path) -> list[str]:
    """Every chart this run has data for; their file names."""
    _use_cjk_font()
    load = summary.get("load", {})
    written = []
    if load:
        written += [latency(load, out), throughput(load, out)]
    measured = [level for level in load.get("wushua", {}).get("levels", []) if level.get("breakdown")]
    if measured:
        written.append(breakdown(measured, out))
    heldout = summary.get("understanding", {}).get("heldout")
    if heldout:
        written.append(confusion(heldout["confusion"]["labels"], heldout["confusion"]["matrix"], out))
    return written
