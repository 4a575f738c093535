"""Method plugin ``coop`` (few-shot, code-faithful; docs/methods.md, coop).

CoOp, Context Optimization (Zhou, Yang, Loy, Liu: "Learning to Prompt for Vision-Language
Models", IJCV 2022; official code KaiyangZhou/CoOp on KaiyangZhou/Dassl.pytorch).

CLIP stays frozen; only the words of the prompt are learned. For class c the text encoder g
reads M learnable context vectors and the class name's token embeddings:

    t_c = [SOS] [v]_1 [v]_2 … [v]_M [CLASS_c] . [EOS]                (class token at the end)

(``class_token_position: middle`` puts the name after the first ⌊M/2⌋ vectors, ``front``
before them). The vectors [v]_m have the width of the token embeddings; one set is shared by
all classes (unified context), or each class has its own (``csc``, class-specific context).
They start N(0, 0.02²), or as the token embeddings of a phrase (``ctx_init``: "a photo of a",
M = 4). With the image feature f = norm(E_I(x)) and w_c = norm(g(t_c)), the prediction is

    p(y = c | x) = exp(s · f·w_c) / Σ_j exp(s · f·w_j),     s = exp(CLIP's learned logit scale)

(s = 100 for OpenAI's weights), and the context minimises the cross-entropy −log p(y | x) over
the K labeled shots per class by SGD (momentum 0.9, weight decay 5e-4: Dassl's defaults), lr
0.002, batch 32, random-resized-crop (scale 0.08–1, bicubic) + flip. The learning rate, set once
per epoch (Dassl's constant warm-up around a cosine, ``coop_lr``):

    lr(e) = 1e-5                              e < W = 1 (warm-up)
    lr(e) = ½ · 0.002 · (1 + cos(π (e − W) / E))  e ≥ W

The epochs E follow the shot count (COOP.md: 1 shot ``rn50_ep50``, 2 and 4 shots ``rn50_ep100``,
8 and 16 shots ``rn50``): 50, 100, 100, 200, 200; ImageNet uses ``rn50_ep50`` for every shot
count (``dataset_overrides``). ``epochs: 0`` (the default) means this table.

The model returned is the last step's (CoOp's ``TEST.FINAL_MODEL last_step``, its setting since
15.10.2021). CoOp's val split, subsampled to min(K, 4) per class, serves only its ``best_val``
selection, which ``last_step`` does not use: ``coop`` reads no val split. Each epoch is handed
to the protocol (``ctx.epoch_end``), whose oracle column reports the best epoch.

Departures: the run's precision (``--precision``; CoOp's default ``PREC`` is fp16); udabench's
loader order and open_clip models. With ``ctx_init`` the context is shared even if ``csc`` is
set, as in CoOp's code; its length is the phrase's token count (CoOp takes the word count,
the same for "a photo of a").
"""

from __future__ import annotations

import math

from udabench import HParam, Method, Setting, hookimpl

#: CoOp's epochs by shot count (COOP.md; configs/trainers/CoOp/rn50_ep50, rn50_ep100, rn50).
COOP_EPOCHS = {1: 50, 2: 100, 4: 100, 8: 200, 16: 200}

# 32-px images and the toy CLIP's 16-token context: 4 context vectors leave room for the class
# name (``check_backbone`` refuses what does not fit), and a 32-px digit does not survive a 0.08
# crop (dapl's profile says the same). The schedule stays CoOp's: a shorter one is no shortcut to
# its result (digits printed2handwritten, 16 shots, seed 0: 49.9 after CoOp's 200 epochs, 29.5
# after 50, zero-shot 33.1). With 16 shots that is 1,000 steps, minutes on a CPU; 1 shot, 50 steps.
SMALL_IMAGE = {"n_ctx": 4, "aug_scale_min": 0.5}


def coop_epochs(shots: int, epochs: int) -> int:
    """The epochs to train: ``epochs`` when > 0, else CoOp's for the shot count (``COOP_EPOCHS``)."""
    return epochs if epochs > 0 else COOP_EPOCHS[shots]


def coop_lr(epoch: int, lr: float, warmup_lr: float, warmup_epochs: int, epochs: int) -> float:
    """The learning rate of epoch ``epoch`` (0-based) in CoOp's code: Dassl's
    ``ConstantWarmupScheduler(CosineAnnealingLR(T_max = E), W, warmup_lr)`` with
    ``WARMUP_RECOUNT``, stepped once at the end of every epoch:

        lr(e) = warmup_lr                                e < W
        lr(e) = ½ · lr · (1 + cos(π (e − W) / E))        e ≥ W

    CoOp's configs: W = 1, warmup_lr = 1e-5, lr = 0.002, so lr(0) = 1e-5, lr(1) = 0.002, and the
    last epoch e = E − 1 still runs at ½ · lr · (1 + cos(π (E − 2) / E)) > 0."""
    if epoch < warmup_epochs:
        return warmup_lr
    return 0.5 * lr * (1 + math.cos(math.pi * (epoch - warmup_epochs) / epochs))


def prompt_logits(image_features, text_features, scale: float):
    """CoOp's logits: s · norm(f) · norm(w)ᵀ, (B, D) image and (C, D) text features."""
    import torch.nn.functional as F

    return scale * F.normalize(image_features, dim=-1) @ F.normalize(text_features, dim=-1).T


