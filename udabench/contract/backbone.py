"""The backbone plugin contract: a plugin that turns a spec string into a loaded backbone."""

from __future__ import annotations

from typing import ClassVar

from .errors import PluginError


class Backbone:
    """A backbone plugin: turns a spec string into a loaded :class:`udabench.ClipBackbone`
    (``udabench.model``; named here, not imported: the contract imports nothing above it)."""

    name: ClassVar[str]
    summary: ClassVar[str] = ""

    @classmethod
    def handles(cls, spec: str) -> bool:
        """Whether this plugin can load ``spec`` (by default: only its own name)."""
        return spec == cls.name

    def load(self, spec: str, device: str = "cpu") -> "ClipBackbone":
        raise NotImplementedError

    @classmethod
    def check_contract(cls, where: str) -> None:
        if cls.load is Backbone.load:
            raise PluginError(f"{where} must implement load(spec, device)")
