"""Loading open_clip weights: from a pretrained tag, the Hugging Face hub or a local file,
failing within seconds, with the fix spelled out, when they cannot be had.

Offline, open_clip retries a missing download for about 46 s before it fails.
udabench looks in the caches first; when the file is not there, it probes the
host once (3 s at most) and, if it cannot be reached, says which file is
missing and how to get it, instead of waiting.
"""

from __future__ import annotations

import functools
import hashlib
import os
import socket
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

from ..contract.errors import UdabenchError, UnknownNameError, WeightsUnavailableError
from ..contract.names import unknown_message

PROBE_TIMEOUT_S = 3.0
HF_HOST = "huggingface.co"
#: The command that lists every open_clip architecture with its pretrained tags.
LIST_ARCHITECTURES = "udabench list --open-clip"


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


def unknown_architecture(arch: str) -> UnknownNameError:
    """The error for an architecture open_clip does not know: the closest names, and how to list them all."""
    import open_clip

    return UnknownNameError(unknown_message("open_clip architecture", arch, open_clip.list_models(),
                                            listing=f"`{LIST_ARCHITECTURES}`"))


def hf_cli() -> str:
    """The command-line tool the installed huggingface_hub provides: ``hf`` (what current
    releases install), or ``huggingface-cli`` for an old release that ships only that one."""
    try:
        from importlib.metadata import PackageNotFoundError, distribution

        scripts = {e.name for e in distribution("huggingface_hub").entry_points if e.group == "console_scripts"}
    except (ImportError, PackageNotFoundError):  # pragma: no cover - open_clip depends on it
        scripts = set()
    return "huggingface-cli" if "huggingface-cli" in scripts and "hf" not in scripts else "hf"


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
        raise unknown_architecture(arch)
    cfg = open_clip.get_pretrained_cfg(arch, tag)
    if not cfg:
        tags = open_clip.list_pretrained_tags_by_model(arch)
        raise UnknownNameError(unknown_message(
            f"pretrained tag of {arch}", tag, tags,
            f"Or give a checkpoint file: --backbone {arch}:/path/to/weights.safetensors"))
    hf = cfg.get("hf_hub", "")
    if hf:
        repo_id, filename = os.path.split(hf)  # "org/repo/" means open_clip's default file name
        filename = filename or "open_clip_pytorch_model.bin"
        names = _hf_candidates(filename)
        hint = (f"the file {names[0]} (or {names[-1]}) of the Hugging Face repository {repo_id}. "
                f"On a machine with network: `{hf_cli()} download {repo_id} {names[0]}`, then copy "
                f"~/.cache/huggingface/hub here (or set HF_HOME), or pass the file itself: "
                f"--backbone {arch}:/path/to/{names[0]}")
        return _hf_cached(repo_id, names), cfg, hint
    url = cfg.get("url", "")
    target = Path("~/.cache/clip").expanduser() / os.path.basename(urlparse(url).path)
    hint = (f"the file {target.name} from {url}; download it on a machine with network into "
            f"~/.cache/clip/, or pass it: --backbone {arch}:/path/to/{target.name}")
    return (str(target) if target.is_file() else None), cfg, hint


#: What a checkpoint file given by path should be (the end of the message of a bad one).
STATE_DICT = ("a state dict of that architecture's tensors: a .safetensors file (preferred), or a "
              ".pt/.pth/.bin file saved with torch.save(model.state_dict())")

#: Lines of torch's and open_clip's messages that are advice udabench does not give: re-running
#: ``torch.load`` with ``weights_only=False`` would execute whatever the pickle holds.
_ADVICE = ("weights_only", "weights only load failed", "please file an issue", "check the documentation",
           "trusted source")


@contextmanager
def reading_weights(spec: str, path: str | Path, expected: str = STATE_DICT):
    """Turn any error of building a model from the weights file ``path`` into one
    WeightsUnavailableError naming the backbone spec, the file, what is wrong with it and what
    it should be (``expected``). Files are read with ``torch.load(weights_only=True)`` or
    safetensors only: a pickle that would run code is refused, never executed, and the message
    does not suggest loading it unsafely.

    Usage (a backbone plugin): ``with reading_weights(spec, path, "a toyclip state dict"): model = build(path)``."""
    try:
        yield
    except UdabenchError:
        raise
    except Exception as exc:
        if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
            raise  # the machine, not the file
        raise WeightsUnavailableError(
            f"backbone {spec!r}: {path} is not a usable checkpoint: {_weights_problem(exc)}. "
            f"It should be {expected}.") from None


def _weights_problem(exc: BaseException) -> str:
    """What a loader's exception says about the file, without torch's advice to load it unsafely."""
    kind = type(exc).__name__
    lines = [ln.strip() for ln in str(exc).splitlines()]
    said = " ".join(ln for ln in lines if ln and not any(a in ln.lower() for a in _ADVICE))
    said = said[:400] + (" ..." if len(said) > 400 else "")
    if kind == "UnpicklingError":
        if "GLOBAL" in said:
            return (f"it is a pickle that holds Python objects besides tensors ({said}), which udabench "
                    f"will not unpickle, since unpickling them could run code")
        return f"torch.load cannot read it as a checkpoint ({said or kind})"
    if kind == "SafetensorError":
        return f"it is not a valid safetensors file ({said or kind})"
    if kind in ("EOFError", "BadZipFile") or "zip archive" in said or "PytorchStreamReader" in said:
        return f"it is truncated or not a checkpoint ({kind}{': ' + said if said else ''})"
    if kind == "RuntimeError" and ("state_dict" in said or "size mismatch" in said):
        return f"its tensors do not fit the architecture ({said})"
    return f"{kind}: {said}" if said else kind


