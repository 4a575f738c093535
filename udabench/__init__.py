"""udabench: a benchmarking harness for CLIP-based domain adaptation.

The public face: everything a plugin or a script needs is importable from here (``__all__``,
one line each in ``docs/plugins.md``), and the built-in plugins import nothing else. Besides
it, ``udabench.testing`` (the conformance kit) and ``udabench.cli.main`` (the command line,
for scripts) are public. Everything is imported lazily, so that ``import udabench`` (and
``udabench --help``) does not pull in torch or MLflow.

The sub-packages, from the bottom floor up (imports run only downward): ``contract`` (what a
plugin sees), ``model``, ``data`` and ``tracking`` (each on the contract alone), ``protocol``,
``sweep`` and ``testing``, then ``cli``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .contract.version import __version__

_EXPORTS = {
    "hookimpl": "contract.hookspecs", "PLUGIN_API_VERSION": "contract.hookspecs",
    "Method": "contract.method", "AdaptData": "contract.method",
    "Dataset": "contract.dataset", "OneDomainDataset": "contract.dataset", "Task": "contract.dataset", "cache_root": "contract.dataset", "NO_PROFILE": "contract.dataset",
    "Backbone": "contract.backbone", "ClipBackbone": "model.backbone", "LOGIT_SCALE": "model.backbone",
    "HParam": "contract.config", "Config": "contract.config",
    "Setting": "contract.settings",
    "ImageSource": "data.images", "ImageList": "data.images", "TargetView": "data.images", "stratified_split": "data.images",
    "FeatureClassifier": "model.classifiers", "FeatureHead": "model.classifiers", "text_head": "model.classifiers",
    "extract_features": "model.features", "augmented_features": "model.features", "image_embeddings": "model.features",
    "RunContext": "protocol.context",
    "create_open_clip": "model.weights", "split_spec": "model.weights", "file_digest": "model.weights",
    "checkpoint_path": "model.weights",
    "reading_weights": "model.weights",
    "load_backbone": "contract.registry",
    "Launcher": "contract.launcher", "LauncherError": "contract.launcher", "require_extra": "contract.launcher",
    "UdabenchError": "contract.errors", "DataError": "contract.errors", "ConfigError": "contract.errors",
    "WeightsUnavailableError": "contract.errors", "PluginError": "contract.errors",
    "Registry": "contract.registry", "get_registry": "contract.registry",
    "FolderDataset": "data.folders", "Layout": "data.folders", "WHOLE_DOMAIN": "data.folders",
    "pair_tasks": "data.folders", "named_tasks": "data.folders", "prompt_name": "data.folders",
    "scan_class_folders": "data.folders", "is_folder": "data.folders", "list_folder": "data.folders",
    "CountMismatchWarning": "data.folders",
    "SplitFileDataset": "data.splitfiles", "read_split_zhou": "data.splitfiles",
    "safe_unpickle": "data.safe_pickle",
    "RunOptions": "protocol.options", "terminate_as_interrupt": "protocol.signals",
    "Validator": "contract.validator", "SelectionView": "contract.validator",
    "Job": "sweep.jobs", "JobOutcome": "sweep.jobs", "run_job": "sweep.jobs", "run_jobs": "sweep.jobs",
    "forwarded_environment": "sweep.jobs",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:  # pragma: no cover
    from .contract.backbone import Backbone
    from .model.backbone import LOGIT_SCALE, ClipBackbone
    from .model.classifiers import FeatureClassifier, FeatureHead, text_head
    from .contract.config import Config, HParam
    from .protocol.context import RunContext
    from .data.images import ImageList, ImageSource, TargetView, stratified_split
    from .contract.dataset import NO_PROFILE, Dataset, OneDomainDataset, Task, cache_root
    from .model.features import augmented_features, extract_features, image_embeddings
    from .contract.errors import ConfigError, DataError, PluginError, UdabenchError, WeightsUnavailableError
    from .contract.hookspecs import PLUGIN_API_VERSION, hookimpl
    from .contract.launcher import Launcher, LauncherError, require_extra
    from .contract.method import AdaptData, Method
    from .contract.registry import load_backbone
    from .contract.settings import Setting
    from .model.weights import checkpoint_path, create_open_clip, file_digest, reading_weights, split_spec
    from .contract.registry import Registry, get_registry
    from .data.folders import (WHOLE_DOMAIN, CountMismatchWarning, FolderDataset, Layout, is_folder, list_folder,
                               named_tasks, pair_tasks, prompt_name, scan_class_folders)
    from .data.splitfiles import SplitFileDataset, read_split_zhou
    from .data.safe_pickle import safe_unpickle
    from .protocol.options import RunOptions
    from .protocol.signals import terminate_as_interrupt
    from .contract.validator import SelectionView, Validator
    from .sweep.jobs import Job, JobOutcome, forwarded_environment, run_job, run_jobs


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'udabench' has no attribute {name!r}")
