"""The benchmark harness keeps working: a smoke run against the real servers, and the report from a full run.

The smoke run (``python -m bench.run --smoke``) starts our Rasa and action
servers, holds one short conversation and writes its report; it needs the
trained model, like the other end-to-end tests. The report test renders a
made-up full run, so the parts the smoke run skips (baseline, training,
understanding, cluster, regressions, history) cannot rot either.
"""

from __future__ import annotations

import argparse
import copy
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from bench import charts, report, run
from bench.load import Conversation, load_conversations
from bench.understanding import confusion

ROOT = Path(__file__).resolve().parent.parent
SMOKE_TIMEOUT = 900  # the Rasa server alone takes minutes to load the model on a busy 2-core machine


@pytest.mark.e2e
def test_a_smoke_run_talks_to_the_real_servers_and_writes_a_report(tmp_path: Path) -> None:
    if not (ROOT / "models" / "wushua.tar.gz").exists():
        pytest.fail("models/wushua.tar.gz is missing: run `make test`, which trains it first")
    out = tmp_path / "smoke"
    run = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=SMOKE_TIMEOUT,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["mode"] == "smoke" and "baseline" not in summary["load"]
    assert set(summary["text_rules_slowest_ms"]) == {"masking", "entities"}
    assert all(0 < milliseconds for milliseconds in summary["text_rules_slowest_ms"].values())
    (level,) = summary["load"]["wushua"]["levels"]
    assert level["users"] == 1 and level["turns"] == 4
    assert level["errors"] == 0 and level["off_script"] == 0, level
    assert 0 < level["p50_ms"] <= level["p95_ms"] <= level["p99_ms"]
    parts = level["breakdown"]
    assert parts["turns"] == 4 and parts["nlu_calls"] == 1
    assert parts["nlu_ms"] > 0 and parts["policies_ms"] > 0 and parts["actions_ms"] > 0
    assert parts["tracker_store_calls"] >= 2  # retrieved and saved every turn
    assert summary["load"]["wushua"]["peak_rss_mb"]["rasa"] > 100
    assert {"latency.png", "throughput.png", "breakdown.png"} <= {path.name for path in out.iterdir()}
    assert "| turns/s, 1 user | " in run.stdout
    assert "## Speed under load" in (out / "report.md").read_text(encoding="utf-8")


def _level(users: int, turns_per_second: float, p50: float, errors: int = 0) -> dict:
    return {
        "users": users,
        "turns": 100,
        "conversations": 20,
        "seconds": 100 / turns_per_second,
        "turns_per_second": turns_per_second,
        "p50_ms": p50,
        "p95_ms": p50 * 2,
        "p99_ms": p50 * 3,
        "mean_ms": p50 * 1.2,
        "errors": errors,
        "error_samples": ["500 on '你好': boom"] if errors else [],
        "off_script": 0,
        "off_script_samples": [],
        "breakdown": {
            "turns": 100,
            "total_ms": p50,
            **{f"{part}_ms": p50 / 6 for part in ("nlu", "policies", "actions", "tracker_store", "other")},
            "http_ms": p50 / 6,
            **{f"{part}_calls": 2.0 for part in ("nlu", "policies", "actions", "tracker_store")},
        },
        "cpu_ms_per_turn": {"rasa": p50 / 2, "actions": 10.0},
        "peak_rss_mb": {"rasa": 1400.0, "actions": 120.0},
    }


