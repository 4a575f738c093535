"""On-disk cache of what a frozen encoder computes: image features and class text embeddings.

Zero-shot, linear-probe, DAC, DAPL/DAMPL's evaluation and the other frozen-encoder paths
embed the same images with the same weights over and over: across methods, tasks and seeds.
:class:`FeatureCache` computes each once and keeps it as a safetensors file under
``$UDABENCH_CACHE/features`` (``udabench run --no-cache`` turns it off).

An entry's key is a hash of everything its tensors depend on (see ``ClipBackbone.cache_key``,
:func:`image_fingerprint`, :func:`transform_key`): the weights, the preprocessing, the
image files (path, size, modification time) or pixels, the precision, the device type and
the torch version. A change of any of them is another key, so a stale entry is never read.
Entries are written to a temporary file in the same folder and renamed into place
(``os.replace``, atomic on POSIX), so a process killed while writing leaves no entry behind,
only a ``.tmp`` file that no key names.

The cache is disposable: it can only make a run faster, never fail it or change its numbers.
An entry is read only if it is what its key names (the key parts stored in it hash to its key)
and holds what the caller expects (the tensors' names, shapes and dtypes, every value finite);
any other entry (truncated, foreign, of the wrong shape) is named in a warning, dropped and
recomputed. A cache that cannot be written (read-only folder, full disk, a cache root that
cannot be created, a safetensors error) is named in one warning, and the run goes on without it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping

if TYPE_CHECKING:  # pragma: no cover
    import torch

#: Bump when the meaning of a cached tensor changes (e.g. how features are normalised).
FORMAT_VERSION = 1


class FeatureCache:
    """A folder of safetensors entries, each a dict of tensors under a content key.

    ``hits`` and ``misses`` count lookups, so a run can report whether it was served from
    the cache (the ``cache_hit`` metric).
    """

    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser()
        self.hits = 0
        self.misses = 0
        self._warned = False

    @staticmethod
    def key(parts: dict) -> str:
        blob = json.dumps({"format": FORMAT_VERSION, **parts}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.safetensors"

    def load(self, key: str, expect: Expected | None = None) -> dict[str, "torch.Tensor"] | None:
        """The entry's tensors, or None if there is none, or if it is not what ``key`` names or
        ``expect`` describes (then it is dropped, with a warning naming it and why).

        ``expect``: tensor name -> (shape, dtype), a dimension None for "any"."""
        from safetensors import safe_open

        path = self.path(key)
        try:
            if not path.is_file():
                return None
        except OSError:  # a path that cannot even be examined (permissions): no entry
            return None
        try:
            with safe_open(str(path), framework="pt") as f:
                stored = (f.metadata() or {}).get(_PARTS_META)
                tensors = {name: f.get_tensor(name) for name in f.keys()}
        except Exception as exc:  # truncated, foreign, unreadable: recompute rather than fail the run
            return self._drop(path, f"it is unreadable ({type(exc).__name__}: {exc})")
        problem = _mismatch(key, stored, tensors, expect)
        if problem:
            return self._drop(path, problem)
        return tensors

    def _drop(self, path: Path, why: str) -> None:
        warnings.warn(f"udabench: feature cache entry {path} is not usable: {why}; dropping it and "
                      f"recomputing", stacklevel=3)
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass  # a read-only cache: the entry stays, and is dropped again next time
        return None

    def save(self, key: str, tensors: dict[str, "torch.Tensor"], parts: dict) -> Path:
        """Write the entry atomically: a temporary file in the same folder, then a rename."""
        from safetensors.torch import save_file

        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp),
                      metadata={_PARTS_META: json.dumps(parts, sort_keys=True, default=str)})
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    def fetch(self, parts: dict, compute: Callable[[], dict[str, "torch.Tensor"]],
              expect: Expected | None = None) -> dict[str, "torch.Tensor"]:
        """The cached tensors for ``parts``, or ``compute()``'s, stored for next time.

        ``expect`` (tensor name -> (shape, dtype), None for a dimension of any size) is what a
        cached entry must hold to be read (see :meth:`load`). A cache that cannot be written
        (read-only folder, full disk, a root that cannot be created, a safetensors error) warns
        once and the run goes on with the computed tensors."""
        key = self.key(parts)
        cached = self.load(key, expect)
        if cached is not None:
            self.hits += 1
            return cached
        self.misses += 1
        tensors = compute()
        try:
            self.save(key, tensors, parts)
        except Exception as exc:  # OSError, and safetensors' own SafetensorError (not an OSError)
            if not self._warned:
                warnings.warn(f"udabench: cannot write the feature cache under {self.root} "
                              f"({type(exc).__name__}: {exc}); going on without it (set UDABENCH_CACHE "
                              f"to a writable folder, or pass --no-cache)", stacklevel=2)
                self._warned = True
        return tensors

    # -- what a deferred backbone needs to know without building its model -----------------------
    def _facts_path(self, key_parts: dict) -> Path:
        return self.root / "backbones" / f"{self.key({'kind': 'backbone-facts', **key_parts})}.json"

    def backbone_facts(self, key_parts: dict) -> dict | None:
        """The facts recorded for the backbone ``key_parts`` names (``ClipBackbone.deferred``), or
        None when there are none, or when the file is not what its name says (then it is ignored,
        and the next build records it again)."""
        path = self._facts_path(key_parts)
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("key") != key_parts or not isinstance(record.get("facts"), dict):
            return None
        facts = record["facts"]
        return facts if _FACTS.issubset(facts) else None

    def save_backbone_facts(self, key_parts: dict, facts: dict) -> None:
        """Record ``facts`` for the backbone ``key_parts`` names, atomically; a cache that cannot be
        written is skipped in silence (the next run builds its model, as without facts)."""
        path = self._facts_path(key_parts)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps({"key": key_parts, "facts": facts}, sort_keys=True), encoding="utf-8")
            os.replace(tmp, path)
        except OSError:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:  # not even a folder to look in
                pass


#: What a backbone's recorded facts hold: its model class, embedding size, the digests of its two
#: towers' weights, and its eval preprocessing's identity (``transform_key``).
_FACTS = frozenset({"model", "embed_dim", "visual", "text", "preprocess"})

#: What a caller expects of an entry: tensor name -> (shape, dtype); None in a shape: any size.
Expected = Mapping[str, tuple[tuple, "torch.dtype"]]

#: The safetensors metadata field that holds an entry's key parts.
_PARTS_META = "udabench_key_parts"


def _mismatch(key: str, stored: str | None, tensors: dict, expect: Expected | None) -> str:
    """Why an entry read from ``key``'s file is not what the key names, or "" when it is."""
    import torch

    try:
        parts = json.loads(stored) if stored is not None else None
    except ValueError:
        parts = None
    if not isinstance(parts, dict) or FeatureCache.key(parts) != key:
        return "the key parts stored in it do not match its file name (a file copied or written by something else)"
    if expect is not None:
        if set(tensors) != set(expect):
            return f"it holds tensors {sorted(tensors)}, expected {sorted(expect)}"
        for name, (shape, dtype) in expect.items():
            t = tensors[name]
            if t.dtype != dtype or t.ndim != len(shape) or any(
                    want is not None and got != want for got, want in zip(t.shape, shape)):
                want_text = "(" + ", ".join("any" if d is None else str(d) for d in shape) + ")"
                return f"{name} is {t.dtype} {tuple(t.shape)}, expected {dtype} {want_text}"
    for name, t in tensors.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            return f"{name} holds NaN or infinite values"
    return ""


