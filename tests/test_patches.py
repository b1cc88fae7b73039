"""The patches are declared in one place, installed only by the entry point, and check Rasa's version."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.rasa import patches

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def stock() -> Iterator[None]:
    patches.uninstall()
    yield
    patches.uninstall()


def current(patch: patches.Patch) -> object:
    return getattr(patch.owner, patch.attribute)


def test_importing_the_project_patches_nothing(stock: None) -> None:
    import bot.rasa.channels.rest
    import bot.rasa.nlu.rasa_components  # noqa: F401  (what config.yml makes Rasa import)

    assert not any(current(patch) is patch.replacement for patch in patches.PATCHES)


def test_install_applies_every_patch_once_and_uninstall_restores_rasas_own(stock: None) -> None:
    originals = [current(patch) for patch in patches.PATCHES]
    patches.install()
    patches.install()
    assert patches.installed()
    assert all(current(patch) is patch.replacement for patch in patches.PATCHES)
    patches.uninstall()
    assert [current(patch) for patch in patches.PATCHES] == originals


@pytest.mark.parametrize(
    "installed", [{"rasa": "3.6.22", "tensorflow": "2.12.0"}, {"rasa": "3.6.21", "tensorflow": "2.13.1"}]
)
def test_another_version_is_refused_loudly(installed: dict[str, str]) -> None:
    with pytest.raises(patches.UnsupportedVersion, match="written for"):
        patches.check_versions(installed)


def test_the_versions_installed_here_are_the_ones_written_for() -> None:
    patches.check_versions()


def test_the_entry_point_runs_rasas_command_line() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bot.rasa", "--version"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Rasa Version      :         3.6.21" in run.stdout