@pytest.fixture
def full_run() -> dict:
    gold = Counter({"greet": 10, "goodbye": 8, "report_misswipe": 12})
    errors = [{"text": "拜", "expected": "goodbye", "got": "nlu_fallback"}]
    heldout = {
        "examples": 30,
        "intent_accuracy": np.float64(0.967),  # scikit-learn's scores are numpy floats
        "intent_macro_f1": np.float64(0.95),
        "entity_f1": 0.96,
        "per_intent_f1": {"goodbye": 0.94, "greet": 1.0, "report_misswipe": 1.0},
        "entities": {"amount": {"precision": 1.0, "recall": 0.8, "f1": 0.889, "support": 5}},
        "intent_errors": errors,
        "entity_errors": [],
        "confusion": confusion(gold, errors),
    }
    summary = {
        "mode": "full",
        "started": "2026-11-26T10:00:00+08:00",
        "machine": {
            "cpu": "AMD EPYC",
            "cores": 2,
            "memory_gib": 23.5,
            "python": "3.10.13",
            "rasa": "3.6.21",
            "load_before": "1.00 1.00 1.00",
            "load_after": "2.00 2.00 2.00",
        },
        "git": {"commit": "abc1234", "dirty": False},
        "text_rules_slowest_ms": {"masking": 12.0, "entities": 250.0},
        "understanding": {
            "heldout": heldout,
            "stories": {
                "conversations_correct": 10,
                "conversations": 10,
                "conversation_accuracy": 1.0,
                "action_accuracy": 1.0,
                "actions": 102,
            },
            "cv": {
                "folds": 5,
                "intent_accuracy": 0.97,
                "intent_macro_f1": 0.96,
                "intent_weighted_f1": 0.97,
                "entities": {
                    "DIETClassifier": {
                        "merchant": {"precision": 0.9, "recall": 0.9, "f1-score": 0.9, "support": 40}
                    }
                },
            },
        },
        "load": {
            "wushua": {
                "conversations": 6,
                "startup_seconds": {"rasa": 90.0, "actions": 5.0},
                "peak_rss_mb": {"rasa": 1400.0, "actions": 120.0},
                "levels": [_level(1, 3.0, 300), _level(50, 8.0, 5000)],
            },
            "baseline": {
                "conversations": 4,
                "startup_seconds": {"rasa": 30.0},
                "peak_rss_mb": {"rasa": 700.0},
                "levels": [_level(1, 20.0, 45), _level(50, 32.0, 1500)],
            },
        },
        "training": {"stock_init_seconds": 120.0, "full_seconds": 250.0, "no_change_retrain_seconds": 25.0},
        "cluster": {
            "users": 50,
            "seconds": 60.0,
            "conversations": 6,
            "runs": [_cluster_run(1, 4.0, 6000), _cluster_run(2, 5.0, 4800, errors=1)],
        },
    }
    summary["ratios"] = report.ratios(summary)
    summary["cluster"]["throughput_ratio"] = report.cluster_throughput_ratio(summary["cluster"])
    return summary


def _cluster_run(replicas: int, turns_per_second: float, p50: float, errors: int = 0) -> dict:
    level = _level(50, turns_per_second, p50, errors)
    for measured_in_the_servers in ("breakdown", "cpu_ms_per_turn", "peak_rss_mb"):
        del level[measured_in_the_servers]
    return {"rasa_replicas": replicas, "action_replicas": replicas, "rasa_ready_seconds": 95.0, **level}


def test_a_full_run_is_judged_against_the_targets(full_run: dict) -> None:
    assert full_run["ratios"] == {"users_at_most": 50, "throughput": 0.25, "p50_single_user": 6.667}
    verdicts = {target.measure: target.met for target in report.targets(full_run)}
    assert verdicts["throughput ratio"] is False and verdicts["single-user p50 ratio"] is False
    assert verdicts["full training s"] and verdicts["Rasa peak RSS MiB"]
    assert verdicts["errors"] is False, "the 2-replica cluster run had an error"
    assert verdicts["off-script replies"] is True
    assert verdicts["no-change retrain s"] is False
    assert verdicts["held-out intent_accuracy"] and verdicts["story conversation accuracy"]
    assert verdicts["worst-input masking ms"] is True and verdicts["worst-input entities ms"] is False
    assert json.loads(json.dumps([target.met for target in report.targets(full_run)]))  # plain bools
    smoke = {"mode": "smoke", "load": {"wushua": full_run["load"]["wushua"]}}
    assert {target.measure for target in report.targets(smoke) if target.met is None} >= {"throughput ratio"}


