"""Method plugin ``clipdiv``: CLIP-Div, "CLIP the Divergence" (Zhu, Chen, Wang; arXiv 2407.01842).

A **reconstruction** (docs/methods.md, clipdiv): no code and no method
section were available, only the abstract. What is ours is marked [choice].

* Teacher: the frozen CLIP (both encoders). Its distributions over classes, logits 100·cos:
  q_ag from the domain-agnostic prompt "a photo of a {c}.", q_s / q_t from the domain-specific
  prompts "a {domain} photo of a {c}." of the source / target domain.
* Student (the "UDA model"): a copy of CLIP's image encoder + a linear head on its
  L2-normalised embedding, initialised to 100 x the domain-agnostic text classifier [choice:
  the same student as ``source-ft``, so that the backbone is the one the user picked].
* Stage 1 (``epochs``): L = CE(p_θ(x_s), y_s) + λ_abs·L_abs + λ_rel·L_rel, with L_abs and L_rel
  from ``losses/clipdiv.py``; ``rel_form: sample`` is the first reading of L_rel (default),
  ``marginal`` the batch-level one. Teacher distributions are computed on the same augmented
  views the student sees (one teacher forward per batch serves all three prompts).
* Stage 2 (``self_train_epochs``): language-guided pseudo-labels ŷ = argmax(½·p_θ + ½·q_t),
  kept when ≥ τ (τ = 0.6), refreshed once per epoch from a pass over the target's unlabeled
  images (eval preprocessing); L = CE(p_θ(x_s), y_s) + CE(p_θ(x_t), ŷ) on the kept samples.
* Optimiser [choice]: AdamW, 1e-5 for the encoder and 1e-3 for the head, cosine per iteration
  over both stages (as ``source-ft``).
"""

from __future__ import annotations

from udabench import HParam, Method, Setting, hookimpl


