"""Run the benchmark: ``python -m bench.run`` (everything), ``--smoke`` (the quick check CI runs).

Every run first times masking and entity finding on the worst inputs a channel
accepts (``bench/text_rules.py``). A full run, in order: held-out NLU scores and test stories (and 5-fold
cross-validation with ``--cv``); the held-out receipt photos (``bench/receipts.py``: per-field
accuracy, seconds per image and for one 12 MP photo, full card numbers covered); the stock bot
from ``rasa init``; our bot and then the stock bot under 1, 10 and 50 simulated users; a full and a no-change
training; our bot as a cluster (``scripts/cluster.py``: nginx, PostgreSQL,
Redis) with 1 Rasa and 1 action-server replica, then 2 and 2, under the most
users, for the throughput ratio of 2 replicas to 1. It writes report.md,
summary.json (saved after every step, so a failed step loses nothing before
it), charts and the servers' logs to ``bench/results/<timestamp>/``, prints
the summary table, flags regressions against the previous run of the same
mode (for a full run with no earlier results, as on a fresh clone, against
the newest row of bench/history.md) and adds a row to bench/history.md.
``--skip`` leaves phases out (a partial run, which the history leaves out).

The smoke run starts our servers and holds one short conversation: no
baseline, training, understanding, receipts, cluster or cross-validation (each of those
loads the model again, which takes minutes on a small machine).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from bench import charts, load, probe, receipts, report, servers, text_rules, training, understanding
from scripts.cluster import Cluster

RESULTS = Path(__file__).with_name("results")
MODEL = servers.ROOT / "models" / "wushua.tar.gz"
PHASES = ("understanding", "receipts", "load", "baseline", "training", "cluster")
SMOKE_TURNS = 4
CLUSTER_REPLICAS = (1, 2)  # Rasa replicas, and as many action servers, in the cluster runs


def _machine() -> dict:
    cpu_lines = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpu_lines if line.startswith("model name")), "")
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    from rasa.version import __version__ as rasa_version

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "rasa": rasa_version,
        "load_before": " ".join(f"{value:.2f}" for value in os.getloadavg()),
    }


def _git() -> dict:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=servers.ROOT, capture_output=True, text=True).stdout.strip()

    return {
        "commit": git("rev-parse", "--short", "HEAD") or "unknown",
        "dirty": bool(git("status", "--porcelain")),
    }


def _say(message: str) -> None:
    print(f"[bench {datetime.now():%H:%M:%S}] {message}", flush=True)


def warm_up(url: str, scripts: list[load.Conversation], seconds: float, max_turns: int | None) -> None:
    """One user through the first conversation, so that no measured turn pays for a cold start."""
    turns = min(len(scripts[0].turns), max_turns or len(scripts[0].turns))
    asyncio.run(load.run_level(url, scripts[:1], 1, seconds, max_turns=turns))


def load_bot(
    bot: servers.Bot,
    scripts: list[load.Conversation],
    users: list[int],
    seconds: float,
    max_turns: int | None,
) -> dict:
    """Warm the bot up with one conversation, then each level of users in turn."""
    warm_up(bot.rasa.url, scripts, seconds, max_turns)
    levels = []
    for count in users:
        recorded = len(probe.read(bot.probe_file))
        cpu_before = bot.cpu_seconds()
        level = asyncio.run(load.run_level(bot.rasa.url, scripts, count, seconds, max_turns))
        result = level.summary()
        result["breakdown"] = probe.breakdown(probe.read(bot.probe_file)[recorded:], result["mean_ms"])
        result["cpu_ms_per_turn"] = {
            role: round(1000 * (seconds_now - cpu_before[role]) / max(level.turns, 1), 1)
            for role, seconds_now in bot.cpu_seconds().items()
        }
        result["peak_rss_mb"] = bot.peak_rss_mb()
        levels.append(result)
        _say(
            f"{bot.name}: {count} user(s), {result['turns']} turns, {result['turns_per_second']} turns/s, "
            f"p50 {result['p50_ms']} ms, errors {result['errors']}, off script {result['off_script']}"
        )
    return {
        "conversations": len(scripts),
        "startup_seconds": {server.role: round(server.startup_seconds, 1) for server in bot.servers},
        "peak_rss_mb": bot.peak_rss_mb(),
        "levels": levels,
    }


def load_cluster(
    replicas: int, workdir: Path, scripts: list[load.Conversation], users: int, seconds: float
) -> dict:
    """Our bot as a cluster of ``replicas`` Rasa and as many action servers: warmed up, then ``users``."""
    with Cluster(
        workdir, rasa_replicas=replicas, action_replicas=replicas, model=MODEL, with_console=False
    ) as cluster:
        warm_up(cluster.url, scripts, seconds, None)
        level = asyncio.run(load.run_level(cluster.url, scripts, users, seconds))
        rasa_ready_seconds = max(replica.ready_seconds[-1] for replica in cluster.rasa)
    result = {
        "rasa_replicas": replicas,
        "action_replicas": replicas,
        "rasa_ready_seconds": rasa_ready_seconds,
        **level.summary(),
    }
    _say(
        f"cluster of {replicas}: {users} user(s), {result['turns']} turns, {result['turns_per_second']} "
        f"turns/s, p50 {result['p50_ms']} ms, errors {result['errors']}, off script {result['off_script']}"
    )
    return result


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="1 user, a few turns, our bot only")
    parser.add_argument("--cv", action="store_true", help="add 5-fold cross-validation (5 NLU trainings)")
    parser.add_argument("--users", type=int, nargs="+", default=[1, 10, 50], help="users at each level")
    parser.add_argument("--seconds", type=float, default=60, help="length of each level of load")
    parser.add_argument(
        "--cluster-users", type=int, help="users in the cluster runs (default: most of --users)"
    )
    parser.add_argument("--skip", nargs="+", choices=PHASES, default=[], help="phases to leave out")
    parser.add_argument("--note", default="", help="what changed since the last run (bench/history.md)")
    parser.add_argument("--out", type=Path, help="results directory (default bench/results/<timestamp>)")
    return parser.parse_args(argv)


def _plain(value: object) -> object:
    """JSON for numpy scalars (scikit-learn's scores are numpy floats)."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _save(summary: dict, out: Path) -> None:
    text = json.dumps(summary, ensure_ascii=False, indent=2, default=_plain)
    (out / "summary.json").write_text(text, encoding="utf-8")


@contextmanager
def _step(summary: dict, out: Path, name: str) -> Iterator[None]:
    """One step of the run: a failure is recorded and the run goes on; the summary is saved either way."""
    _say(name)
    try:
        yield
    except Exception as error:
        summary["failures"][name] = f"{type(error).__name__}: {error}"
        _say(f"FAILED: {name}: {error}")
    finally:
        _save(summary, out)


def _keep_logs(work: Path, out: Path) -> None:
    """The servers' and Rasa commands' logs, into the results (the work folder is temporary)."""
    for log in work.rglob("*.log"):
        kept = out / "logs" / log.relative_to(work)
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(log, kept)


def _skipped(args: argparse.Namespace) -> set[str]:
    """The phases this run leaves out: all but the load phase in a smoke run, else what ``--skip`` says."""
    return set(PHASES) - {"load"} if args.smoke else set(args.skip)


def _measure(summary: dict, work: Path, out: Path, args: argparse.Namespace, skip: set[str]) -> None:
    users, max_turns = ([1], SMOKE_TURNS) if args.smoke else (args.users, None)
    with _step(summary, out, "text rules on the worst inputs"):  # under a second: every mode runs it
        summary["text_rules_slowest_ms"] = text_rules.slowest_ms()
    if "understanding" not in skip:
        with _step(summary, out, "held-out NLU set"):
            summary["understanding"]["heldout"] = understanding.heldout(MODEL)
        with _step(summary, out, "test stories"):
            summary["understanding"]["stories"] = understanding.stories(MODEL, work / "stories")
        if args.cv:
            with _step(summary, out, "5-fold cross-validation"):
                summary["understanding"]["cv"] = understanding.cross_validation(work / "cv")
    if "receipts" not in skip:
        with _step(summary, out, "receipt photos: the held-out set"):
            summary["receipts"] = receipts.heldout()
    stock_model = None
    if "baseline" not in skip:
        with _step(summary, out, "stock bot: rasa init --no-prompt"):
            stock_model, init_seconds = training.stock_bot(work / "stock" / "moodbot")
            summary["training"]["stock_init_seconds"] = round(init_seconds, 1)
    if "load" not in skip:
        with _step(summary, out, "our bot under load"):
            with servers.running_bot("wushua", servers.ROOT, MODEL, work / "wushua") as bot:
                scripts = load.load_conversations("wushua")
                summary["load"]["wushua"] = load_bot(bot, scripts, users, args.seconds, max_turns)
        if stock_model:
            with _step(summary, out, "stock bot under load"):
                project = stock_model.parent.parent
                with servers.running_bot("baseline", project, stock_model, work / "baseline", False) as bot:
                    scripts = load.load_conversations("baseline")
                    summary["load"]["baseline"] = load_bot(bot, scripts, users, args.seconds, max_turns)
        summary["ratios"] = report.ratios(summary)
    if "training" not in skip:
        with _step(summary, out, "training: full, then again with no change"):
            summary["training"].update(training.training_times(work / "training"))
    if "cluster" not in skip:
        _measure_cluster(summary, work, out, args)


def _measure_cluster(summary: dict, work: Path, out: Path, args: argparse.Namespace) -> None:
    """The same users, seconds and scripts through a cluster of 1 replica, then 2; the throughput ratio."""
    scripts = load.load_conversations("wushua")
    users = args.cluster_users or max(args.users)
    found: dict = {"users": users, "seconds": args.seconds, "conversations": len(scripts), "runs": []}
    summary["cluster"] = found
    for replicas in CLUSTER_REPLICAS:
        with _step(summary, out, f"cluster of {replicas} Rasa and {replicas} action replica(s) under load"):
            found["runs"].append(
                load_cluster(replicas, work / f"cluster-{replicas}", scripts, users, args.seconds)
            )
    ratio = report.cluster_throughput_ratio(found)
    if ratio is not None:
        found["throughput_ratio"] = ratio
    _save(summary, out)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    if not MODEL.exists():
        _say(f"{MODEL} is missing: `make run` or `make test` train it")
        return 2
    started = datetime.now().astimezone()
    skip = _skipped(args)
    # Runs are compared with runs of the same mode only, and only full runs enter the history.
    mode = "smoke" if args.smoke else "partial" if skip else "full"
    out = args.out or RESULTS / (started.strftime("%Y%m%d-%H%M%S") + ("" if mode == "full" else f"-{mode}"))
    out.mkdir(parents=True, exist_ok=True)
    summary: dict = {
        "mode": mode,
        "started": started.isoformat(timespec="seconds"),
        "machine": _machine(),
        "git": _git(),
        "options": {"users": args.users, "seconds": args.seconds, "skip": sorted(skip), "cv": args.cv},
        "understanding": {},
        "load": {},
        "training": {},
        "failures": {},
    }
    with tempfile.TemporaryDirectory(prefix="bench-") as work:
        try:
            _measure(summary, Path(work), out, args, skip)
        finally:
            _keep_logs(Path(work), out)
    summary["machine"]["load_after"] = " ".join(f"{value:.2f}" for value in os.getloadavg())

    previous = report.previous_summary(out.parent, out, mode)
    summary["previous"], summary["regressions"] = None, []
    if previous:
        summary["previous"] = f"`bench/results/{previous['directory']}`"
        summary["regressions"] = report.regressions(summary, previous)
    elif mode == "full":
        committed_history = report.HISTORY.read_text(encoding="utf-8")
        against_history = report.regressions_against_history(summary, committed_history)
        if against_history:
            summary["previous"], summary["regressions"] = against_history
    verdicts = report.targets(summary)
    summary["targets"] = [{**target.__dict__, "met": target.met} for target in verdicts]
    _save(summary, out)
    if mode == "full":
        report.append_history(summary, args.note)
    images = charts.draw(summary, out)
    history = report.HISTORY.read_text(encoding="utf-8")
    (out / "report.md").write_text(report.markdown(summary, images, history), encoding="utf-8")

    print(f"\n{report.summary_table(summary)}\n")
    for target in verdicts:
        if target.met is not None:
            verdict = "met   " if target.met else "MISSED"
            print(f"{verdict}  {target.measure}: {target.value:g} (goal {target.goal})")
    if summary["previous"]:
        print(f"\ncompared with {summary['previous']}: {len(summary['regressions'])} regression(s)")
    for regression in summary["regressions"]:
        print(f"REGRESSION  {regression}")
    for name, failure in summary["failures"].items():
        print(f"FAILED  {name}: {failure.splitlines()[0]}")
    print(f"\nreport: {out / 'report.md'}")
    return 1 if summary["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
