"""Loading open_clip weights: from a pretrained tag, the Hugging Face hub or a local file,
failing within seconds, with the fix spelled out, when they cannot be had.

Offline, open_clip retries a missing download for about 46 s before it fails.
udabench looks in the caches first; when the file is not there, it probes the
host once (3 s at most) and, if it cannot be reached, says which file is
missing and how to get it, instead of waiting.
"""

from __future__ import annotations

import hashlib
import os
import socket
from pathlib import Path
from urllib.parse import urlparse

from ..contract.errors import UnknownNameError, WeightsUnavailableError
from ..contract.names import unknown_message

PROBE_TIMEOUT_S = 3.0
HF_HOST = "huggingface.co"


def split_spec(spec: str) -> tuple[str, str | None]:
    """``"ViT-B-16:openai"`` -> ("ViT-B-16", "openai"); ``hf-hub:org/repo`` and bare names keep no tag.

    A tag may be a file path (``ViT-B-16:/ckpt/model.safetensors``), which may itself contain ':'.
    """
    if spec.startswith(("hf-hub:", "local-dir:")):
        return spec, None
    arch, sep, tag = spec.partition(":")
    return arch, (tag if sep else None)


def host_reachable(host: str, port: int = 443, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """One TCP connect to ``host``: False under HF_HUB_OFFLINE, on a DNS failure or a refused or silent host."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _hf_cached(repo_id: str, filenames: list[str]) -> str | None:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - open_clip depends on it
        return None
    for name in filenames:
        hit = try_to_load_from_cache(repo_id, name)
        if isinstance(hit, str) and os.path.isfile(hit):
            return hit
    return None


def _hf_candidates(filename: str) -> list[str]:
    """open_clip prefers a .safetensors twin of the file its table names."""
    out = []
    if filename == "open_clip_pytorch_model.bin":
        out.append("open_clip_model.safetensors")
    elif filename.endswith((".bin", ".pth")):
        out.append(filename[:-4] + ".safetensors")
    return out + [filename]


def resolve_tag(arch: str, tag: str) -> tuple[str | None, dict, str]:
    """For a pretrained tag: (cached file or None, the tag's config, a how-to-get-it hint)."""
    import open_clip

    if arch not in open_clip.list_models():
        raise UnknownNameError(unknown_message("open_clip architecture", arch, open_clip.list_models()))
    cfg = open_clip.get_pretrained_cfg(arch, tag)
    if not cfg:
        tags = open_clip.list_pretrained_tags_by_model(arch)
        raise UnknownNameError(unknown_message(
            f"pretrained tag for {arch}", tag, tags,
            f"Or give a checkpoint file: --backbone {arch}:/path/to/weights.safetensors"))
    hf = cfg.get("hf_hub", "")
    if hf:
        repo_id, filename = os.path.split(hf)  # "org/repo/" means open_clip's default file name
        filename = filename or "open_clip_pytorch_model.bin"
        names = _hf_candidates(filename)
        hint = (f"the file {names[0]} (or {names[-1]}) of the Hugging Face repository {repo_id}. "
                f"On a machine with network: `huggingface-cli download {repo_id} {names[0]}`, then copy "
                f"~/.cache/huggingface/hub here (or set HF_HOME), or pass the file itself: "
                f"--backbone {arch}:/path/to/{names[0]}")
        return _hf_cached(repo_id, names), cfg, hint
    url = cfg.get("url", "")
    target = Path("~/.cache/clip").expanduser() / os.path.basename(urlparse(url).path)
    hint = (f"the file {target.name} from {url}; download it on a machine with network into "
            f"~/.cache/clip/, or pass it: --backbone {arch}:/path/to/{target.name}")
    return (str(target) if target.is_file() else None), cfg, hint


def file_digest(path: str | Path, limit: int = 1 << 30) -> str:
    """A short sha256 of a weights file (of its first GiB, for speed on huge files)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        remaining = limit
        while remaining > 0:
            block = f.read(min(1 << 22, remaining))
            if not block:
                break
            h.update(block)
            remaining -= len(block)
    return h.hexdigest()[:16]


def create_open_clip(spec: str, device: str = "cpu"):
    """(model, weights_id) for an open_clip spec, or a WeightsUnavailableError within seconds."""
    import open_clip

    arch, tag = split_spec(spec)
    kwargs: dict = {"device": device}
    if arch.startswith("hf-hub:"):
        repo = arch[len("hf-hub:"):]
        if _hf_cached(repo, ["open_clip_config.json"]) is None and not host_reachable(HF_HOST):
            raise WeightsUnavailableError(
                f"backbone {spec!r}: open_clip_config.json of {repo} is not in the Hugging Face cache and "
                f"{HF_HOST} cannot be reached from here. On a machine with network: "
                f"`huggingface-cli download {repo}`, then copy ~/.cache/huggingface/hub here.")
        return open_clip.create_model(arch, **kwargs), arch
    if arch.startswith("local-dir:"):
        return open_clip.create_model(arch, **kwargs), arch
    if tag is None:
        raise WeightsUnavailableError(
            f"backbone {spec!r} names no weights. Use ARCH:TAG (e.g. ViT-B-16:openai; "
            f"`python -c \"import open_clip; print(open_clip.list_pretrained())\"` lists them) "
            f"or ARCH:/path/to/checkpoint.safetensors")
    looks_like_path = os.sep in tag or tag.endswith((".safetensors", ".pt", ".pth", ".bin"))
    if looks_like_path:
        path = Path(tag).expanduser()
        if not path.is_file():
            raise WeightsUnavailableError(f"backbone {spec!r}: checkpoint file {path} does not exist")
        return open_clip.create_model(arch, pretrained=str(path), **kwargs), file_digest(path)
    cached, cfg, hint = resolve_tag(arch, tag)
    kwargs["force_quick_gelu"] = bool(cfg.get("quick_gelu", False))  # the tag's activation, or accuracy drops
    pre = {k: cfg[k] for k in ("mean", "std", "interpolation", "resize_mode") if k in cfg}
    if pre:
        kwargs["force_preprocess_cfg"] = pre
    if cached:
        return open_clip.create_model(arch, pretrained=cached, **kwargs), f"{arch}:{tag}"
    host = HF_HOST if cfg.get("hf_hub") else urlparse(cfg.get("url", "")).hostname or HF_HOST
    if not host_reachable(host):
        raise WeightsUnavailableError(
            f"backbone {spec!r}: weights not found in the local caches and {host} cannot be reached "
            f"(offline?). udabench needs {hint}")
    return open_clip.create_model(arch, pretrained=tag, **kwargs), f"{arch}:{tag}"
