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
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Callable

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

    def load(self, key: str) -> dict[str, "torch.Tensor"] | None:
        """The entry's tensors, or None if there is none (or it cannot be read: it is dropped)."""
        from safetensors.torch import load_file

        path = self.path(key)
        if not path.is_file():
            return None
        try:
            return load_file(path)
        except Exception as exc:  # a truncated or foreign file: recompute rather than fail the run
            warnings.warn(f"udabench: feature cache entry {path} is unreadable ({exc}); recomputing it",
                          stacklevel=2)
            path.unlink(missing_ok=True)
            return None

    def save(self, key: str, tensors: dict[str, "torch.Tensor"], parts: dict) -> Path:
        """Write the entry atomically: a temporary file in the same folder, then a rename."""
        from safetensors.torch import save_file

        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp),
                      metadata={"udabench_key_parts": json.dumps(parts, sort_keys=True, default=str)})
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    def fetch(self, parts: dict, compute: Callable[[], dict[str, "torch.Tensor"]]) -> dict[str, "torch.Tensor"]:
        """The cached tensors for ``parts``, or ``compute()``'s, stored for next time.

        A cache that cannot be written (read-only folder, full disk) warns once and the run
        goes on with the computed tensors."""
        key = self.key(parts)
        cached = self.load(key)
        if cached is not None:
            self.hits += 1
            return cached
        self.misses += 1
        tensors = compute()
        try:
            self.save(key, tensors, parts)
        except OSError as exc:
            if not self._warned:
                warnings.warn(f"udabench: cannot write the feature cache under {self.root} ({exc}); "
                              f"going on without it (set UDABENCH_CACHE to a writable folder, or "
                              f"pass --no-cache)", stacklevel=2)
                self._warned = True
        return tensors


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