def test_regressions_are_flagged_against_the_previous_run(full_run: dict) -> None:
    assert report.regressions(full_run, None) == []
    assert report.regressions(full_run, copy.deepcopy(full_run)) == []
    worse = copy.deepcopy(full_run)
    worse["load"]["wushua"]["levels"][1]["turns_per_second"] = 6.0
    worse["load"]["wushua"]["levels"][1]["errors"] = 2
    worse["understanding"]["heldout"]["intent_accuracy"] = 0.966
    worse["understanding"]["heldout"]["per_intent_f1"]["goodbye"] = 0.9
    worse["ratios"] = report.ratios(worse)
    flagged = report.regressions(worse, full_run)
    assert any(line.startswith("throughput ratio: 0.25 → 0.18") for line in flagged)
    assert "errors: 1 → 3" in flagged  # the cluster run's error counts in both
    assert any(line.startswith("held-out intent_accuracy") for line in flagged)
    assert any(line.startswith("held-out F1 goodbye") for line in flagged)
    assert not any("p50" in line for line in flagged)
    slower = copy.deepcopy(full_run)
    slower["text_rules_slowest_ms"] = {"masking": 20.0, "entities": 600.0}  # only a doubling is news
    assert report.regressions(slower, full_run) == ["worst-input entities ms: 250 → 600"]


def test_off_script_replies_in_the_cluster_miss_the_target(full_run: dict) -> None:
    """The 07:04 run: the cluster's balancer failed half the action calls, and only the replies showed it."""
    broken = copy.deepcopy(full_run)
    broken["cluster"]["runs"][0]["off_script"] = 694
    verdicts = {target.measure: target.met for target in report.targets(broken)}
    assert verdicts["off-script replies"] is False
    assert "off-script replies: 0 → 694" in report.regressions(broken, full_run)


def test_the_previous_run_is_the_newest_earlier_one_of_the_same_mode(tmp_path: Path) -> None:
    for name, mode in (
        ("20261101-100000", "full"),
        ("20261102-100000", "full"),
        ("20261103-100000", "smoke"),
    ):
        (tmp_path / name).mkdir()
        (tmp_path / name / "summary.json").write_text(json.dumps({"mode": mode}))
    current = tmp_path / "20261104-100000"
    assert report.previous_summary(tmp_path, current, "full")["directory"] == "20261102-100000"
    assert report.previous_summary(tmp_path, current, "smoke")["directory"] == "20261103-100000"
    assert report.previous_summary(tmp_path, tmp_path / "20261101-000000", "full") is None


def test_the_history_row_reads_back_as_it_was_written(full_run: dict, tmp_path: Path) -> None:
    history = tmp_path / "history.md"
    history.write_text((ROOT / "bench" / "history.md").read_text(encoding="utf-8"), encoding="utf-8")
    report.append_history(full_run, "a note | with a bar of its own", history)
    started, figures = report.last_history_row(history.read_text(encoding="utf-8"))
    assert started == "2026-11-26 10:00"
    assert figures == {
        "throughput ratio": 0.25,
        "single-user p50 ratio": 6.67,
        "errors": 1,
        "Rasa peak RSS MiB": 1400,
        "full training s": 250,
        "no-change retrain s": 25,
        "held-out intent_accuracy": 0.967,
        "held-out intent_macro_f1": 0.95,
        "held-out entity_f1": 0.96,
        "cluster throughput 2 ÷ 1 replicas": 1.25,
    }
    assert report.last_history_row("# Benchmark history\n\nNo runs yet.\n") is None
    edited = history.read_text(encoding="utf-8").replace("| 0.25 | 6.67 |", "| n/a | – |")
    assert "throughput ratio" not in report.last_history_row(edited)[1]
    assert "single-user p50 ratio" not in report.last_history_row(edited)[1]
    assert report.last_history_row("## Runs\n\n| run | commit |\n|---|---|\n") is None


