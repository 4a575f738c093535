"""Method plugin ``zeroshot``: CLIP zero-shot classification (docs/methods.md, zeroshot: "exact").

For each class, every template of the dataset is embedded, L2-normalised,
averaged and re-normalised (CLIP's prompt ensemble); an image's logits are
100 · cos(image embedding, class embedding). Nothing is trained, no data is
seen: the same number for every source of a target.
"""

from __future__ import annotations

from udabench import HParam, Method, Setting, hookimpl


class ZeroShot(Method):
    name = "zeroshot"
    setting = Setting.ZERO_SHOT
    fidelity = "exact"
    seed_independent = True
    summary = "CLIP zero-shot: prompt ensemble of the dataset's templates, logits = 100·cos"
    hparams = (HParam("logit_scale", 100.0, "fixed logit scale (CLIP_benchmark and DAPL use 100)",
                      exclusive_minimum=0),)

    def adapt(self, ctx, backbone, data):
        from udabench import FeatureClassifier, text_head

        weights = backbone.text_classifier(data.prompt_names, data.templates)
        return FeatureClassifier(backbone, text_head(weights, self.config.logit_scale), frozen_encoder=True)


@hookimpl
def register_methods(register):
    register(ZeroShot)
