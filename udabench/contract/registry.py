"""Plugin discovery: one entry-point group, each plugin loaded in isolation.

pluggy's own ``load_setuptools_entrypoints`` stops at the first plugin that
fails to import. A benchmark harness must not: a lab's broken package should
not hide the other methods. So every entry point is imported and every hook
implementation is called on its own, and failures are kept, by plugin name,
for ``udabench list`` to show. A failure is any exception, ``SystemExit`` included
(a plugin that calls ``sys.exit`` at import); only Ctrl-C (``KeyboardInterrupt``) stops.

``UDABENCH_LOAD_PLUGINS`` restricts what is loaded: a comma-separated list of
entry-point names loads only those; an empty value loads none. This is the
way around a plugin that breaks start-up.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from typing import Any, Callable

import pluggy

from . import hookspecs
from .errors import PluginError
from .names import lookup
from .validation import validate_plugin_class

ENTRY_POINT_GROUP = "udabench"
LOAD_PLUGINS_ENV = "UDABENCH_LOAD_PLUGINS"


@dataclass
class PluginInfo:
    """Where a plugin comes from, and what went wrong with it if anything did."""

    name: str
    module: str
    distribution: str = ""
    version: str = ""
    error: str | None = None
    provides: list[str] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return f"{self.distribution} {self.version}".strip() or self.module


class Registry:
    """Every registered method, dataset, backbone, launcher and validator class, by name."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.methods: dict[str, type] = {}
        self.datasets: dict[str, type] = {}
        self.backbones: dict[str, type] = {}
        self.launchers: dict[str, type] = {}
        self.validators: dict[str, type] = {}
        self.plugins: dict[str, PluginInfo] = {}
        self.origin: dict[tuple[str, str], PluginInfo] = {}

    # -- loading -------------------------------------------------------------------------------
    def load_entry_points(self, only: set[str] | None = None) -> None:
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if only is not None and ep.name not in only:
                continue
            dist = getattr(ep, "dist", None)
            info = PluginInfo(ep.name, ep.value,
                              dist.metadata["Name"] if dist else "", dist.version if dist else "")
            if ep.name in self.plugins:
                first = self.plugins[ep.name]
                if first.distribution != info.distribution:
                    info.error = (f"entry point name {ep.name!r} is taken by {first.origin}; "
                                  f"this one was not loaded")
                    self.plugins[f"{ep.name} ({info.origin})"] = info
                continue  # otherwise: the same distribution seen twice on sys.path
            self.plugins[ep.name] = info
            try:
                obj = ep.load()
                check_api_version(ep.name, obj)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # a broken plugin, even one that calls sys.exit, must not stop the others
                info.error = describe_failure(exc)
                continue
            self.add_plugin(obj, info)

    def add_plugin(self, obj: Any, info: PluginInfo) -> None:
        """Register one plugin object and run its hooks, each in isolation."""
        self.plugins.setdefault(info.name, info)
        try:
            self.pm.register(obj, name=info.name)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            info.error = describe_failure(exc)
            return
        for hook_name, kind, table in (("register_methods", "method", self.methods),
                                       ("register_datasets", "dataset", self.datasets),
                                       ("register_backbones", "backbone", self.backbones),
                                       ("register_launchers", "launcher", self.launchers),
                                       ("register_validators", "validator", self.validators)):
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                if impl.plugin is not obj:
                    continue
                try:
                    impl.function(register=self._registrar(kind, table, info))
                except KeyboardInterrupt:
                    raise
                except BaseException as exc:
                    info.error = f"{hook_name}: {describe_failure(exc)}"

    def _registrar(self, kind: str, table: dict[str, type], info: PluginInfo) -> Callable[[type], None]:
        def register(cls: type) -> None:
            validate_plugin_class(kind, cls, plugin=info.name)
            name = cls.name
            if name in table:
                other = self.origin[(kind, name)].name
                raise PluginError(f"{kind} {name!r} is registered twice (plugins {other!r} and {info.name!r})")
            table[name] = cls
            self.origin[(kind, name)] = info
            info.provides.append(f"{kind}:{name}")

        return register

    # -- lookup --------------------------------------------------------------------------------
    def method(self, name: str) -> type:
        return lookup("method", name, self.methods, self._hint("method", name))

    def dataset(self, name: str) -> type:
        return lookup("dataset", name, self.datasets, self._hint("dataset", name))

    def launcher(self, name: str) -> type:
        return lookup("launcher", name, self.launchers, self._hint("launcher", name))

    def validator(self, name: str) -> type:
        return lookup("validator", name, self.validators, self._hint("validator", name))

    def backbone_for(self, spec: str) -> type:
        """The backbone plugin for a spec: the one named by the spec's prefix ("toyclip:/path"),
        else the first plugin that says it handles the spec."""
        prefix = spec.partition(":")[0]
        if prefix in self.backbones and self.backbones[prefix].handles(spec):
            return self.backbones[prefix]
        for cls in self.backbones.values():
            if cls.handles(spec):
                return cls
        return lookup("backbone", spec, self.backbones,
                      "An open_clip spec looks like 'ViT-B-16:openai' or 'ViT-B-16:/path/to/weights.safetensors'.")

    def failed(self) -> list[PluginInfo]:
        return [p for p in self.plugins.values() if p.error]

    def _hint(self, kind: str, name: str) -> str:
        broken = [p for p in self.failed()]
        if broken:
            return ("Plugins that failed to load: "
                    + "; ".join(f"{p.name} ({p.error})" for p in broken) + ".")
        return f"Install a plugin that provides the {kind}, or check `udabench list`."


def describe_failure(exc: BaseException) -> str:
    """A plugin's failure in one line: ``ImportError: needs libfoo``, ``SystemExit(3): the plugin
    called sys.exit``."""
    if isinstance(exc, SystemExit):
        return f"SystemExit({exc.code!r}): the plugin called sys.exit (udabench went on without it)"
    return f"{type(exc).__name__}: {exc}"


def check_api_version(name: str, obj: Any) -> None:
    """Refuse a plugin built for another major version of the contract."""
    declared = getattr(obj, "UDABENCH_PLUGIN_API", None)
    if declared is not None and int(declared) != hookspecs.PLUGIN_API_VERSION:
        raise PluginError(
            f"plugin {name!r} was built for udabench plugin API {declared}, but this udabench "
            f"provides API {hookspecs.PLUGIN_API_VERSION}; upgrade the plugin or udabench")


def plugin_filter() -> set[str] | None:
    raw = os.environ.get(LOAD_PLUGINS_ENV)
    if raw is None:
        return None
    return {p.strip() for p in raw.split(",") if p.strip()}


@lru_cache(maxsize=1)
def get_registry() -> Registry:
    """The process-wide registry, loaded on first use."""
    reg = Registry()
    reg.load_entry_points(plugin_filter())
    return reg


def load_backbone(spec: str, device: str = "cpu", feature_cache=None):
    """Load a backbone by spec through whichever plugin handles it; unusable weights raise here.

    ``feature_cache`` (a ``FeatureCache``) becomes the backbone's. A backbone that builds its
    model at first use (``ClipBackbone.deferred``) is built now, unless that cache holds the facts
    of an earlier build of the same bytes: then a run served from the cache never builds it."""
    backbone = get_registry().backbone_for(spec)().load(spec, device=device)
    if feature_cache is not None:
        backbone.feature_cache = feature_cache
    build = getattr(backbone, "build_unless_known", None)
    if build is not None:
        build()
    return backbone