def test_a_fresh_clone_compares_a_full_run_with_the_newest_history_row(
    full_run: dict, tmp_path: Path
) -> None:
    """bench/results is git-ignored, so on a fresh clone the history is the only earlier run."""
    history = tmp_path / "history.md"
    history.write_text((ROOT / "bench" / "history.md").read_text(encoding="utf-8"), encoding="utf-8")
    report.append_history(full_run, "–", history)
    text = history.read_text(encoding="utf-8")
    same = copy.deepcopy(full_run)
    same["understanding"]["heldout"]["intent_accuracy"] = 0.96695  # the row keeps three decimals
    assert report.regressions_against_history(same, text) == (
        "the 2026-11-26 10:00 row of bench/history.md",
        [],
    )
    worse = copy.deepcopy(full_run)
    worse["load"]["wushua"]["levels"][1]["turns_per_second"] = 6.0
    worse["understanding"]["heldout"]["entity_f1"] = 0.958
    worse["load"]["wushua"]["peak_rss_mb"]["rasa"] = 1600.0
    worse["ratios"] = report.ratios(worse)
    _, flagged = report.regressions_against_history(worse, text)
    assert flagged == [
        "throughput ratio: 0.25 → 0.19",
        "Rasa peak RSS MiB: 1400 → 1600",
        "held-out entity_f1: 0.96 → 0.958",
    ]
    assert report.regressions_against_history(full_run, "# Benchmark history\n") is None


def test_a_full_report_has_every_section_chart_and_history_row(full_run: dict, tmp_path: Path) -> None:
    full_run["previous"] = "20261125-100000"
    full_run["regressions"] = ["throughput ratio: 0.3 → 0.25"]
    images = charts.draw(full_run, tmp_path)
    assert images == ["latency.png", "throughput.png", "breakdown.png", "confusion.png"]
    history = tmp_path / "history.md"
    history.write_text((ROOT / "bench" / "history.md").read_text(encoding="utf-8"), encoding="utf-8")
    report.append_history(full_run, "TED max_history 4 → 3", history)
    row = history.read_text(encoding="utf-8").splitlines()[-1]
    assert row.startswith(
        "| 2026-11-26 10:00 | `abc1234` | TED max_history 4 → 3 | 0.25 | 6.67 | 1 | 1,400 | 250 |"
    )
    assert row.endswith("| 1.25 |")
    runs = history.read_text(encoding="utf-8").split("\n## Runs", 1)[1]  # other sections have tables too
    header = next(line for line in runs.splitlines() if line.startswith("| run "))
    assert row.count("|") == header.count("|")
    text = report.markdown(full_run, images, history.read_text(encoding="utf-8"))
    for heading in ("## Summary", "## Targets", "## Regressions", "## Understanding", "## Speed under load",
                    "### Where a turn's time goes", "## Cluster: 1 replica against 2", "## Training",
                    "## History"):  # fmt: skip
        assert heading in text
    assert "| turns/s, 50 users | 8.0 | 32.0 | 0.25× |" in text
    assert "| throughput ratio | ≥ 1.0× the stock bot, most users | 0.25 | **missed** |" in text
    assert "- **throughput ratio: 0.3 → 0.25**" in text
    assert "5-fold cross-validation" in text and "![intent confusion matrix](confusion.png)" in text
    assert "| 1 | 1 | 100 | 4.00 | 6,000 ms | 12,000 ms | 0 | 0 | 95 s |" in text
    assert "| 2 | 2 | 100 | 5.00 | 4,800 ms | 9,600 ms | 1 | 0 | 95 s |" in text
    assert "so only the ratio compares: throughput with 2 replicas is 1.25× that with 1." in text
    assert "- 2 Rasa + 2 action replicas: 500 on '你好': boom" in text
    assert "| cluster throughput, 2 ÷ 1 replicas | 1.25× | – |  |" in text
    assert (
        "| cluster of 1 Rasa + 1 action replica, 50 users | 4.0 turns/s, p50 / p95 6,000 / 12,000 ms, "
        "errors 0, off script 0 | – |  |"
    ) in text


def test_a_cluster_run_without_both_replica_counts_has_no_ratio(full_run: dict) -> None:
    only_one = {key: value for key, value in full_run["cluster"].items() if key != "throughput_ratio"}
    only_one["runs"] = only_one["runs"][:1]
    assert report.cluster_throughput_ratio(only_one) is None
    text = report.markdown({**full_run, "cluster": only_one, "regressions": []}, [], "")
    assert "one of the two runs failed, so there is no ratio this time" in text
    assert "cluster throughput 2 ÷ 1 replicas" not in report.measures({**full_run, "cluster": only_one})


