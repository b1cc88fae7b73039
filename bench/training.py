"""Training cost, and the stock bot the load figures are compared with.

Both `rasa train` calls use a cache directory of their own, so the first is a
full training whatever `.rasa/cache` holds, and the second sees unchanged
data and a warm cache: the no-change retrain a developer gets. Neither
touches models/wushua.tar.gz.
"""

from __future__ import annotations

from pathlib import Path

from bench.servers import ROOT, STOCK_RASA, run_rasa


def training_times(workdir: Path) -> dict[str, float]:
    """Seconds for a full `rasa train` of the project, then for the same call on unchanged data."""
    workdir.mkdir(parents=True, exist_ok=True)
    args = ["train", "--fixed-model-name", "bench", "--out", str(workdir / "models")]
    full = run_rasa(args, ROOT, workdir / "train-full.log", workdir / "cache")
    retrain = run_rasa(args, ROOT, workdir / "train-again.log", workdir / "cache")
    return {"full_seconds": round(full, 1), "no_change_retrain_seconds": round(retrain, 1)}


def stock_bot(workdir: Path) -> tuple[Path, float]:
    """`rasa init --no-prompt` in ``workdir`` (it trains the moodbot); its model and the seconds it took."""
    workdir.mkdir(parents=True, exist_ok=True)
    command = ["init", "--no-prompt", "--init-dir", str(workdir)]
    seconds = run_rasa(
        command, workdir.parent, workdir.parent / "init.log", workdir.parent / "cache", rasa=(STOCK_RASA,)
    )
    return next((workdir / "models").glob("*.tar.gz")), seconds
