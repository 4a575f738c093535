"""Checks that a registered class keeps the plugin contract, run at registration."""

from __future__ import annotations

import re

from .backbone import Backbone
from .dataset import Dataset
from .errors import PluginError
from .launcher import Launcher
from .method import Method
from .validator import Validator

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


def validate_plugin_class(kind: str, cls: type, plugin: str) -> None:
    """Raise PluginError naming the plugin and the rule a registered class breaks."""
    base = {"method": Method, "dataset": Dataset, "backbone": Backbone, "launcher": Launcher,
            "validator": Validator}[kind]
    where = f"plugin {plugin!r}: {kind} {getattr(cls, '__name__', cls)!r}"
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise PluginError(f"{where} must be a subclass of udabench.{base.__name__}")
    name = getattr(cls, "name", "")
    if not isinstance(name, str) or not _NAME.match(name):
        raise PluginError(f"{where} needs a lower-case `name` (letters, digits, '-', '_', '.'); got {name!r}")
    cls.check_contract(where)
