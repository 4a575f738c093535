"""How a run is carried out: the one definition of every run option.

A run is *what* runs (method, dataset, tasks, seeds, backbone, hyperparameters: the
``RunRequest``) and *how* it runs: the options below. Each option is written here once,
with its default, its help text and its checks. From this one declaration:

* ``udabench run`` builds its flags (:func:`add_arguments`, :meth:`RunOptions.from_args`);
* a sweep file's ``run:`` block is read (:meth:`RunOptions.from_mapping`);
* the ``config.yaml`` of every run records them (:meth:`RunOptions.to_dict`);
* the runner takes them (``RunRequest.options``);
* the options that change a run's numbers (``keyed``) go into a sweep job's run key.

Adding an option is one field here plus its use.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any, Mapping

from ..contract.config import HParam
from ..contract.errors import ConfigError
from ..contract.names import unknown_message
from ..model.fast_paths import CHANNELS_LAST

#: ``--precision`` choices: fp32, or autocast to bf16 / fp16 (with gradient scaling).
PRECISIONS = ("fp32", "bf16", "fp16")


def option(default: Any, help: str, *, flag: str | None = None, choices: tuple | None = None,
           minimum: float | None = None, maximum: float | None = None, keyed: bool | str = False,
           type: type | None = None, metavar: str | None = None):
    """A run option: its default, its help, and (optionally) its flag, choices, bounds and
    whether it changes the numbers a run gives (``keyed``: part of a run's key; ``"when set"``:
    only when not at its default, see :meth:`RunOptions.keyed`)."""
    return field(default=default, metadata={"help": help, "flag": flag, "choices": choices, "minimum": minimum,
                                            "maximum": maximum, "keyed": keyed, "type": type, "metavar": metavar})


@dataclass
class RunOptions:
    """Every option of how a run is carried out, with its default."""

    device: str = option("auto", "cpu, cuda, cuda:1 ... (default: cuda if available)")
    precision: str = option("fp32", "autocast precision for forward passes (default fp32)", choices=PRECISIONS,
                            keyed=True)
    batch_size: int = option(256, "batch size of evaluation and feature extraction (training batch sizes are "
                                  "hyperparameters: --set batch_size=...)", minimum=1)
    workers: int = option(0, "DataLoader worker processes (default 0)", minimum=0)
    threads: int | None = option(None, "CPU threads of the run (torch and BLAS; default: $OMP_NUM_THREADS, else the "
                                       "cores this process may use)", minimum=1, type=int)
    root: str | None = option(None, "data root (default: $UDABENCH_DATA or ~/data)", type=str)
    tracking_uri: str | None = option(None, "MLflow tracking URI (default: $MLFLOW_TRACKING_URI or "
                                            "sqlite:///mlflow.db)", type=str)
    progress: bool = option(True, "show progress bars (--no-progress hides them)")
    skip_bad_images: bool = option(False, "check every image file a run reads first (PIL verify, and a decode "
                                          "but for PNG) and leave out the unreadable ones, counted in the MLflow "
                                          "tag udabench.skipped_bad_images; default: an unreadable image fails "
                                          "the run", keyed=True)
    cache: bool = option(True, "read and write the feature cache of frozen-encoder outputs under "
                               "$UDABENCH_CACHE/features (--no-cache: compute afresh, store nothing)")
    compile: bool = option(False, "torch.compile the image tower (the first batches pay the compilation)")
    channels_last: str = option("auto", "NHWC memory format for the image tower (auto: on CUDA, for ResNet "
                                        "towers)", choices=CHANNELS_LAST)
    select_every: int = option(1, "model selection: score every N-th epoch a method hands over, and its last "
                                  "state, with the target labels (oracle) and the label-free validators; 0: off",
                               minimum=0)
    source_holdout: float = option(0.0, "fraction of every source class held out from the method for the "
                                        "source-accuracy validator (0: none; the method then sees the whole "
                                        "source)", minimum=0, maximum=0.5, keyed="when set")
    transductive: bool = option(False, "adapt on the images that are scored: the target's evaluation split, "
                                       "unlabeled, as ReCLIP's code does (run tag udabench.transductive); "
                                       "default: the dataset's adaptation split (its train split where it has "
                                       "one; a transductive benchmark such as Office-31 is transductive either "
                                       "way)", keyed="when set")

    def __post_init__(self) -> None:
        for f in fields(self):
            value = _declaration(f).coerce(getattr(self, f.name), "run option")
            minimum = f.metadata["minimum"]
            if minimum is not None and value is not None and value < minimum:
                raise ConfigError(f"run option {f.name} ({_flag(f)}) must be at least {minimum}, got {value}")
            maximum = f.metadata["maximum"]
            if maximum is not None and value is not None and value > maximum:
                raise ConfigError(f"run option {f.name} ({_flag(f)}) must be at most {maximum}, got {value}")
            setattr(self, f.name, value)

    # -- from and to -------------------------------------------------------------------------------
    @classmethod
    def from_args(cls, args: argparse.Namespace) -> RunOptions:
        """From the flags :func:`add_arguments` declared."""
        return cls(**{f.name: getattr(args, f.name) for f in fields(cls)})

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], where: str = "run options") -> RunOptions:
        """From a mapping of option names (a sweep file's ``run:`` block, a job record); an unknown
        name is an error naming the known ones."""
        names = [f.name for f in fields(cls)]
        for key in values:
            if key not in names:
                raise ConfigError(f"{where}: " + unknown_message("run option", str(key), names))
        try:
            return cls(**dict(values))
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None

    def resolved_threads(self) -> int:
        """``threads``, or the default: ``$OMP_NUM_THREADS`` when set, else the cores this process
        may run on (its CPU affinity, which a container or ``taskset`` narrows)."""
        if self.threads is not None:
            return self.threads
        env = os.environ.get("OMP_NUM_THREADS", "")
        return int(env) if env.isdigit() and int(env) > 0 else cores_available()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def replace(self, **changes: Any) -> RunOptions:
        return type(self)(**{**self.to_dict(), **changes})

    def keyed(self) -> list[Any]:
        """The values of the options that change a run's numbers, in declaration order. An option
        keyed ``"when set"`` (added after run keys were first written) is in the key only when it is
        not at its default, as ``{name: value}``: the keys of runs that do not use it stay as they were."""
        out = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.metadata["keyed"] is True:
                out.append(value)
            elif f.metadata["keyed"] == "when set" and value != f.default:
                out.append({f.name: value})
        return out


#: How long an idle OpenMP thread spins before it sleeps (libgomp's ``GOMP_SPINCOUNT``), unless the
#: user set it or ``OMP_WAIT_POLICY``. libgomp's own default (300,000 spins) is for threads that
#: have their cores to themselves: when another process holds a core, each of torch's parallel
#: regions waits for a thread that is not running while the others spin, and a 2-thread run on a
#: 2-core machine with one busy core took 6x its idle time; with 10,000 spins 2.7x, and the same
#: speed when idle (``benchmarks/bench_threads.py``; numbers in benchmarks/README.md, "Threads").
OPENMP_SPINCOUNT = "10000"


def bound_openmp_spinning(environ=os.environ) -> None:
    """Set :data:`OPENMP_SPINCOUNT` for the OpenMP runtime torch loads, unless the user chose a wait
    policy or spin count. It acts only before torch is imported (libgomp reads it when it loads):
    the command line calls it first, and every process it starts inherits it."""
    if "GOMP_SPINCOUNT" not in environ and "OMP_WAIT_POLICY" not in environ:
        environ["GOMP_SPINCOUNT"] = OPENMP_SPINCOUNT


def cores_available() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _declaration(f) -> HParam:
    kind = f.metadata["type"] or (type(f.default) if f.default is not MISSING else str)
    return _Optional(f.name, f.default, f.metadata["help"], kind, f.metadata["choices"])


class _Optional(HParam):
    """A run option's checks: one whose default is None ("not given") accepts None, and an
    on/off choice takes YAML's reading of ``on`` and ``off`` (true and false) as meant."""

    def coerce(self, value: Any, where: str) -> Any:
        if value is None and self.default is None:
            return None
        if isinstance(value, bool) and self.choices and {"on", "off"} <= set(self.choices):
            value = "on" if value else "off"
        return super().coerce(value, where)


def _flag(f) -> str:
    return f.metadata["flag"] or "--" + f.name.replace("_", "-")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per run option: ``--name-with-dashes VALUE``; a boolean whose default is True is
    turned off by ``--no-NAME``, one whose default is False turned on by ``--NAME``."""
    for f in fields(RunOptions):
        meta, flag = f.metadata, _flag(f)
        if isinstance(f.default, bool):
            if f.default:
                parser.add_argument("--no-" + flag[2:], dest=f.name, action="store_false", help=meta["help"])
            else:
                parser.add_argument(flag, dest=f.name, action="store_true", help=meta["help"])
            continue
        kind = meta["type"] or type(f.default)
        parser.add_argument(flag, dest=f.name, default=f.default, type=kind, choices=meta["choices"],
                            metavar=meta["metavar"], help=meta["help"])


def option_flags() -> dict[str, str]:
    """Option name -> its command-line flag, for messages and tests."""
    return {f.name: ("--no-" + _flag(f)[2:]) if f.default is True else _flag(f) for f in fields(RunOptions)}
