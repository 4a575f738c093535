"""Reading a downloaded pickle without running anything: a restricted unpickler.

Some official dataset archives are Python pickles (CIFAR's "python version"). ``pickle.load`` on a
downloaded file runs whatever the file names: any importable callable, with any arguments. Here the
unpickler looks every name a file asks for up in a short allow-list and refuses the rest, before
anything is called; so a file builds nothing but what pickle's own opcodes make (dicts, lists,
tuples, sets, str, bytes, int, float, bool, None) and numpy arrays of plain (non-object) dtypes.

The names a numpy array's pickle uses, and what each resolves to:

* ``numpy.core.multiarray._reconstruct`` (``numpy._core.multiarray`` since numpy 2): an empty array,
  only of ``numpy.ndarray`` itself (no subclass); ``ndarray.__setstate__`` then fills it;
* ``numpy.ndarray``: a marker accepted by the above, not the class (nothing can call it);
* ``numpy.dtype``: a dtype, refused when it holds Python objects;
* ``_codecs.encode``: how Python 3 writes ``bytes`` in protocols 0-2 (``encode(text, "latin1")``),
  with the latin-1 codec only.

Anything else (``os.system``, ``builtins.eval``, a numpy scalar, a class of the writer's) is a
:class:`DataError` naming it; so is a file that is not a pickle or is cut short. The result is also
walked once, and an object of another type (or an object array) anywhere in it is refused.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ..contract.errors import DataError

#: Types a loaded pickle may hold (numpy arrays are checked apart: no object dtype).
PLAIN_TYPES = (dict, list, tuple, set, frozenset, str, bytes, bytearray, int, float, complex, bool, type(None))


class _NdarrayMarker:
    """What ``numpy.ndarray`` resolves to: accepted as ``_reconstruct``'s first argument, never callable."""

    def __repr__(self) -> str:
        return "numpy.ndarray"


_NDARRAY = _NdarrayMarker()


def _reconstruct(subtype, shape, typecode) -> np.ndarray:
    """numpy's ``_reconstruct``, for ``numpy.ndarray`` only: an array ``__setstate__`` then fills."""
    if subtype is not _NDARRAY:
        raise DataError(f"the pickle rebuilds an array of type {subtype!r}; only numpy.ndarray is read")
    if isinstance(typecode, bytes):
        typecode = typecode.decode("latin1")
    return np.ndarray(tuple(int(n) for n in shape), _dtype(typecode))


def _dtype(spec, align=False, copy=True) -> np.dtype:
    """``numpy.dtype(spec, align, copy)``, refused for a dtype that holds Python objects."""
    if isinstance(spec, bytes):
        spec = spec.decode("latin1")
    if not isinstance(spec, str):
        raise DataError(f"the pickle builds a numpy dtype from {type(spec).__name__}; only a type string is read")
    dtype = np.dtype(spec, bool(align), bool(copy))
    if dtype.hasobject:
        raise DataError(f"the pickle builds the numpy dtype {spec!r}, which holds Python objects; it is not read")
    return dtype


def _latin1(text, encoding="utf-8") -> bytes:
    """``_codecs.encode(text, "latin1")``: how protocols 0-2 store ``bytes``; no other codec."""
    if not isinstance(text, str) or str(encoding).lower().replace("_", "-") not in ("latin1", "latin-1"):
        raise DataError(f"the pickle calls _codecs.encode with the codec {encoding!r}; only latin1 "
                        f"(how Python writes bytes) is read")
    return text.encode("latin1")


#: (module, name) -> what it resolves to. Nothing else is looked up.
ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _dtype,
    ("_codecs", "encode"): _latin1,
}


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the names of ``ALLOWED`` and keeps no persistent ids."""

    def __init__(self, file: BinaryIO, source: str, encoding: str):
        super().__init__(file, encoding=encoding)
        self._source = source

    def find_class(self, module: str, name: str):
        found = ALLOWED.get((module, name))
        if found is None:
            raise DataError(f"{self._source} asks to build {module}.{name}, which a data file has no reason "
                            f"to: it was refused and nothing was run. The file is not the official one, or it "
                            f"is damaged; replace it with the official file.")
        return found

    def persistent_load(self, pid):
        raise DataError(f"{self._source} refers to a persistent object ({pid!r}); a data file does not")


def safe_unpickle(file: str | Path | bytes | BinaryIO, encoding: str = "bytes", name: str | None = None) -> Any:
    """The object a pickle holds, built with the restricted unpickler (see the module docstring).

    ``file``: a path, the pickle's bytes, or a binary file object. ``encoding``: how Python 2
    ``str`` objects are read (``"bytes"``, the default, keeps them as bytes: CIFAR's dict keys are
    then ``b"data"``, ``b"labels"``). ``name``: how messages name the file (default: its path).
    A refused name, or a file that is not a whole pickle, is a DataError naming the file."""
    if isinstance(file, (str, Path)):
        source = name or str(file)
        try:
            data = Path(file).read_bytes()
        except OSError as exc:
            raise DataError(f"cannot read {source}: {exc.strerror or exc}") from None
        return _load(io.BytesIO(data), source, encoding)
    if isinstance(file, (bytes, bytearray, memoryview)):
        return _load(io.BytesIO(bytes(file)), name or "the pickle", encoding)
    return _load(file, name or getattr(file, "name", "the pickle"), encoding)


def _load(f: BinaryIO, source: str, encoding: str) -> Any:
    try:
        obj = _RestrictedUnpickler(f, source, encoding).load()
    except DataError:
        raise
    except RecursionError:
        raise DataError(f"{source} nests too deeply to be a data file; it was not read") from None
    except Exception as exc:  # a truncated, foreign or malformed pickle: opcodes the data cannot satisfy
        raise DataError(f"{source} is not a readable pickle ({type(exc).__name__}: {exc}): the file is damaged "
                        f"or not the official one") from None
    _check_plain(obj, source)
    return obj


def _check_plain(obj: Any, source: str) -> None:
    """Refuse a result holding anything but plain containers and values, or an object array."""
    stack, seen = [obj], set()
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, np.ndarray):
            if type(item) is not np.ndarray or item.dtype.hasobject:
                raise DataError(f"{source} holds a numpy array of type {type(item).__name__} and dtype "
                                f"{item.dtype}; only plain arrays are read")
            continue
        if type(item) not in PLAIN_TYPES:
            raise DataError(f"{source} holds an object of type {type(item).__name__}; only plain containers, "
                            f"values and numpy arrays are read")
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
