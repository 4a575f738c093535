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
        from udabench import ClipBackbone, checkpoint_path, file_digest

        path = checkpoint_path(spec)
        if path is not None and path.is_file():
            # The spec names the bytes (their digest is the weights id): built at first use, so a
            # rerun served from the feature cache never imports open_clip nor reads the checkpoint.
            return ClipBackbone.deferred(lambda: _build(spec, device)[:3], spec, file_digest(path), device)
        # A pretrained tag, hf-hub: or local-dir: names weights that may change under the name: built now.
        model, preprocess, tokenizer, weights_id = _build(spec, device)
        return ClipBackbone(model, preprocess, tokenizer, spec, weights_id)


def _build(spec: str, device: str) -> tuple:
    """(model in eval mode, eval preprocessing, tokenizer, weights id) of an open_clip spec."""
    import open_clip
    from open_clip.transform import PreprocessCfg, image_transform_v2

    from udabench import create_open_clip, split_spec

    model, weights_id = create_open_clip(spec, device=device)
    pp = PreprocessCfg(**model.visual.preprocess_cfg)
    arch, _ = split_spec(spec)
    return model.eval(), image_transform_v2(pp, is_train=False), open_clip.get_tokenizer(arch), weights_id


@hookimpl
def register_backbones(register):
    register(OpenClip)
