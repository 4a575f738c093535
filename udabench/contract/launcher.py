"""Launchers: where a sweep's jobs run (in this process, local workers, Slurm, Ray).

A launcher is a plugin, registered with the ``register_launchers`` hook like
methods and datasets. It gets a list of :class:`udabench.sweep.jobs.Job` records
and runs each through :func:`udabench.sweep.jobs.run_job` (or
:func:`udabench.sweep.jobs.run_jobs` for a batch), wherever it likes; the jobs are
idempotent, so a launcher need not track what already ran.

Launcher modules import their engines (submitit, ray) inside :meth:`Launcher.launch`,
never at import time: ``udabench list`` loads every plugin and must stay light.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, ClassVar

from .config import HParam, check_declarations
from .errors import ConfigError, PluginError, UdabenchError
from .names import unknown_message

# ``Job`` and ``JobOutcome`` (udabench.sweep) are named in annotations only: the contract
# imports nothing of udabench outside itself.

class LauncherError(UdabenchError):
    """A launcher that cannot start: a missing extra, a bad option, an engine that refuses."""


class Launcher:
    """Subclass, set the class attributes, implement :meth:`launch`."""

    name: ClassVar[str]
    #: One line for ``udabench list``.
    summary: ClassVar[str] = ""
    #: Options, from the sweep file's ``launcher:`` section or ``--launcher-set KEY=VALUE``.
    options: ClassVar[tuple[HParam, ...]] = ()
    #: False for a launcher that runs one job at a time (no concurrent writers to the store).
    parallel: ClassVar[bool] = True
    #: (module, extra) of an optional engine: ("ray", "ray") means `pip install 'udabench[ray]'`.
    requires: ClassVar[tuple[str, str] | None] = None

    def __init__(self, options: Mapping[str, Any]):
        self.options = dict(options)

    def launch(self, jobs: list[Job], echo) -> list[JobOutcome]:
        """Run every job; return one outcome per job, in any order. A job that could not be
        run at all (a dead worker, a cancelled array task) is an outcome with status "failed"."""
        raise NotImplementedError

    def check_available(self) -> None:
        """Fail before any job is launched or recorded when the engine is not installed."""
        if self.requires:
            require_extra(self.requires[0], self.name, self.requires[1])

    def spans_machines(self) -> bool:
        """True when jobs may run on other machines: then SQLite cannot be the tracking store."""
        return False

    @classmethod
    def resolve_options(cls, file_options: Mapping[str, Any] | None,
                        flag_options: Mapping[str, Any] | None) -> dict[str, Any]:
        """Defaults, then the sweep file's values, then the flags'; each key and type checked."""
        declared = {o.name: o for o in cls.options}
        values = {name: o.default for name, o in declared.items()}
        for where, layer in (("the sweep file's launcher section", file_options or {}),
                             ("--launcher-set", flag_options or {})):
            for key, value in layer.items():
                if key not in declared:
                    raise ConfigError(f"{where}: " + unknown_message(f"option of launcher {cls.name!r}",
                                                                     key, declared))
                values[key] = value if value is None else declared[key].coerce(value, where)
        return values

    @classmethod
    def check_contract(cls, where: str) -> None:
        # Defaults are not checked: an unset option is None ("not given"), whatever its type.
        check_declarations(cls.options, where, what="launcher option", attribute="options", defaults=False)
        if cls.launch is Launcher.launch:
            raise PluginError(f"{where}: a launcher must implement launch(jobs, echo)")


def require_extra(module: str, launcher: str, extra: str):
    """Import an optional engine, or fail naming the install command that brings it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise LauncherError(
            f"the {launcher!r} launcher needs the Python package {module!r}, which is not installed "
            f"({exc}). Install it with: pip install 'udabench[{extra}]'") from None
