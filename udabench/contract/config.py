"""Hyperparameters: declared once by a method, resolved in layers in one place.

Layers, later ones win:

1. the method's defaults (the papers' values, ``docs/methods.md``);
2. the method's profile for the kind of data (``Method.profiles``, chosen by what a dataset
   declares, not by its name: a 25-epoch schedule made for 224-px ViT-B/16 is not the
   schedule for 32-px images, whichever dataset holds them; see ``Dataset.hparam_profile``);
3. the method's per-dataset overrides (``Method.dataset_overrides``: what a paper's official
   code sets for one benchmark, e.g. DAPL's class-specific context on VisDA);
4. a YAML file (``--config``), read with ``yaml.safe_load`` only;
5. ``--set key=value`` pairs.

Every override is validated against the declaration: an unknown key, a value of the wrong
type, or one outside the declared range (``HParam.minimum`` ..., and floats finite unless
declared otherwise) is an error that names the key, the value and what is allowed.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from .errors import ConfigError, PluginError
from .names import unknown_message


@dataclass(frozen=True)
class HParam:
    """One declared hyperparameter: its default, its type, what it means, and the values it may take.

    Bounds (numbers; for a tuple or list, each of its numbers): ``minimum`` / ``maximum`` are
    inclusive, ``exclusive_minimum`` / ``exclusive_maximum`` exclusive, e.g. a learning rate
    ``exclusive_minimum=0``, a hold-out fraction ``exclusive_minimum=0, exclusive_maximum=1``,
    a probability ``minimum=0, maximum=1``, an epoch count ``minimum=1``. A float must be
    finite (not NaN, not ±inf) unless declared ``finite=False``. Every value is checked when the
    configuration is resolved, before any data or weights are read; a value out of range is a
    ``ConfigError`` naming the key, the value and the range.
    """

    name: str
    default: Any
    help: str = ""
    type: type | None = None  # inferred from the default when omitted
    choices: tuple | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None
    finite: bool = True

    @property
    def kind(self) -> type:
        return self.type or type(self.default)

    @property
    def bounds(self) -> str:
        """The declared range as text (``> 0``, ``>= 1``, ``in (0, 1)``, ``in [0, 1]``), or ""."""
        low = (f"[{_num(self.minimum)}" if self.minimum is not None
               else f"({_num(self.exclusive_minimum)}" if self.exclusive_minimum is not None else None)
        high = (f"{_num(self.maximum)}]" if self.maximum is not None
                else f"{_num(self.exclusive_maximum)})" if self.exclusive_maximum is not None else None)
        if low and high:
            return f"in {low}, {high}"
        if low:
            return (">= " if low[0] == "[" else "> ") + low[1:]
        if high:
            return ("<= " if high[-1] == "]" else "< ") + high[:-1]
        return ""

    def in_range(self, number: float) -> bool:
        """Whether one number lies within the declared bounds (NaN lies within none, if any are declared)."""
        if number != number:  # NaN
            return not self.bounds
        return ((self.minimum is None or number >= self.minimum)
                and (self.maximum is None or number <= self.maximum)
                and (self.exclusive_minimum is None or number > self.exclusive_minimum)
                and (self.exclusive_maximum is None or number < self.exclusive_maximum))

    def _check_range(self, value: Any, where: str) -> None:
        numbers = [v for v in (value if isinstance(value, (tuple, list)) else (value,))
                   if isinstance(v, (int, float)) and not isinstance(v, bool)]
        bad = [v for v in numbers if (self.finite and isinstance(v, float) and not math.isfinite(v))
               or not self.in_range(v)]
        if not bad:
            return
        if all(isinstance(v, int) for v in numbers):
            what = "an integer"
        else:
            what = "a finite number" if self.finite else "a number"
        rule = " ".join(p for p in (what, self.bounds) if p)
        if isinstance(value, (tuple, list)):
            said = f"every number of {self.name} must be {rule}, got {value!r} ({bad[0]!r} is not)"
        else:
            said = f"{self.name} must be {rule}, got {value!r}"
        raise ConfigError(f"{where}: {said}.{self.explained()}")

    def explained(self) -> str:
        """What the parameter means, as the second line of a message about a bad value
        (``"\\n  epochs: passes over the source"``), or "" when it declares no help."""
        return f"\n  {self.name}: {self.help}" if self.help else ""

    def coerce(self, value: Any, where: str) -> Any:
        """``value`` as this parameter's type, or a ConfigError saying what was expected."""
        kind = self.kind
        ok = True
        if kind in (int, float) and isinstance(value, str):
            value = _number(value, kind)  # YAML 1.1 reads "1e-4" as a string
        if kind is bool:
            if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
                value = value.lower() in ("true", "1", "yes")
            ok = isinstance(value, bool)
        elif kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif kind is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            value = float(value) if ok else value
        elif kind is str:  # a YAML or --set value that reads as a number ("gpus: 0") is meant as text
            ok = isinstance(value, (str, int, float)) and not isinstance(value, bool)
            value = str(value) if ok else value
        elif kind in (tuple, list):
            ok = isinstance(value, (list, tuple))
            value = tuple(value) if ok else value
        if not ok:
            raise ConfigError(f"{where}: {self.name} must be {kind.__name__}, got {value!r} "
                              f"({type(value).__name__}).{self.explained()}")
        if self.choices is not None and value not in self.choices:
            raise ConfigError(f"{where}: {self.name} must be one of {list(self.choices)}, got {value!r}."
                              f"{self.explained()}")
        self._check_range(value, where)
        return value


