"""Backbone plugin ``openclip``: any open_clip architecture with real weights.

Specs: ``ARCH:TAG`` (``ViT-B-16:openai``, ``ViT-B-32:laion2b_s34b_b79k``), ``ARCH:/path/to/checkpoint``
(.safetensors preferred; .pt/.bin are read with ``torch.load(weights_only=True)``), ``hf-hub:ORG/REPO``
and ``local-dir:/path`` (a folder with ``open_clip_config.json`` and weights). Missing weights fail
within seconds with what to download (``udabench.weights``).
"""

from __future__ import annotations

from udabench import Backbone, hookimpl


class OpenClip(Backbone):
    name = "openclip"
    summary = "open_clip models: ARCH:TAG, ARCH:/path/to/checkpoint, hf-hub:ORG/REPO, local-dir:PATH"

    @classmethod
    def handles(cls, spec: str) -> bool:
        return ":" in spec

    def load(self, spec: str, device: str = "cpu"):
        import open_clip
        from open_clip.transform import PreprocessCfg, image_transform_v2

        from udabench import ClipBackbone, create_open_clip, split_spec

        model, weights_id = create_open_clip(spec, device=device)
        pp = PreprocessCfg(**model.visual.preprocess_cfg)
        arch, _ = split_spec(spec)
        tokenizer = open_clip.get_tokenizer(arch)
        return ClipBackbone(model.eval(), image_transform_v2(pp, is_train=False), tokenizer, spec, weights_id)


@hookimpl
def register_backbones(register):
    register(OpenClip)
