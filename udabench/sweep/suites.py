"""The benchmark suites shipped with udabench: sweep files (``suites/<name>.yaml``) that run a seed
paper's whole table, found by name (``udabench suite NAME`` is ``udabench sweep`` on that file)."""

from __future__ import annotations

from pathlib import Path

from ..contract.names import unknown_message
from .jobs import SweepError

FOLDER = Path(__file__).with_name("suites")


def suite_names() -> list[str]:
    return sorted(p.stem for p in FOLDER.glob("*.yaml"))


def suite_path(name: str) -> Path:
    """The shipped sweep file of suite ``name``."""
    path = FOLDER / f"{name}.yaml"
    if not path.is_file():
        raise SweepError(unknown_message("suite", name, suite_names()))
    return path


def suite_summary(name: str) -> str:
    """The first comment line of the suite's file: what table it makes."""
    for line in suite_path(name).read_text().splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
    return ""
