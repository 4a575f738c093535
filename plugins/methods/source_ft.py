"""Method plugin ``source-ft`` ("CLIP-FT" in DAPL's tables): fine-tune CLIP's image encoder
on the labeled source (docs/methods.md, source-ft: the recipe's details are udabench's choices).

Model: the CLIP image encoder, then a linear head on the L2-normalised
embedding, initialised to 100 x the zero-shot text classifier (so step 0 is
zero-shot CLIP). Loss: cross-entropy on source labels. AdamW with two learning
rates (1e-5 encoder, 1e-3 head), cosine decay per iteration, DAPL's
augmentation (random-resized-crop, scale 0.08-1, bicubic, + horizontal flip
where the dataset allows it). The text encoder is not used after the head is
built. The last epoch is what gets evaluated.
"""

from __future__ import annotations

from udabench import HParam, Method, Setting, hookimpl


class SourceFineTune(Method):
    name = "source-ft"
    setting = Setting.SOURCE_ONLY
    fidelity = "standard"
    summary = "CLIP-FT: image encoder + zero-shot-initialised head, cross-entropy on the source"
    data_parallel = True
    hparams = (
        HParam("epochs", 10, "passes over the source", minimum=1),
        HParam("batch_size", 32, "source images per step", minimum=1),
        HParam("lr_encoder", 1e-5, "AdamW learning rate of the image encoder", exclusive_minimum=0),
        HParam("lr_head", 1e-3, "AdamW learning rate of the linear head", exclusive_minimum=0),
        HParam("weight_decay", 0.01, "AdamW weight decay", minimum=0),
        HParam("aug_scale_min", 0.08, "lower bound of the random-resized-crop scale", exclusive_minimum=0,
               maximum=1),
    )
    # 32-px toy CLIP: its pretraining lr was 2e-3, so 1e-5 would leave it where it is; a 0.08 crop
    # of a 32-px digit leaves no digit.
    # Small images (at most 64 px) and their small backbones: a 32-px image does not survive a 0.08
    # crop, and a small encoder takes a larger step than ViT-B/16's 1e-5.
    profiles = {"small-image": {"lr_encoder": 1e-4, "aug_scale_min": 0.5, "batch_size": 64}}

    def adapt(self, ctx, backbone, data):
        import torch
        import torch.nn.functional as F

        from udabench import FeatureClassifier, text_head

        cfg = self.config
        text = backbone.text_classifier(data.prompt_names, data.templates)
        clf = FeatureClassifier(backbone, text_head(text, bias=True))
        # Only the image tower trains (the text side is done with; DDP allows no idle trainable parameter).
        backbone.model.requires_grad_(False).visual.requires_grad_(True)
        train_set = data.source.dataset(backbone.train_transform((cfg.aug_scale_min, 1.0), data.hflip_ok))
        loader = ctx.loader(train_set, cfg.batch_size, shuffle=True, drop_last=len(train_set) > cfg.batch_size,
                            persistent=True)
        opt = torch.optim.AdamW([
            {"params": [p for p in backbone.model.visual.parameters()], "lr": cfg.lr_encoder},
            {"params": clf.head.parameters(), "lr": cfg.lr_head},
        ], weight_decay=cfg.weight_decay)
        total = cfg.epochs * len(loader)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, total))
        step = 0
        train_clf = ctx.wrap_ddp(clf)  # DistributedDataParallel under torchrun; clf itself in one process
        clf.train()
        for epoch in ctx.progress(range(cfg.epochs), desc="source-ft epochs", leave=False):
            for x, y in ctx.meter.iterate(loader):
                x, y = ctx.to_device(x), ctx.to_device(y)
                with ctx.autocast():
                    loss = F.cross_entropy(train_clf(x), y)
                ctx.step(loss, opt)
                sched.step()
                step += 1
                ctx.log_metrics({"train/loss": loss.detach()}, step)
            ctx.epoch_end(clf)  # the protocol scores every epoch (model selection, side by side)
        return clf


@hookimpl
def register_methods(register):
    register(SourceFineTune)
