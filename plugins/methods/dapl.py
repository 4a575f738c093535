"""Method plugins ``dapl`` (code-faithful) and ``dampl`` (reconstruction); docs/methods.md.

DAPL — Domain Adaptation via Prompt Learning (Ge et al., TNNLS 2023). Frozen CLIP;
trained: the prompt learner's shared context v and per-domain context d
(``prompt_learner.py``). Per step, a source batch and a target batch (32 + 32, DAPL's
augmentation):

    logits = 100 · norm(f(x)) · norm(g(t))ᵀ over [source prompts | target prompts]
    L_s = CE(logits_x[:, 0:C], y_s)                                  (source prompts only)
    ŷ, mask = argmax / 1[max ≥ τ] of softmax(zero-shot logits / T)   (fixed "a photo of a {c}.")
    L_u = Σ mask · CE(logits_u[:, C:2C], ŷ) / Σ mask                 (target prompts only)
    L = L_s + U · L_u

Defaults follow the official code (LeapLabTHU/DAPrompt on KaiyangZhou/Dassl.pytorch):

* Prompts end in ", a <domain> image.." with the dataset's domain prompt words
  (``AdaptData.domain_prompt_names``), which are Dassl's domain names: "synthetic" / "real"
  on VisDA-2017, "real_world" on Office-Home.
* SGD (lr 3e-3, momentum 0.9, wd 5e-4) under Dassl's linear warm-up + cosine scheduler, stepped
  after every iteration with T_max = the epochs (``lr_step: iter``, ``dassl_iter_lr``): one
  iteration at 1e-5, then a cosine of period 2·epochs iterations that cycles and never anneals.
  ``lr_step: epoch`` is udabench's reading of the config (warm-up ramp over the first epoch,
  then a cosine over the epochs, ``per_epoch_lr``).
* Class-specific context on VisDA-2017 (``dataset_overrides``, the ``ep25-32-csc`` config).

Departures, each with its switch: a target batch with no kept pseudo-label gives L_u = 0 and
still trains on L_s (``empty_mask: zero``); the code's loss is then NaN, and its mixed-precision
GradScaler skips the whole step (``empty_mask: skip``). fp32 unless ``--precision fp16`` (the
code: AMP). Epoch length = number of source batches. Evaluation classifies with the
target-domain prompts; the last epoch is reported (the official code keeps the best epoch by
target test accuracy; udabench never selects with target labels, and has no switch for it).

DAMPL (Ding & Yang, CSA 2026) — a reconstruction (only the abstract was available):
DAPL's prompts, losses and schedule (its defaults are DAPL's), with the pseudo-label corrected by
the current target-prompt prediction, ŷ = argmax(λ·q_zs + (1−λ)·p_tgt) kept when ≥ τ, and SHOT's
information-maximisation loss on the target-prompt predictions:
L = L_s + U·L_u + μ·L_IM, with λ = 0.5, U = 1, μ = 1, τ = 0.5.
"""

from __future__ import annotations

import math

from udabench import HParam, Method, Setting, hookimpl

DAPL_HPARAMS = (
    HParam("epochs", 25, "training epochs (DAPL ep25-32 configs)", minimum=1),
    HParam("min_steps", 0, "at least this many optimiser steps: epochs are raised on a small source (0: off, "
                           "the paper's schedule)", minimum=0),
    HParam("batch_size", 32, "source images per step, and as many target images", minimum=1),
    HParam("lr", 3e-3, "SGD learning rate", exclusive_minimum=0),
    HParam("momentum", 0.9, "SGD momentum", minimum=0, exclusive_maximum=1),
    HParam("weight_decay", 5e-4, "SGD weight decay", minimum=0),
    HParam("warmup_epochs", 1, "epochs of linear warm-up from warmup_lr", minimum=0),
    HParam("warmup_lr", 1e-5, "learning rate at the start of the warm-up", minimum=0),
    HParam("lr_step", "iter", "cosine stepped per iteration (the official code) or per epoch (its config's intent)",
           choices=("epoch", "iter")),
    HParam("n_ctx", 16, "M1: shared context vectors", minimum=0),
    HParam("n_dmx", 16, "M2: domain-specific context vectors per domain", minimum=0),
    HParam("csc", False, "class-specific context (DAPL's VisDA setting)"),
    HParam("prompt_suffix", True, "append ', a <domain> image..' as the code does (False: the paper's prompt)"),
    HParam("tau", 0.5, "pseudo-label confidence threshold", minimum=0, maximum=1),
    HParam("temperature", 1.0, "temperature of the zero-shot pseudo-label softmax", exclusive_minimum=0),
    HParam("u", 1.0, "weight U of the target loss", minimum=0),
    HParam("naive_prompt", "a photo of a {}.", "zero-shot prompt for the pseudo-labels"),
    HParam("aug_scale_min", 0.08, "lower bound of the random-resized-crop scale", exclusive_minimum=0, maximum=1),
    HParam("empty_mask", "zero", "a target batch with no kept pseudo-label: L_u = 0 ('zero') or no step at all "
                                 "('skip': the code under AMP)", choices=("zero", "skip")),
)

