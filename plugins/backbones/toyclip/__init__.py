"""Backbone plugin ``toyclip``: the small CLIP pretrained here, shipped as fp16 safetensors.

A plain ``open_clip.model.CLIP`` (ModifiedResNet image tower at 32 px, 3-layer
text transformer of width 96, context 16, 2.49 M parameters), loaded through
open_clip's own ``create_model(..., pretrained=path)``. ``toyclip:PATH`` loads
another checkpoint of the same architecture (e.g. one you re-pretrained with
``python -m udabench_plugins.backbones.toyclip.pretrain --out DIR``).
"""

from __future__ import annotations

from pathlib import Path

from udabench import Backbone, hookimpl


class ToyClip(Backbone):
    name = "toyclip"
    summary = "2.5M-parameter CLIP pretrained in this repo on a drawn corpus (32 px); the offline default"

    @classmethod
    def handles(cls, spec: str) -> bool:
        return spec == cls.name or spec.startswith(cls.name + ":")

    def load(self, spec: str, device: str = "cpu"):
        from udabench import ClipBackbone, WeightsUnavailableError, file_digest, reading_weights

        from .model import BPE, CONFIG, WEIGHTS, build_model, build_preprocess, build_tokenizer

        _, sep, path = spec.partition(":")
        weights = Path(path).expanduser() if sep else WEIGHTS
        if not weights.is_file():
            raise WeightsUnavailableError(
                f"backbone {spec!r}: weights file {weights} is missing. Reinstall udabench, or regenerate "
                f"it: python -m udabench_plugins.backbones.toyclip.pretrain --out {weights.parent}")
        def build():
            with reading_weights(spec, weights, "a toyclip checkpoint: a state dict of the toyclip architecture, "
                                                "as .safetensors (as the shipped toyclip.safetensors) or a .pt saved "
                                                "with torch.save(model.state_dict())"):
                model = build_model(pretrained=str(weights), device=device).eval()
            return model, build_preprocess(), build_tokenizer()

        # Built at first use: a run whose features are all cached never imports open_clip. The
        # digest is of the whole file (a toyclip checkpoint is small), so it names the bytes read.
        return ClipBackbone.deferred(build, spec, file_digest(weights), device,
                                     facts_id={"architecture": file_digest(CONFIG), "bpe": file_digest(BPE)})


@hookimpl
def register_backbones(register):
    register(ToyClip)