class CoOp(Method):
    name = "coop"
    setting = Setting.FEW_SHOT
    fidelity = "code-faithful"
    summary = "few-shot: learned prompt context (CoOp), frozen CLIP, last step"
    hparams = (
        HParam("shots", 16, "labeled target images per class", choices=(1, 2, 4, 8, 16)),
        HParam("epochs", 0, "training epochs; 0: CoOp's schedule for the shot count (COOP.md): 50 for 1 shot, "
                            "100 for 2 and 4, 200 for 8 and 16 (ImageNet: 50 for every shot count)", minimum=0),
        HParam("batch_size", 32, "shots per step", minimum=1),
        HParam("lr", 0.002, "SGD learning rate after the warm-up (cosine to the end)", exclusive_minimum=0),
        HParam("momentum", 0.9, "SGD momentum (Dassl's default)", minimum=0, exclusive_maximum=1),
        HParam("weight_decay", 5e-4, "SGD weight decay (Dassl's default)", minimum=0),
        HParam("warmup_epochs", 1, "epochs at the constant warm-up rate", minimum=0),
        HParam("warmup_lr", 1e-5, "the constant warm-up learning rate", exclusive_minimum=0),
        HParam("n_ctx", 16, "M: learned context vectors (ignored with ctx_init)", minimum=1),
        HParam("ctx_init", "", "initialise the context from this phrase's token embeddings, e.g. 'a photo of a' "
                               "(CoOp's rn50_ctxv1); empty: N(0, 0.02²)"),
        HParam("csc", False, "class-specific context: one set of vectors per class (ignored with ctx_init, as "
                             "in CoOp's code)"),
        HParam("class_token_position", "end", "where the class name goes: after the context, in its middle, or "
                                              "before it", choices=("end", "middle", "front")),
        HParam("aug_scale_min", 0.08, "lower bound of the random-resized-crop scale (Dassl's RRCROP_SCALE)",
               exclusive_minimum=0, maximum=1),
    )
    profiles = {"small-image": SMALL_IMAGE}
    # COOP.md: ImageNet runs rn50_ep50 for every shot count.
    dataset_overrides = {"imagenet": {"epochs": 50}}

    def check_backbone(self, backbone, dataset):
        """Refuse, before any data is read, prompts longer than the text encoder's context."""
        from udabench import ConfigError

        from .prompt_learner import overlong_prompts, prompt_texts

        cfg = self.config
        limit = int(backbone.tokenizer(["x"]).shape[1])
        n = len(backbone.tokenizer.encode(cfg.ctx_init)) if cfg.ctx_init else cfg.n_ctx
        over = overlong_prompts(backbone.tokenizer, prompt_texts(dataset.class_prompt_names(), ("",), n, False),
                                limit)
        if over:
            prompt, needed = max(over, key=lambda pn: pn[1])
            raise ConfigError(
                f"coop: {n} context vectors do not fit backbone {backbone.spec!r}, whose text encoder reads "
                f"{limit} tokens: the longest prompt of {dataset.name}, {prompt!r}, needs {needed}. Lower n_ctx "
                f"(--set n_ctx=4) or use a shorter ctx_init; a dataset of images of at most 64 px gets the "
                f"small-image profile (n_ctx=4).")

    def adapt(self, ctx, backbone, data):
        import torch
        import torch.nn.functional as F

        from .prompt_learner import DomainPromptLearner

        cfg = self.config
        model = backbone.model.eval()  # CoOp's image and text encoders stay in eval mode
        for p in model.parameters():
            p.requires_grad_(False)
        # One nameless domain, no domain vectors, no suffix: "[SOS] [v]_1..[v]_M <classname>. [EOS]".
        learner = DomainPromptLearner(model, backbone.tokenizer, data.prompt_names, ("",), cfg.n_ctx, 0, cfg.csc,
                                      False, ctx_init=cfg.ctx_init,
                                      class_token_position=cfg.class_token_position).to(backbone.device)
        scale = float(model.logit_scale.exp()) if hasattr(model, "logit_scale") else 100.0
        tf = backbone.train_transform((cfg.aug_scale_min, 1.0), data.hflip_ok)
        shots = data.shots
        loader = ctx.loader(shots.dataset(tf), cfg.batch_size, shuffle=True,
                            drop_last=len(shots) >= cfg.batch_size, persistent=True)  # Dassl's drop_last
        opt = torch.optim.SGD([learner.ctx], lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
        epochs = coop_epochs(cfg.shots, cfg.epochs)
        for epoch in ctx.progress(range(epochs), desc="coop epochs"):
            rate = coop_lr(epoch, cfg.lr, cfg.warmup_lr, cfg.warmup_epochs, epochs)
            for group in opt.param_groups:
                group["lr"] = rate
            sums, seen = torch.zeros(2), 0
            for x, y in ctx.meter.iterate(loader):
                x, y = ctx.to_device(x), ctx.to_device(y)
                with ctx.autocast():
                    with torch.no_grad():
                        f = model.encode_image(x).float()
                    logits = prompt_logits(f, learner().float(), scale)
                    loss = F.cross_entropy(logits, y)
                ctx.step(loss, opt)
                sums += torch.stack([loss.detach().float().cpu() * len(y),
                                     (logits.argmax(1) == y).sum().float().cpu()])
                seen += len(y)
            ctx.log_metrics({"train/loss": sums[0] / seen, "train/acc": 100 * sums[1] / seen, "train/lr": rate},
                            epoch + 1)
            ctx.epoch_end(self.classifier(backbone, learner, scale), epoch + 1)
        return self.classifier(backbone, learner, scale)

    @staticmethod
    def classifier(backbone, learner, scale: float):
        """The learned prompts' text features as a linear head on the frozen image embedding."""
        import torch

        from udabench import FeatureClassifier, text_head

        with torch.no_grad():
            text = learner().float()
        return FeatureClassifier(backbone, text_head(torch.nn.functional.normalize(text, dim=-1), scale=scale))


@hookimpl
def register_methods(register):
    register(CoOp)
