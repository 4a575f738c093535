"""Method plugin ``entropy-min``: Tent-style test-time entropy minimisation, source-free.

After Tent (Wang et al., "Tent: Fully Test-Time Adaptation by Entropy Minimization",
ICLR 2021), applied to CLIP: the classifier is zero-shot CLIP (the dataset's prompt
ensemble as a fixed linear head on the normalised image embedding). Everything is frozen
except the affine parameters (weight and bias) of the image encoder's LayerNorms (and
BatchNorms, for ResNet towers); those are trained with plain SGD to minimise the mean
entropy of the softmax over unlabeled target batches. The text tower and the head do
not change. The protocol evaluates the state after the last step.
"""

from __future__ import annotations

from udabench import HParam, Method, Setting, hookimpl

UDABENCH_PLUGIN_API = 1  # the plugin contract this module was written for


def entropy(logits):
    """Mean Shannon entropy (nats) of softmax(logits) over the batch: (B, C) -> scalar."""
    log_p = logits.float().log_softmax(dim=1)
    return -(log_p.exp() * log_p).sum(dim=1).mean()


def train_norms_only(module):
    """Freeze ``module`` except its LayerNorm/BatchNorm affine parameters; return those."""
    import torch

    module.requires_grad_(False)
    norms = [m for m in module.modules() if isinstance(m, (torch.nn.LayerNorm, torch.nn.BatchNorm2d))]
    return [p.requires_grad_(True) for m in norms for p in m.parameters()]


class EntropyMin(Method):
    name = "entropy-min"
    setting = Setting.SOURCE_FREE
    summary = "Tent: visual LayerNorm/BatchNorm affine tuned to minimise prediction entropy (source-free)"
    hparams = (
        HParam("epochs", 1, "passes over the unlabeled target"),
        HParam("lr", 1e-3, "SGD learning rate"),
        HParam("batch_size", 64, "target images per step"),
    )

    def adapt(self, ctx, backbone, data):
        import torch

        from udabench import FeatureClassifier, text_head

        weights = backbone.text_classifier(data.prompt_names, data.templates)
        classifier = FeatureClassifier(backbone, text_head(weights)).requires_grad_(False)  # all fixed...
        # ... but the image encoder's norm layers
        opt = torch.optim.SGD(train_norms_only(backbone.model.visual), lr=self.config.lr)
        loader = ctx.loader(data.target.dataset(backbone.preprocess), self.config.batch_size, shuffle=True)
        classifier.train()  # Tent: BatchNorm (if any) normalises with the batch's statistics
        for epoch in ctx.progress(range(self.config.epochs), desc="entropy-min epochs"):
            for i, (x, _) in enumerate(ctx.meter.iterate(loader)):
                with ctx.autocast():
                    loss = entropy(classifier(ctx.to_device(x)))
                ctx.step(loss, opt)
                ctx.log_metrics({"train/entropy": loss.item()}, epoch * len(loader) + i)
            ctx.epoch_end(classifier)  # the protocol scores each epoch: oracle and label-free validators
        return classifier  # the protocol puts it in eval mode and evaluates it


@hookimpl
def register_methods(register):
    register(EntropyMin)
