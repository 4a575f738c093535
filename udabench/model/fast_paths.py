"""The speed options of a run, in one place: cuDNN autotuning, channels-last, torch.compile.

Mixed precision (``--precision``), ``torch.inference_mode`` for evaluation, pinned memory
and non-blocking copies on CUDA live where they act (``RunContext.autocast``,
``protocol.predict``, ``RunContext.loader`` / ``to_device``); what needs a decision about
the model is here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: ``--channels-last`` choices. ``auto``: on CUDA, for image towers made of convolutions
#: (ResNet), where cuDNN's NHWC kernels are faster under mixed precision; a ViT has one
#: convolution (its patch embedding) and gains nothing.
CHANNELS_LAST = ("auto", "on", "off")


def configure_backends(device: str) -> None:
    """cuDNN autotuning on CUDA: the input size is fixed for a whole run, so the one-time search
    for the fastest convolution algorithm pays for itself."""
    import torch

    if torch.device(device).type == "cuda":
        torch.backends.cudnn.benchmark = True


def is_convolutional(model) -> bool:
    """Whether the image tower has convolutions beyond a patch embedding (a ResNet tower)."""
    import torch

    return sum(isinstance(m, torch.nn.Conv2d) for m in model.visual.modules()) > 1


def wants_channels_last(choice: str, device: str, get_model: Callable[[], Any]) -> bool:
    """Whether ``--channels-last CHOICE`` puts the image tower in NHWC on ``device``. ``get_model``
    returns the model: called only for ``auto`` on CUDA, so a deferred backbone is not built to
    answer ``off`` or a CPU run."""
    import torch

    if choice not in CHANNELS_LAST:
        from ..contract.errors import ConfigError

        raise ConfigError(f"--channels-last must be one of {CHANNELS_LAST}, got {choice!r}")
    if choice == "auto":
        return torch.device(device).type == "cuda" and is_convolutional(get_model())
    return choice == "on"


def prepare_model(model, channels_last: bool, compile: bool) -> Any:
    """Put a run's copy of the weights on its fast paths: NHWC memory format for the image
    tower, and ``torch.compile`` of the image tower (in place: parameter names, and so
    checkpoints and the feature cache's identity checks, are unchanged)."""
    import torch

    if channels_last:
        model.visual.to(memory_format=torch.channels_last)
    if compile:
        model.visual.compile()
    return model


def is_channels_last(model) -> bool:
    """Whether the image tower's convolutions hold NHWC weights (prepare_model's channels_last)."""
    import torch

    return any(m.weight.is_contiguous(memory_format=torch.channels_last) and not m.weight.is_contiguous()
               for m in model.visual.modules() if isinstance(m, torch.nn.Conv2d))


def is_compiled(model) -> bool:
    return any(getattr(m, "_compiled_call_impl", None) is not None for m in model.modules())


def compile_like(original, copy) -> None:
    """``copy.deepcopy`` drops what ``Module.compile`` set: compile the copy's modules that were
    compiled in the original (the copy computes correctly either way; this keeps it fast)."""
    for src, dst in zip(original.modules(), copy.modules()):
        if getattr(src, "_compiled_call_impl", None) is not None:
            dst.compile()