def test_the_cluster_phase_runs_in_a_full_run_and_can_be_skipped() -> None:
    assert "cluster" in run.PHASES
    assert run._skipped(run._arguments([])) == set()
    assert run._skipped(run._arguments(["--skip", "cluster"])) == {"cluster"}
    assert "cluster" in run._skipped(run._arguments(["--smoke"]))


def test_the_cluster_phase_loads_1_then_2_replicas_with_the_most_users(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls = []

    def fake_cluster(
        replicas: int, workdir: Path, scripts: list[Conversation], users: int, seconds: float
    ) -> dict:
        calls.append((replicas, workdir.name, users, seconds))
        return _cluster_run(replicas, 2.0 * replicas + 1, 1000)

    monkeypatch.setattr(run, "load_cluster", fake_cluster)
    args = run._arguments(["--users", "1", "20", "--seconds", "30"])
    summary: dict = {"failures": {}}
    run._measure(summary, tmp_path, tmp_path, args, set(run.PHASES) - {"cluster"})
    assert calls == [(1, "cluster-1", 20, 30.0), (2, "cluster-2", 20, 30.0)]
    assert summary["cluster"]["throughput_ratio"] == round(5 / 3, 3)
    saved = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert saved["cluster"]["users"] == 20 and len(saved["cluster"]["runs"]) == 2
    assert saved["cluster"]["throughput_ratio"] == summary["cluster"]["throughput_ratio"]
    explicit = argparse.Namespace(**{**vars(args), "cluster_users": 7})
    calls.clear()
    run._measure({"failures": {}}, tmp_path, tmp_path, explicit, set(run.PHASES) - {"cluster"})
    assert [users for _, _, users, _ in calls] == [7, 7]


def test_cross_validation_draws_the_same_folds_in_every_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rasa shuffles the folds with numpy's global state; bench/seeded_rasa.py seeds it before Rasa runs."""
    from rasa.nlu.test import generate_folds
    from rasa.shared.nlu.training_data.loading import load_data

    from bench import seeded_rasa

    training_data = load_data(str(ROOT / "data" / "nlu.yml"))

    def folds() -> list[list[str]]:
        return [
            sorted(example.get("text") for example in test.intent_examples)
            for _, test in generate_folds(5, training_data)
        ]

    def folds_of_a_seeded_run() -> list[list[str]]:
        drawn: list[list[str]] = []
        monkeypatch.setattr("rasa.__main__.main", lambda: drawn.extend(folds()))
        seeded_rasa.main()
        return drawn

    first = folds_of_a_seeded_run()
    np.random.seed(7)  # whatever the state before, the run seeds it again
    assert folds_of_a_seeded_run() == first
    assert len(first) == 5
    assert sum(len(fold) for fold in first) == len(training_data.intent_examples)
    np.random.seed(7)
    assert folds() != first, "unseeded, the folds would have been drawn otherwise"


def test_the_seeded_wrapper_runs_rasa_with_the_arguments_it_is_given() -> None:
    """The benchmark starts it as ``python -m bench.seeded_rasa <rasa arguments>`` from the project root."""
    finished = subprocess.run(
        [sys.executable, "-m", "bench.seeded_rasa", "--version"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 0, finished.stderr
    assert "Rasa Version      :         3.6.21" in finished.stdout


def test_the_confusion_matrix_puts_each_error_off_the_diagonal() -> None:
    found = confusion(
        Counter({"greet": 3, "goodbye": 2}), [{"text": "x", "expected": "greet", "got": "nlu_fallback"}]
    )
    assert found == {
        "labels": ["goodbye", "greet", "nlu_fallback"],
        "matrix": [[2, 0, 0], [0, 2, 1], [0, 0, 0]],
    }


def test_every_conversation_script_has_turns_to_say() -> None:
    for bot in ("wushua", "baseline"):
        scripts = load_conversations(bot)
        assert len(scripts) >= 4
        assert all(
            conversation.turns and all(turn.say for turn in conversation.turns) for conversation in scripts
        )