# Small images (at most 64 px: digits, a lab's 32-px set) come with small backbones: the toy CLIP
# reads 16 tokens, and 4 + 4 context vectors leave room for the class name (``check_backbone``
# refuses what does not fit); a 32-px image does not survive a 0.08 crop; 10 epochs (41 steps
# each over digits' 1,330 source images) instead of the 25 made for ViT-B/16 on Office-Home, and
# at least 400 steps: on a 200-image source, 10 epochs are 60 steps with a 6-step warm-up, and one
# seed in three collapsed (a 32-px lab set: 39 / 40 / 22 on one task; none at 400 steps; measured
# with lr_step: epoch). The profile keeps the code's per-iteration schedule.
SMALL_IMAGE = {"n_ctx": 4, "n_dmx": 4, "prompt_suffix": False, "aug_scale_min": 0.5, "epochs": 10,
               "min_steps": 400}


def training_epochs(epochs: int, min_steps: int, steps_per_epoch: int) -> int:
    """The epochs to train: ``epochs``, raised to ⌈min_steps / steps_per_epoch⌉ when a small source
    makes ``epochs`` fewer than ``min_steps`` optimiser steps."""
    return max(epochs, -(-min_steps // max(steps_per_epoch, 1)))


def dassl_iter_lr(k: int, lr: float, warmup_lr: float, warmup: int, t_max: int) -> float:
    """The learning rate of DAPL's official code at iteration ``k`` (0-based: the rate the k-th
    optimiser step uses). The code builds Dassl's ``LinearWarmupScheduler`` (warm-up W =
    ``WARMUP_EPOCH`` scheduler steps from ``WARMUP_MIN_LR``) around ``CosineAnnealingLR(T_max =
    MAX_EPOCH)``, and calls ``scheduler.step()`` after every iteration, so that

        lr(k) = warmup_lr                                   k = 0 < W
        lr(k) = lr · k / W                                  0 < k < W
        lr(k) = η(k − W),   η(j) = ½ · lr · (1 + cos(π j / T))     k ≥ W

    with T = ``t_max`` (the epochs). The cosine restarts from lr once the warm-up hands over
    (Dassl's ``WARMUP_RECOUNT``), and η has period 2T iterations: it cycles between lr and 0 and
    never anneals. DAPL's configs (W = 1, T = 25): lr(0) = 1e-5, then lr(k) = η(k − 1).
    W = 0: no warm-up, lr(k) = η(k).
    """
    if k >= warmup:
        return 0.5 * lr * (1 + math.cos(math.pi * (k - warmup) / t_max))
    return warmup_lr if k == 0 else lr * k / warmup


def per_epoch_lr(step: int, iters_per_epoch: int, lr: float, warmup_lr: float, warmup_epochs: int,
                 epochs: int) -> float:
    """udabench's reading of DAPL's config (``lr_step: epoch``): at iteration ``step`` of epoch
    e = ⌊step / n⌋ (n iterations an epoch, W warm-up epochs, E epochs),

        lr = warmup_lr + (step / (W · n)) · (lr − warmup_lr)         e < W   (a ramp over the iterations)
        lr = ½ · lr · (1 + cos(π e / E))                             e ≥ W
    """
    e = step // iters_per_epoch
    if e < warmup_epochs:
        return warmup_lr + step / (warmup_epochs * iters_per_epoch) * (lr - warmup_lr)
    return 0.5 * lr * (1 + math.cos(math.pi * e / epochs))


def dapl_lr(step: int, iters_per_epoch: int, cfg, epochs: int | None = None) -> float:
    """Learning rate at global iteration ``step`` of a schedule of ``epochs`` (default
    ``cfg.epochs``): ``dassl_iter_lr`` (``lr_step: iter``, the code's) or ``per_epoch_lr``."""
    total = cfg.epochs if epochs is None else epochs
    if cfg.lr_step == "iter":
        return dassl_iter_lr(step, cfg.lr, cfg.warmup_lr, cfg.warmup_epochs, total)
    return per_epoch_lr(step, iters_per_epoch, cfg.lr, cfg.warmup_lr, cfg.warmup_epochs, total)


def domain_words(data) -> list[str]:
    """The words the prompt suffix names the source and the target domain with, in that order: the
    dataset's domain prompt words (``AdaptData.domain_prompt_names``), e.g. "synthetic" and "real"
    on VisDA-2017, whose domain keys are ``train`` and ``validation``."""
    names = data.domain_prompt_names
    return [names.get(d, d) for d in (data.source_domain, data.target_domain)]


class DAPL(Method):
    name = "dapl"
    setting = Setting.UDA
    fidelity = "code-faithful"
    summary = "domain-aware prompt learning; zero-shot CLIP pseudo-labels on the target"
    hparams = DAPL_HPARAMS
    profiles = {"small-image": SMALL_IMAGE}
    # The official per-benchmark config: VisDA-2017 runs ``ep25-32-csc`` (class-specific context; the
    # README's command, with RN101: pass --backbone RN101:openai for its numbers).
    dataset_overrides = {"visda2017": {"csc": True}}

    # -- the parts DAMPL changes ---------------------------------------------------------------
    def pseudo_labels(self, zero_shot_logits, target_prompt_logits):
        from .losses.dapl import zero_shot_pseudo_labels

        return zero_shot_pseudo_labels(zero_shot_logits, self.config.tau, self.config.temperature)

    def extra_target_loss(self, target_prompt_logits):
        return None

    def check_backbone(self, backbone, dataset):
        """Refuse, before any data is read, prompts that do not fit the text encoder's context:
        ``n_ctx + n_dmx`` learned vectors, the class name and (``prompt_suffix``) the domain words."""
        from udabench import ConfigError

        from .prompt_learner import overlong_prompts, prompt_texts

        cfg = self.config
        limit = int(backbone.tokenizer(["x"]).shape[1])
        words = [dataset.domain_prompt_name(d) for d in dataset.domains]  # the words ``adapt`` puts in
        prompts = prompt_texts(dataset.class_prompt_names(), words, cfg.n_ctx + cfg.n_dmx, cfg.prompt_suffix)
        over = overlong_prompts(backbone.tokenizer, prompts, limit)
        if over:
            prompt, needed = max(over, key=lambda pn: pn[1])
            raise ConfigError(
                f"{self.name}: n_ctx={cfg.n_ctx} + n_dmx={cfg.n_dmx} learned vectors do not fit backbone "
                f"{backbone.spec!r}, whose text encoder reads {limit} tokens: the longest prompt of "
                f"{dataset.name}, {prompt!r}, needs {needed} ({len(over)} of {len(prompts)} prompts are too "
                f"long). Lower them (--set n_ctx=4 --set n_dmx=4)"
                + (" or drop the domain suffix (--set prompt_suffix=false)" if cfg.prompt_suffix else "")
                + "; a dataset of images of at most 64 px (image_size) gets the small-image profile "
                  "(n_ctx=4, n_dmx=4, no suffix).")

    # -- training ------------------------------------------------------------------------------
    def adapt(self, ctx, backbone, data):
        import torch
        import torch.nn.functional as F

        from udabench import LOGIT_SCALE

        from .losses.dapl import masked_target_loss, source_loss
        from .prompt_learner import DomainPromptLearner

        cfg, C = self.config, data.num_classes
        model = backbone.model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        # The official suffix names the domains with Dassl's domain names ("synthetic", "real_world"),
        # which the datasets declare as their domain prompt words; the paper's prompt has no words
        # there, only the learned domain vectors (prompt_suffix: false).
        learner = DomainPromptLearner(model, backbone.tokenizer, data.prompt_names, domain_words(data), cfg.n_ctx,
                                      cfg.n_dmx, cfg.csc, cfg.prompt_suffix).to(backbone.device)
        zero_shot = backbone.text_classifier(data.prompt_names, (cfg.naive_prompt,))
        tf = backbone.train_transform((cfg.aug_scale_min, 1.0), data.hflip_ok)
        src = ctx.loader(data.source.dataset(tf), cfg.batch_size, shuffle=True,
                         drop_last=len(data.source) > cfg.batch_size, persistent=True)
        tgt = ctx.loader(data.target.dataset(tf), cfg.batch_size, shuffle=True,
                         drop_last=len(data.target) > cfg.batch_size, persistent=True)
        opt = torch.optim.SGD(learner.learned_parameters(), lr=cfg.lr, momentum=cfg.momentum,
                              weight_decay=cfg.weight_decay)
        batches, step = ctx.paired(src, tgt), 0
        epochs = training_epochs(cfg.epochs, cfg.min_steps, len(batches))
        for epoch in ctx.progress(range(epochs), desc=f"{self.name} epochs"):
            for (xs, ys), (xt, _) in batches:
                for group in opt.param_groups:
                    group["lr"] = dapl_lr(step, len(batches), cfg, epochs)
                xs, ys, xt = ctx.to_device(xs), ctx.to_device(ys), ctx.to_device(xt)
                with ctx.autocast():
                    with torch.no_grad():
                        fs = F.normalize(model.encode_image(xs).float(), dim=-1)
                        ft = F.normalize(model.encode_image(xt).float(), dim=-1)
                    text = learner().float()
                    logits_s, logits_t = LOGIT_SCALE * fs @ text.T, LOGIT_SCALE * ft @ text.T
                    tgt_logits = logits_t[:, C:2 * C]
                    pseudo, mask = self.pseudo_labels(LOGIT_SCALE * ft @ zero_shot.T, tgt_logits)
                    l_s = source_loss(logits_s[:, :C], ys)
                    l_u = masked_target_loss(tgt_logits, pseudo, mask)
                    loss = l_s + cfg.u * l_u
                    extra = self.extra_target_loss(tgt_logits)
                    if extra is not None:
                        loss = loss + extra
                # A batch with no kept pseudo-label: "zero" trains on L_s; "skip" does what the code's
                # 0/0 = NaN loss does under AMP, whose GradScaler skips the optimiser step (the schedule
                # still advances). Only "skip" syncs with the device here.
                if cfg.empty_mask == "zero" or bool(mask.sum() > 0):
                    ctx.step(loss, opt)
                step += 1
                ctx.log_metrics({"train/loss": loss.detach(), "train/loss_source": l_s.detach(),
                                 "train/loss_target": l_u.detach(), "train/pseudo_kept": mask.mean(),
                                 "train/lr": opt.param_groups[0]["lr"],
                                 **({"train/loss_im": extra.detach()} if extra is not None else {})}, step)
            ctx.epoch_end(self._target_classifier(backbone, learner, C))  # scored by the protocol
        return self._target_classifier(backbone, learner, C)

    @staticmethod
    def _target_classifier(backbone, learner, num_classes):
        """Classify with the target-domain prompts (rows C..2C of the learner's text features)."""
        import torch

        from udabench import FeatureClassifier, text_head

        with torch.no_grad():
            target_text = learner().float()[num_classes:2 * num_classes]
        return FeatureClassifier(backbone, text_head(target_text))


class DAMPL(DAPL):
    name = "dampl"
    fidelity = "reconstruction"
    summary = "DAPL prompts + zero-shot/prompt fused pseudo-labels + SHOT's IM loss"
    hparams = DAPL_HPARAMS + (
        HParam("lam", 0.5, "λ: weight of the zero-shot distribution in the fused pseudo-label", minimum=0, maximum=1),
        HParam("mu", 1.0, "μ: weight of the information-maximisation loss", minimum=0),
    )

    def pseudo_labels(self, zero_shot_logits, target_prompt_logits):
        from .losses.dampl import fused_pseudo_labels

        return fused_pseudo_labels(zero_shot_logits / self.config.temperature, target_prompt_logits,
                                   self.config.lam, self.config.tau)

    def extra_target_loss(self, target_prompt_logits):
        from .losses.shot import information_maximization_loss

        return self.config.mu * information_maximization_loss(target_prompt_logits)


@hookimpl
def register_methods(register):
    register(DAPL)
    register(DAMPL)