def check_declarations(params: Iterable[Any], where: str, what: str = "hyperparameter",
                       attribute: str = "hparams", defaults: bool = True) -> None:
    """A plugin's declared parameters (a method's ``hparams``, a launcher's ``options``): HParam
    objects, each name once, and (``defaults``) each default valid for its own declaration."""
    params = list(params)
    for h in params:
        if not isinstance(h, HParam):
            raise PluginError(f"{where}: {attribute} must be udabench.HParam objects")
    names = [h.name for h in params]
    if len(names) != len(set(names)):
        raise PluginError(f"{where}: a {what} is declared twice")
    for h in params:
        limits = {k: getattr(h, k) for k in ("minimum", "maximum", "exclusive_minimum", "exclusive_maximum")}
        for key, limit in limits.items():
            if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, float))):
                raise PluginError(f"{where}: {h.name}'s {key} must be a number, got {limit!r}")
        lows = [v for v in (h.minimum, h.exclusive_minimum) if v is not None]
        highs = [v for v in (h.maximum, h.exclusive_maximum) if v is not None]
        if len(lows) > 1 or len(highs) > 1:
            raise PluginError(f"{where}: {h.name} declares two lower or two upper bounds")
        if lows and highs and lows[0] > highs[0]:
            raise PluginError(f"{where}: {h.name}'s range {h.bounds} is empty")
    if defaults:
        for h in params:
            try:
                h.coerce(h.default, f"{where} default")
            except ConfigError as exc:
                raise PluginError(str(exc)) from None


def _num(limit: float) -> str:
    """A bound as text: ``0``, ``1``, ``0.5``, ``1e-05``."""
    return str(int(limit)) if float(limit).is_integer() else repr(limit)


def _number(text: str, kind: type):
    try:
        return kind(text)
    except ValueError:
        return text


class Config(Mapping[str, Any]):
    """Resolved hyperparameters: a read-only mapping with attribute access."""

    def __init__(self, values: Mapping[str, Any], sources: Mapping[str, str]):
        self._values = dict(values)
        self.sources = dict(sources)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # copy and pickle look for dunders before __init__ has run
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Config({self._values!r})"

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self._values.items()}

    def digest(self) -> str:
        """A short hash of the values: runs with equal digests used equal hyperparameters."""
        blob = json.dumps(self.to_dict(), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:10]


def parse_set_pairs(pairs: Iterable[str]) -> dict[str, Any]:
    """``["lr=1e-3", "csc=true"]`` -> ``{"lr": 0.001, "csc": True}`` (values read as YAML scalars)."""
    import yaml

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects key=value, got {pair!r}")
        out[key.strip()] = yaml.safe_load(raw) if raw.strip() else ""
    return out


def load_yaml_overrides(path: str | Path, method: str) -> dict[str, Any]:
    """A YAML mapping of hyperparameters, or of method name -> mapping (only ours is taken)."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"--config {path}: no such file") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"--config {path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"--config {path}: expected a mapping of hyperparameters, got {type(data).__name__}")
    if "methods" in data and isinstance(data["methods"], dict):
        return dict(data["methods"].get(method) or {})
    if data and all(isinstance(v, dict) for v in data.values()):  # one section per method
        return dict(data.get(method) or {})
    return data


def resolve(method_name: str, hparams: Iterable[HParam], dataset: str | None = None,
            dataset_overrides: Mapping[str, Mapping[str, Any]] | None = None,
            file_overrides: Mapping[str, Any] | None = None,
            set_overrides: Mapping[str, Any] | None = None, *, profile: str | None = None,
            profiles: Mapping[str, Mapping[str, Any]] | None = None) -> Config:
    """Apply the layers; validate every key and type; remember where each value came from
    (``default``, ``profile:NAME``, ``dataset``, ``config``, ``set``)."""
    decl = {h.name: h for h in hparams}
    values = {name: h.default for name, h in decl.items()}
    sources = {name: "default" for name in decl}
    layers = [
        (f"{method_name} profile {profile!r}", f"profile:{profile}", (profiles or {}).get(profile or "", {})),
        (f"{method_name} overrides for dataset {dataset!r}", "dataset", (dataset_overrides or {}).get(dataset or "", {})),
        ("--config", "config", file_overrides or {}),
        ("--set", "set", set_overrides or {}),
    ]
    for where, tag, layer in layers:
        for key, value in layer.items():
            if key not in decl:
                raise ConfigError(f"{where}: " + unknown_message(
                    f"hyperparameter of method {method_name}", key, decl))
            values[key] = decl[key].coerce(value, where)
            sources[key] = tag
    return Config(values, sources)
