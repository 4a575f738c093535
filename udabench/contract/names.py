"""Name lookup with a "did you mean" for every registry of names."""

from __future__ import annotations

import difflib
from typing import Iterable, Mapping, TypeVar

from .errors import UnknownNameError

T = TypeVar("T")


def lookup(kind: str, name: str, known: Mapping[str, T], hint: str = "") -> T:
    """``known[name]``, or an UnknownNameError listing the known names and the closest ones."""
    if name in known:
        return known[name]
    raise UnknownNameError(unknown_message(kind, name, known, hint))


def unknown_message(kind: str, name: str, known: Iterable[str], hint: str = "") -> str:
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    msg = f"unknown {kind} {name!r}."
    if close:
        msg += f" Did you mean {' or '.join(repr(c) for c in close)}?"
    msg += f" Known {kind}s: {', '.join(known) if known else '(none)'}."
    if hint:
        msg += f" {hint}"
    return msg