def image_fingerprint(source) -> str:
    """A digest of the images: every file's path, size and modification time (as ``make``
    decides what changed), or the bytes of an in-memory array. Kept on the source object."""
    cached = getattr(source, "_fingerprint", None)
    if cached is not None:
        return cached
    h = hashlib.blake2b(digest_size=16)
    if source.paths is None:
        array = source.array
        h.update(f"{array.shape}|{array.dtype}".encode())
        h.update(memoryview(array if array.flags.c_contiguous else array.copy()).cast("B"))
    else:
        for path in source.paths:
            try:
                st = os.stat(path)
                h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
            except OSError:
                h.update(f"{path}\0missing\n".encode())
    source._fingerprint = h.hexdigest()
    return source._fingerprint


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_NAMED_FUNCTION = re.compile(r"<function [A-Za-z_][\w.]* at 0x[0-9a-fA-F]+>")


def transform_key(transform) -> str | None:
    """A transform's repr without memory addresses, or None when the repr does not say what the
    transform computes: a ``Lambda``, a lambda or local function, an object with the default
    repr. A module-level function is named by its repr (open_clip's pipeline holds one)."""
    text = repr(transform)
    if "Lambda(" in text or len(_ADDRESS.findall(text)) != len(_NAMED_FUNCTION.findall(text)):
        return None
    if "<locals>" in text or "<lambda>" in text:
        return None
    return _ADDRESS.sub("", text)
