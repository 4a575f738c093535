"""udabench: a benchmarking harness for CLIP-based domain adaptation.

The public face for plugin authors. Everything is imported lazily, so that
``import udabench`` (and ``udabench --help``) does not pull in torch or MLflow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_EXPORTS = {
    "hookimpl": "hookspecs", "PLUGIN_API_VERSION": "hookspecs",
    "Method": "method", "AdaptData": "method",
    "Dataset": "dataset", "Task": "dataset", "cache_root": "dataset",
    "Backbone": "backbone", "ClipBackbone": "backbone", "LOGIT_SCALE": "backbone",
    "HParam": "config", "Config": "config",
    "Setting": "settings",
    "ImageSource": "data", "ImageList": "data", "TargetView": "data", "stratified_split": "data",
    "FeatureClassifier": "classifiers", "FeatureHead": "classifiers", "text_head": "classifiers",
    "extract_features": "features", "augmented_features": "features", "image_embeddings": "features",
    "RunContext": "context",
    "create_open_clip": "weights", "split_spec": "weights", "file_digest": "weights",
    "load_backbone": "registry",
    "Launcher": "launcher", "LauncherError": "launcher", "require_extra": "launcher",
    "UdabenchError": "errors", "DataError": "errors", "ConfigError": "errors",
    "WeightsUnavailableError": "errors", "PluginError": "errors",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:  # pragma: no cover
    from .backbone import LOGIT_SCALE, Backbone, ClipBackbone
    from .classifiers import FeatureClassifier, FeatureHead, text_head
    from .config import Config, HParam
    from .context import RunContext
    from .data import ImageList, ImageSource, TargetView, stratified_split
    from .dataset import Dataset, Task, cache_root
    from .features import augmented_features, extract_features, image_embeddings
    from .errors import ConfigError, DataError, PluginError, UdabenchError, WeightsUnavailableError
    from .hookspecs import PLUGIN_API_VERSION, hookimpl
    from .launcher import Launcher, LauncherError, require_extra
    from .method import AdaptData, Method
    from .registry import load_backbone
    from .settings import Setting
    from .weights import create_open_clip, file_digest, split_spec


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'udabench' has no attribute {name!r}")
