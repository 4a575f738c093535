"""Method plugin ``reclip``: ReCLIP, source-free adaptation of CLIP (Hu et al., WACV 2024).

Code-faithful (docs/methods.md, reclip; read in michiganleon/ReCLIP_WACV). It sees the unlabeled
target alone. Two copies of CLIP are adapted side by side:

* ReCLIP-V: the visual LayerNorms (and BatchNorms, for ResNet towers) train; its
  classifier is fixed during an epoch: first the template-ensemble text embeddings, then,
  after each label propagation, the visual class centroids (an empty class keeps its
  previous anchor). logits_V = 100 · norm(E_I^V(x)) · norm(W_V)ᵀ.
* ReCLIP-T: the text LayerNorms (and ``ln_final``) train; the visual encoder is frozen.
  logits_T = 100 · norm(E_I(x)) · norm(E_T^T(template_0(c)))ᵀ, with the text embeddings
  recomputed at every step so that gradients reach the LayerNorms.

Once per epoch, from a no-grad pass over the whole target: each branch's features go
through the text-span projection and label propagation (``reclip_graph.py``; k = 20,
α = 0.99, CG 20 iterations). V keeps its initial projection and anchors; T's are
recomputed from its full-template text embeddings after every epoch. Only samples on
which both branches agree train (mask m = 1[ŷ_V = ŷ_T]); each branch's loss is
Σ(CE·m)/Σm, or the official code's mean(CE·m)/Σm with ``loss_1_over_b`` (an extra 1/B
that rescales V's learning rate; the reported numbers were made with it). SGD lr 1e-3,
momentum 0.9, weight decay 1e-4, batch 64, no augmentation (CLIP's own preprocessing).
Epochs = min(100, N/5000 + 2). Inference: ½(logits_T + logits_V). The last epoch is
reported (the code also logs the best epoch by target accuracy; udabench does not).
"""

from __future__ import annotations

from udabench import HParam, Method, Setting, hookimpl


