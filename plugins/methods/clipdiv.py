"""Method plugin ``clipdiv``: CLIP-Div, "CLIP the Divergence" (Zhu, Chen, Wang; arXiv 2407.01842).

A **reconstruction** (METHODS.md §2.3 and the decisions table): no code and no method
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
  views the student sees.
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
    summary = "student distilled from CLIP's domain-agnostic view: L_abs + L_rel, then pseudo-label self-training"
    hparams = (
        HParam("epochs", 10, "stage-1 epochs (divergence alignment)"),
        HParam("self_train_epochs", 5, "stage-2 epochs (language-guided self-training)"),
        HParam("batch_size", 32, "source images per step, and as many target images"),
        HParam("lr_encoder", 1e-5, "AdamW learning rate of the student's image encoder"),
        HParam("lr_head", 1e-3, "AdamW learning rate of the student's head"),
        HParam("weight_decay", 0.01, "AdamW weight decay"),
        HParam("lambda_abs", 1.0, "weight of the absolute divergence"),
        HParam("lambda_rel", 1.0, "weight of the relative divergence"),
        HParam("rel_form", "sample", "L_rel as per-sample |KL - KL| (sample) or batch marginals (marginal)",
               choices=("sample", "marginal")),
        HParam("tau", 0.6, "confidence threshold of the fused pseudo-labels"),
        HParam("agnostic_prompt", "a photo of a {}.", "domain-agnostic prompt"),
        HParam("specific_prompt", "a {domain} photo of a {}.", "domain-specific prompt ({domain} is filled first)"),
        HParam("aug_scale_min", 0.08, "lower bound of the random-resized-crop scale"),
    )
    dataset_overrides = {"digits": {"lr_encoder": 1e-4, "aug_scale_min": 0.5, "batch_size": 64}}

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

        def teacher_probs(x, w):
            f = F.normalize(teacher.encode_image(x).float(), dim=-1)
            return F.softmax(LOGIT_SCALE * f @ w.T, dim=-1)

        student = FeatureClassifier(backbone, text_head(w_ag, bias=True))
        for p in backbone.model.transformer.parameters():
            p.requires_grad_(False)
        tf = backbone.train_transform((cfg.aug_scale_min, 1.0), data.hflip_ok)
        src = ctx.loader(data.source.dataset(tf), cfg.batch_size, shuffle=True, drop_last=True)
        tgt = ctx.loader(data.target.dataset(tf), cfg.batch_size, shuffle=True, drop_last=True)
        opt = torch.optim.AdamW([{"params": backbone.model.visual.parameters(), "lr": cfg.lr_encoder},
                                 {"params": student.head.parameters(), "lr": cfg.lr_head}],
                                weight_decay=cfg.weight_decay)
        total = (cfg.epochs + cfg.self_train_epochs) * len(src)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, total))
        step, tgt_iter = 0, iter(tgt)
        pseudo = mask = None
        for epoch in ctx.progress(range(cfg.epochs + cfg.self_train_epochs), desc="clipdiv epochs"):
            stage2 = epoch >= cfg.epochs
            if stage2:  # refresh the language-guided pseudo-labels once per epoch
                pseudo, mask = self._pseudo_labels(ctx, student, backbone, data, teacher_probs, w_t)
                ctx.log_metrics({"train/pseudo_kept": mask.mean().item()}, step)
            student.train()
            for xs, ys in ctx.meter.iterate(src):
                try:
                    xt, it = next(tgt_iter)
                except StopIteration:
                    tgt_iter = iter(tgt)
                    xt, it = next(tgt_iter)
                ctx.meter.add(len(xt))
                xs, ys, xt = ctx.to_device(xs), ctx.to_device(ys), ctx.to_device(xt)
                with ctx.autocast():
                    logits_s, logits_t = student(xs), student(xt)
                    loss = F.cross_entropy(logits_s, ys)
                    logs = {"train/loss_source": loss.item()}
                    if not stage2:
                        p_s, p_t = F.softmax(logits_s.float(), -1), F.softmax(logits_t.float(), -1)
                        with torch.no_grad():
                            qag_s, qag_t = teacher_probs(xs, w_ag), teacher_probs(xt, w_ag)
                            q_s, q_t = teacher_probs(xs, w_s), teacher_probs(xt, w_t)
                        l_abs = absolute_divergence(qag_s, p_s, qag_t, p_t)
                        l_rel = (relative_divergence(q_s, qag_s, p_s, q_t, qag_t, p_t) if cfg.rel_form == "sample"
                                 else relative_divergence_marginal(qag_s, p_s, qag_t, p_t))
                        loss = loss + cfg.lambda_abs * l_abs + cfg.lambda_rel * l_rel
                        logs.update({"train/loss_abs": l_abs.item(), "train/loss_rel": l_rel.item()})
                    else:
                        m = mask[it].to(logits_t.device)
                        ce = F.cross_entropy(logits_t, pseudo[it].to(logits_t.device), reduction="none")
                        l_pl = (ce * m).sum() / m.sum().clamp(min=1.0)
                        loss = loss + l_pl
                        logs["train/loss_pseudo"] = l_pl.item()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                step += 1
                ctx.log_metrics({"train/loss": loss.item(), **logs}, step)
        return student

    @staticmethod
    def make_teacher(backbone):
        """The frozen CLIP teacher: a copy taken before the student changes anything."""
        import copy

        teacher = copy.deepcopy(backbone.model).eval()
        for p in teacher.parameters():
            p.requires_grad_(False)
        return teacher

    def _pseudo_labels(self, ctx, student, backbone, data, teacher_probs, w_t):
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
                x = ctx.to_device(x)
                p = F.softmax(student(x).float(), dim=-1)
                y, m = language_guided_pseudo_labels(p, teacher_probs(x, w_t), self.config.tau)
                pseudo[idx], mask[idx] = y.cpu(), m.cpu()
        return pseudo, mask


@hookimpl
def register_methods(register):
    register(ClipDiv)