def file_digest(path: str | Path, limit: int = 1 << 30) -> str:
    """A short sha256 of a weights file (of its first GiB, for speed on huge files); computed once
    per process for a file whose size and modification time did not change."""
    st = os.stat(path)
    return _digest(str(Path(path).resolve()), st.st_size, st.st_mtime_ns, limit)


@functools.lru_cache(maxsize=64)
def _digest(path: str, size: int, mtime_ns: int, limit: int) -> str:
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


def checkpoint_path(spec: str) -> Path | None:
    """The checkpoint file an ``ARCH:/path/to/checkpoint`` spec names (a path, or a name ending in
    .safetensors, .pt, .pth or .bin); None for a pretrained tag, ``hf-hub:`` and ``local-dir:``."""
    _, tag = split_spec(spec)
    if tag is None:
        return None
    looks_like_path = os.sep in tag or tag.endswith((".safetensors", ".pt", ".pth", ".bin"))
    return Path(tag).expanduser() if looks_like_path else None


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
                f"`{hf_cli()} download {repo}`, then copy ~/.cache/huggingface/hub here.")
        return open_clip.create_model(arch, **kwargs), arch
    if arch.startswith("local-dir:"):
        folder = Path(arch[len("local-dir:"):]).expanduser()
        _check_local_dir(spec, folder)
        with reading_weights(spec, folder, "a folder with open_clip_config.json (its model_cfg) and the weights "
                                           "of that architecture (open_clip_model.safetensors, or "
                                           "open_clip_pytorch_model.bin)"):
            return open_clip.create_model(arch, **kwargs), arch
    if tag is None:
        raise WeightsUnavailableError(
            f"backbone {spec!r} names no weights. Use ARCH:TAG (e.g. ViT-B-16:openai; "
            f"`{LIST_ARCHITECTURES}` lists them) "
            f"or ARCH:/path/to/checkpoint.safetensors")
    path = checkpoint_path(spec)
    if path is not None:
        if not path.is_file():
            raise WeightsUnavailableError(f"backbone {spec!r}: checkpoint file {path} does not exist")
        if arch not in open_clip.list_models():
            raise unknown_architecture(arch)
        with reading_weights(spec, path, f"an open_clip checkpoint of {arch}: {STATE_DICT}"):
            return open_clip.create_model(arch, pretrained=str(path), **kwargs), file_digest(path)
    cached, cfg, hint = resolve_tag(arch, tag)
    kwargs["force_quick_gelu"] = bool(cfg.get("quick_gelu", False))  # the tag's activation, or accuracy drops
    pre = {k: cfg[k] for k in ("mean", "std", "interpolation", "resize_mode") if k in cfg}
    if pre:
        kwargs["force_preprocess_cfg"] = pre
    if cached:
        with reading_weights(spec, cached, f"the {arch}:{tag} weights; delete the file and download it again: "
                                           f"{hint}"):
            return open_clip.create_model(arch, pretrained=cached, **kwargs), f"{arch}:{tag}"
    host = HF_HOST if cfg.get("hf_hub") else urlparse(cfg.get("url", "")).hostname or HF_HOST
    if not host_reachable(host):
        raise WeightsUnavailableError(
            f"backbone {spec!r}: weights not found in the local caches and {host} cannot be reached "
            f"(offline?). udabench needs {hint}")
    return open_clip.create_model(arch, pretrained=tag, **kwargs), f"{arch}:{tag}"


#: The weights files open_clip looks for in a ``local-dir:`` folder (it takes the first it finds).
LOCAL_DIR_WEIGHTS = ("*.safetensors", "*.bin", "*.pth")


def _check_local_dir(spec: str, folder: Path) -> None:
    """A ``local-dir:`` folder must exist and hold open_clip_config.json and a weights file:
    without one, open_clip would build the model with random weights, and only log it."""
    needs = ("It should hold open_clip_config.json (with a model_cfg) and the weights "
             "(open_clip_model.safetensors, or open_clip_pytorch_model.bin), as a Hugging Face "
             "open_clip repository does.")
    if not folder.is_dir():
        raise WeightsUnavailableError(f"backbone {spec!r}: folder {folder} does not exist. {needs}")
    if not (folder / "open_clip_config.json").is_file():
        raise WeightsUnavailableError(f"backbone {spec!r}: {folder} has no open_clip_config.json. {needs}")
    if not any(any(folder.glob(pattern)) for pattern in LOCAL_DIR_WEIGHTS):
        raise WeightsUnavailableError(
            f"backbone {spec!r}: {folder} holds no weights file ({', '.join(LOCAL_DIR_WEIGHTS)}); open_clip "
            f"would build the model with random weights. {needs}")