class ReClip(Method):
    name = "reclip"
    setting = Setting.SOURCE_FREE
    fidelity = "code-faithful"
    data_parallel = True
    summary = "visual + text LayerNorm tuning on agreed label-propagation pseudo-labels (source-free)"
    hparams = (
        HParam("epochs", 0, "0: the code's min(100, N/5000 + 2)"),
        HParam("batch_size", 64, "target images per step"),
        HParam("lr", 1e-3, "SGD learning rate of both branches"),
        HParam("momentum", 0.9, "SGD momentum"),
        HParam("weight_decay", 1e-4, "SGD weight decay"),
        HParam("k", 20, "neighbours per node in the label-propagation graph"),
        HParam("alpha", 0.99, "label-propagation α"),
        HParam("cg_iters", 20, "conjugate-gradient iterations"),
        HParam("cut_dim", 768, "columns of U kept by the projection (the code: 250 when C > 500)"),
        HParam("loss_1_over_b", False, "the official code's extra 1/B factor in L_V"),
    )

    def adapt(self, ctx, backbone, data):
        import torch
        import torch.nn.functional as F

        from udabench import LOGIT_SCALE

        from .heads import ReClipClassifier
        from .reclip_graph import class_centroids, label_propagation, text_span_projection

        cfg = self.config
        t_backbone = backbone.fresh_copy()
        v_model, t_model = backbone.model, t_backbone.model
        v_params = trainable_norms(v_model.visual)
        t_model.requires_grad_(False)  # T trains its text norms alone (and DDP allows no idle parameter)
        t_params = trainable_norms(t_model.transformer) + list(t_model.ln_final.requires_grad_(True).parameters())
        # Each branch's training forward; under torchrun in DDP, so that its backward averages gradients.
        v_step = ctx.wrap_ddp(v_model.visual)
        t_step = ctx.wrap_ddp(t_model, forward=lambda m, tokens: m.encode_text(tokens))
        opt_v = torch.optim.SGD(v_params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
        opt_t = torch.optim.SGD(t_params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
        names, templates = data.prompt_names, data.templates
        first_template = backbone.tokenize([templates[0].format(c) for c in names])

        def t_text(grad: bool):
            with torch.set_grad_enabled(grad):
                return F.normalize((t_step if grad else t_model.encode_text)(first_template).float(), dim=-1)

        w_init = backbone.text_classifier(names, templates)
        p_v = text_span_projection(w_init, cfg.cut_dim)
        w_v, w_t_full = w_init.clone(), w_init.clone()
        n = len(data.target)
        epochs = cfg.epochs or min(100, n // 5000 + 2)
        plain = data.target.dataset(backbone.preprocess)
        train_loader = ctx.loader(plain, cfg.batch_size, shuffle=True, persistent=True)
        step = 0
        for epoch in ctx.progress(range(epochs), desc="reclip epochs"):
            f_v, f_t = self._features(ctx, plain, v_model, t_model)
            y_v, _ = label_propagation(w_init, f_v, p_v, cfg.k, cfg.alpha, cfg.cg_iters)
            y_t, _ = label_propagation(w_t_full, f_t, text_span_projection(w_t_full, cfg.cut_dim), cfg.k,
                                       cfg.alpha, cfg.cg_iters)
            anchors = torch.arange(len(names))
            w_v = class_centroids(torch.cat([w_init, f_v]), torch.cat([anchors, y_v]), w_v)
            agree = (y_v == y_t).float()
            ctx.log_metrics({"train/agreement": agree.mean().item()}, step)
            v_model.train()
            for x, idx in ctx.meter.iterate(train_loader):
                m = agree[idx]
                if ctx.all_ranks(m.sum() == 0):  # under torchrun all processes skip a batch, or none
                    continue
                x = ctx.to_device(x)
                with ctx.autocast():
                    logits_v = LOGIT_SCALE * F.normalize(v_step(x).float(), dim=-1) @ w_v.T  # encode_image
                    with torch.no_grad():
                        f = F.normalize(t_model.encode_image(x).float(), dim=-1)
                    logits_t = LOGIT_SCALE * f @ t_text(True).T
                    loss_v = masked_mean(F.cross_entropy(logits_v, y_v[idx], reduction="none"), m,
                                         cfg.loss_1_over_b)
                    loss_t = masked_mean(F.cross_entropy(logits_t, y_t[idx], reduction="none"), m, False)
                for opt, loss in ((opt_v, loss_v), (opt_t, loss_t)):  # separate optimisers and backward passes
                    ctx.step(loss, opt)
                step += 1
                ctx.log_metrics({"train/loss_v": loss_v.detach(), "train/loss_t": loss_t.detach(),
                                 "train/kept": m.mean()}, step)
            v_model.eval()
            w_t_full = t_backbone.text_classifier(names, templates, cache=False)
        return ReClipClassifier(v_model, t_model, w_v, t_text(False))

    @staticmethod
    def _features(ctx, dataset, v_model, t_model):
        """Both branches' normalised image features of the whole target, in one no-grad pass."""
        import torch
        import torch.nn.functional as F

        v_model.eval()
        loader = ctx.loader(dataset, batch_size=ctx.eval_batch_size)
        fv, ft = [], []
        with torch.no_grad(), ctx.autocast():
            for x, _ in loader:
                x = ctx.to_device(x)
                fv.append(F.normalize(v_model.encode_image(x).float(), dim=-1).cpu())
                ft.append(F.normalize(t_model.encode_image(x).float(), dim=-1).cpu())
        return torch.cat(fv), torch.cat(ft)


def trainable_norms(module):
    """Freeze ``module`` except its LayerNorm and BatchNorm affine parameters; return those."""
    import torch

    for p in module.parameters():
        p.requires_grad_(False)
    params = []
    for m in module.modules():
        if isinstance(m, (torch.nn.LayerNorm, torch.nn.BatchNorm2d)):
            for p in m.parameters():
                p.requires_grad_(True)
                params.append(p)
    return params


def masked_mean(ce, mask, one_over_b: bool):
    """Σ(CE·m)/Σm; with ``one_over_b`` the official code's mean(CE·m)/Σm. [docs/methods.md, reclip]"""
    total = (ce * mask).mean() if one_over_b else (ce * mask).sum()
    return total / mask.sum().clamp(min=1.0)


@hookimpl
def register_methods(register):
    register(ReClip)