class ClipDiv(Method):
    name = "clipdiv"
    setting = Setting.UDA
    fidelity = "reconstruction"
    data_parallel = True
    summary = "student distilled from CLIP's domain-agnostic view: L_abs + L_rel, then pseudo-label self-training"
    hparams = (
        HParam("epochs", 10, "stage-1 epochs (divergence alignment; 0: none)", minimum=0),
        HParam("self_train_epochs", 5, "stage-2 epochs (language-guided self-training; 0: none)", minimum=0),
        HParam("batch_size", 32, "source images per step, and as many target images", minimum=1),
        HParam("lr_encoder", 1e-5, "AdamW learning rate of the student's image encoder", exclusive_minimum=0),
        HParam("lr_head", 1e-3, "AdamW learning rate of the student's head", exclusive_minimum=0),
        HParam("weight_decay", 0.01, "AdamW weight decay", minimum=0),
        HParam("lambda_abs", 1.0, "weight of the absolute divergence", minimum=0),
        HParam("lambda_rel", 1.0, "weight of the relative divergence", minimum=0),
        HParam("rel_form", "sample", "L_rel as per-sample |KL - KL| (sample) or batch marginals (marginal)",
               choices=("sample", "marginal")),
        HParam("tau", 0.6, "confidence threshold of the fused pseudo-labels", minimum=0, maximum=1),
        HParam("agnostic_prompt", "a photo of a {}.", "domain-agnostic prompt"),
        HParam("specific_prompt", "a {domain} photo of a {}.", "domain-specific prompt ({domain} is filled first)"),
        HParam("aug_scale_min", 0.08, "lower bound of the random-resized-crop scale", exclusive_minimum=0,
               maximum=1),
    )
    # The 32-px toy CLIP was pretrained at lr 2e-3 (1e-5 would leave it where it is); 5 + 3
    # epochs over 1,330 source images.
    # Small images (at most 64 px) and their small backbones, as source-ft's profile, with a
    # shorter schedule.
    profiles = {"small-image": {"lr_encoder": 1e-4, "aug_scale_min": 0.5, "batch_size": 64,
                                "epochs": 5, "self_train_epochs": 3}}

    def adapt(self, ctx, backbone, data):
        import torch
        import torch.nn.functional as F

        from udabench import LOGIT_SCALE, FeatureClassifier, text_head

        from .losses.clipdiv import absolute_divergence, relative_divergence, relative_divergence_marginal

        cfg = self.config
        teacher = self.make_teacher(backbone)

        def prompts(domain):
            return (cfg.specific_prompt.replace("{domain}", data.domain_prompt_names[domain]),)

        w_ag = backbone.text_classifier(data.prompt_names, (cfg.agnostic_prompt,))
        w_s = backbone.text_classifier(data.prompt_names, prompts(data.source_domain))
        w_t = backbone.text_classifier(data.prompt_names, prompts(data.target_domain))

        def teacher_features(x):
            with torch.no_grad():
                return F.normalize(teacher(x).float(), dim=-1)

        def dist(f, w):
            return F.softmax(LOGIT_SCALE * f @ w.T, dim=-1)

        student = FeatureClassifier(backbone, text_head(w_ag, bias=True))
        # Only the image tower trains (the text side is done with; DDP allows no idle trainable parameter).
        backbone.model.requires_grad_(False).visual.requires_grad_(True)
        tf = backbone.train_transform((cfg.aug_scale_min, 1.0), data.hflip_ok)
        src = ctx.loader(data.source.dataset(tf), cfg.batch_size, shuffle=True,
                         drop_last=len(data.source) > cfg.batch_size, persistent=True)
        tgt = ctx.loader(data.target.dataset(tf), cfg.batch_size, shuffle=True,
                         drop_last=len(data.target) > cfg.batch_size, persistent=True)
        opt = torch.optim.AdamW([{"params": backbone.model.visual.parameters(), "lr": cfg.lr_encoder},
                                 {"params": student.head.parameters(), "lr": cfg.lr_head}],
                                weight_decay=cfg.weight_decay)
        total = (cfg.epochs + cfg.self_train_epochs) * len(src)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, total))
        batches, step = ctx.paired(src, tgt), 0
        # Both domains through the student in one step: under torchrun one DDP forward, whose backward
        # averages the gradients of all processes.
        student_step = ctx.wrap_ddp(student, forward=lambda m, xs, xt: (m(xs), m(xt)))
        q_target = None  # CLIP's target-specific distribution per target image: fixed, computed once
        for epoch in ctx.progress(range(cfg.epochs + cfg.self_train_epochs), desc="clipdiv epochs"):
            stage2 = epoch >= cfg.epochs
            if stage2:  # refresh the language-guided pseudo-labels once per epoch
                if q_target is None:
                    q_target = self._teacher_target(ctx, backbone, data, teacher_features, dist, w_t)
                pseudo, mask = self._pseudo_labels(ctx, student, backbone, data, q_target)
                ctx.log_metrics({"train/pseudo_kept": mask.mean().item()}, step)
            student.train()
            for (xs, ys), (xt, it) in batches:
                xs, ys, xt = ctx.to_device(xs), ctx.to_device(ys), ctx.to_device(xt)
                with ctx.autocast():
                    z_s, z_t = student_step(xs, xt)
                    loss = F.cross_entropy(z_s, ys)
                    logs = {"train/loss_source": loss.detach()}
                    if not stage2:
                        fs, ft = teacher_features(xs), teacher_features(xt)
                        qag_s, qag_t = dist(fs, w_ag), dist(ft, w_ag)
                        l_abs = absolute_divergence(qag_s, z_s, qag_t, z_t)
                        l_rel = (relative_divergence(dist(fs, w_s), qag_s, z_s, dist(ft, w_t), qag_t, z_t)
                                 if cfg.rel_form == "sample" else relative_divergence_marginal(qag_s, z_s, qag_t, z_t))
                        loss = loss + cfg.lambda_abs * l_abs + cfg.lambda_rel * l_rel
                        logs.update({"train/loss_abs": l_abs.detach(), "train/loss_rel": l_rel.detach()})
                    else:
                        m = mask[it].to(z_t.device)
                        ce = F.cross_entropy(z_t, pseudo[it].to(z_t.device), reduction="none")
                        l_pl = (ce * m).sum() / m.sum().clamp(min=1.0)
                        loss = loss + l_pl
                        logs["train/loss_pseudo"] = l_pl.detach()
                ctx.step(loss, opt)
                sched.step()
                step += 1
                ctx.log_metrics({"train/loss": loss.detach(), **logs}, step)
            ctx.epoch_end(student)  # the protocol scores every epoch (model selection, side by side)
        return student

    @staticmethod
    def make_teacher(backbone):
        """The frozen CLIP image encoder of the teacher: a copy taken before the student changes
        anything (its text side is only needed for the fixed class embeddings, computed upfront)."""
        import copy

        teacher = copy.deepcopy(backbone.model.visual).eval()
        for p in teacher.parameters():
            p.requires_grad_(False)
        return teacher

    @staticmethod
    def _teacher_target(ctx, backbone, data, teacher_features, dist, w_t):
        """q_t(x) for every target image (eval preprocessing), by index."""
        import torch

        loader = ctx.loader(data.target.dataset(backbone.preprocess), batch_size=ctx.eval_batch_size)
        q = torch.zeros(len(data.target), len(data.classes))
        with ctx.autocast():
            for x, idx in loader:
                q[idx] = dist(teacher_features(ctx.to_device(x)), w_t).cpu()
        return q

    def _pseudo_labels(self, ctx, student, backbone, data, q_target):
        """ŷ = argmax(½·p_θ + ½·q_t) and its mask for every target image, by index."""
        import torch
        import torch.nn.functional as F

        from .losses.clipdiv import language_guided_pseudo_labels

        student.eval()
        loader = ctx.loader(data.target.dataset(backbone.preprocess), batch_size=ctx.eval_batch_size)
        n = len(data.target)
        pseudo, mask = torch.zeros(n, dtype=torch.long), torch.zeros(n)
        with torch.no_grad(), ctx.autocast():
            for x, idx in loader:
                p = F.softmax(student(ctx.to_device(x)).float(), dim=-1).cpu()
                pseudo[idx], mask[idx] = language_guided_pseudo_labels(p, q_target[idx], self.config.tau)
        return pseudo, mask


@hookimpl
def register_methods(register):
    register(ClipDiv)
