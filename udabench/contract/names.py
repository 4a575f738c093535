"""Name lookup with a "did you mean" for every registry of names.

One helper words every "unknown name" message, so that they all read alike:

    unknown task 'printed2mnist' of dataset digits. Did you mean 'printed2handwritten',
    'printed2sevenseg' or 'printed2dotmatrix'? Known tasks of dataset digits: ...

The kind is a singular noun, optionally followed by what the names belong to ("task of
dataset digits", "hyperparameter of method source-ft"): the noun is made plural on its own
("tasks of dataset digits"), never the owner's name. A long list (more than ``MAX_LISTED``
names, e.g. open_clip's 140-odd architectures) is not printed when the caller says how to list
it: the closest names are, with that command.
"""

from __future__ import annotations

import difflib
import textwrap
from typing import Iterable, Mapping, TypeVar

from .errors import UnknownNameError

T = TypeVar("T")

#: More known names than this are not listed in full when the caller gives a way to list them.
MAX_LISTED = 30
#: Suggestions offered ("Did you mean ...?"), closest first.
MAX_SUGGESTED = 3
#: The width a long list of names is wrapped to.
WIDTH = 100


def lookup(kind: str, name: str, known: Mapping[str, T], hint: str = "", *, listing: str = "") -> T:
    """``known[name]``, or an UnknownNameError listing the known names and the closest ones."""
    if name in known:
        return known[name]
    raise UnknownNameError(unknown_message(kind, name, known, hint, listing=listing))


def unknown_message(kind: str, name: str, known: Iterable[str], hint: str = "", *, listing: str = "") -> str:
    """The message for ``name``, which is not one of ``known``.

    ``kind``: what the names are, singular, with what they belong to after " of " if anything
    ("task of dataset digits"). ``hint``: a sentence appended as is. ``listing``: how to list
    every known name (a command), printed instead of the list when it is longer than
    ``MAX_LISTED``."""
    noun, owner = split_kind(kind)
    of = f" of {owner}" if owner else ""
    known = sorted(map(str, known))
    msg = f"unknown {noun} {name!r}{of}."
    close = closest(name, known)
    if close:
        quoted = [repr(c) for c in close]
        msg += f" Did you mean {' or '.join([', '.join(quoted[:-1]), quoted[-1]] if len(quoted) > 1 else quoted)}?"
    if len(known) > MAX_LISTED and listing:
        msg += f" {len(known)} {plural(noun)}{of} are known; to list them all: {listing}."
    elif len(known) > MAX_LISTED:  # no other way to learn them: every name, wrapped
        wrapped = textwrap.fill(", ".join(known), WIDTH, initial_indent="  ", subsequent_indent="  ",
                                break_on_hyphens=False)
        return f"{msg} Known {plural(noun)}{of}:\n{wrapped}" + (f"\n{hint}" if hint else "")
    else:
        msg += f" Known {plural(noun)}{of}: {', '.join(known) if known else '(none)'}."
    return f"{msg} {hint}" if hint else msg


def split_kind(kind: str) -> tuple[str, str]:
    """``"task of dataset digits"`` -> ("task", "dataset digits"); ``"suite"`` -> ("suite", "")."""
    noun, _, owner = kind.partition(" of ")
    return noun.strip(), owner.strip()


def plural(noun: str) -> str:
    """The plural of the last word of a kind: ``open_clip architecture`` -> ``open_clip
    architectures``, ``sweep key`` -> ``sweep keys``, ``--selection`` -> ``--selection values``."""
    if noun.startswith("-"):
        return f"{noun} values"
    if noun.endswith(("s", "x", "sh", "ch")):
        return noun + "es"
    if noun.endswith("y") and noun[-2:-1] not in tuple("aeiou"):
        return noun[:-1] + "ies"
    return noun + "s"


def closest(name: str, known: Iterable[str], n: int = MAX_SUGGESTED) -> list[str]:
    """The known names closest to ``name`` (difflib, case ignored), best first; [] when none is close."""
    by_folded: dict[str, str] = {}
    for k in known:
        by_folded.setdefault(k.casefold(), k)
    hits = difflib.get_close_matches(name.casefold(), list(by_folded), n=n, cutoff=0.5)
    return [by_folded[h] for h in hits]
