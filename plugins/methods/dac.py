"""Method plugins ``dac`` (few-shot, a reconstruction: docs/methods.md, dac)
and ``fewshot-probe`` (the linear probe fitted on the same K shots, its baseline).

DAC, "Domain Aligned CLIP for Few-shot Classification" (Gondal et al., WACV 2024): CLIP is
not changed; only the abstract was available, so what follows is ours, marked [choice]:

* DAC-V, intra-modal alignment: an identity-initialised linear adapter g on frozen image
  embeddings, v' = normalize(g(v)), trained with the supervised contrastive loss (SupCon,
  τ = 0.07) over the support set (``losses/supcon.py``).
* DAC-T, inter-modal alignment: per-class offsets Δ (C x d), zero-initialised, on the
  precomputed template-ensemble class embeddings, t'_c = normalize(t_c + Δ_c), trained with
  cross-entropy on logits_txt = 100 · v · t'ᵀ.
* Classifier (Tip-Adapter-style cache on the adapted support embeddings K'):
  logits = 100 · v · t'ᵀ + α · exp(−β(1 − v'·K'ᵀ)) · L, with L the one-hot support labels.
* α and β "tuned per dataset on a validation split, as in Tip-Adapter-F" (docs/methods.md, dac), and with them
  the length of training. [choice] The validation split is a stratified quarter of the shots
  (``holdout``): adapter and offsets are trained on the other shots, and after 20, 50, 100 and
  200 epochs (``search_epochs``) every (α, β) of Tip-Adapter-F's ranges (α ≤ 3, β ≤ 7, grids
  ``search_alphas`` × ``search_betas``) is scored on the held-out shots; the best is kept (ties:
  nearest the defaults 20 epochs, α = 1, β = 5.5), and adapter and offsets are trained again on
  all shots for the chosen epochs. No target label beyond the K shots is read (the few-shot
  linear probe chooses its C the same way). With one shot per class there is nothing to hold
  out and the defaults are used; empty grids turn the search off.
* Training [choice, the Tip-Adapter-F recipe]: AdamW lr 1e-3 (constant), 20 epochs unless the
  search above chooses 50, 100 or 200, batch 256, over
  frozen features of ``augment_views`` random-resized-crop (+flip) views per support image,
  computed once, not per epoch (and kept in the feature cache: the views are drawn from the
  run's seed, so a second run of the same seed reads them back).
* K shots per class (16 by default, fewer where a class has fewer), drawn from the target's
  adaptation split by seed; the protocol never evaluates them.
"""

from __future__ import annotations

from udabench import HParam, Method, Setting, hookimpl

from .linear_probe import LinearProbe


class DAC(Method):
    name = "dac"
    setting = Setting.FEW_SHOT
    fidelity = "reconstruction"
    summary = "few-shot: SupCon-trained image adapter + text offsets + Tip-Adapter cache"
    hparams = (
        HParam("shots", 16, "labeled target images per class", choices=(1, 2, 4, 8, 16)),
        HParam("epochs", 20, "passes over the augmented support features (the default when no search is made)",
               minimum=1),
        HParam("batch_size", 256, "support features per step", minimum=1),
        HParam("lr", 1e-3, "AdamW learning rate of the adapter and the text offsets (0: nothing is trained, "
                           "the Tip-Adapter cache on CLIP as it is)", minimum=0),
        HParam("weight_decay", 0.01, "AdamW weight decay", minimum=0),
        HParam("temperature", 0.07, "SupCon temperature τ", exclusive_minimum=0),
        HParam("alpha", 1.0, "weight α of the cache logits (the default when no search is made)",
               exclusive_minimum=0),
        HParam("beta", 5.5, "sharpness β of the cache affinity exp(−β(1 − s)) (likewise)", exclusive_minimum=0),
        HParam("search_alphas", (0.1, 0.5, 1.0, 2.0, 3.0), "α grid searched on a hold-out of the shots "
               "(Tip-Adapter-F's range, α ≤ 3); empty: no search", type=tuple, minimum=0),
        HParam("search_betas", (1.0, 2.0, 3.5, 5.5, 7.0), "β grid (Tip-Adapter-F's range, β ≤ 7)", type=tuple,
               minimum=0),
        HParam("search_epochs", (20, 50, 100, 200), "epoch counts searched with α and β", type=tuple,
               minimum=1),
        HParam("holdout", 0.25, "fraction of each class's shots held out to choose epochs, α and β (0: no "
                                 "search)", minimum=0, exclusive_maximum=1),
        HParam("augment_views", 10, "augmented views per support image (features computed once; 0: "
                                     "none, the clean features)", minimum=0),
        HParam("aug_scale_min", 0.5, "lower bound of the random-resized-crop scale", exclusive_minimum=0,
               maximum=1),
    )

    def adapt(self, ctx, backbone, data):
        import torch
        import torch.nn.functional as F

        from udabench import augmented_features, extract_features

        from .heads import CacheClassifier

        cfg = self.config
        shots = data.shots
        tf = backbone.train_transform((cfg.aug_scale_min, 1.0), data.hflip_ok)
        if cfg.augment_views > 0:  # the augmentations are drawn from the run's seed alone: cacheable
            feats, labels = augmented_features(backbone, shots, ctx, tf, cfg.augment_views, seed=ctx.seed,
                                               desc="support views")
        else:
            feats, labels = extract_features(backbone, shots, ctx, desc="support")
        clean, clean_labels = extract_features(backbone, shots, ctx, desc="support")
        labels, clean_labels = torch.tensor(labels), torch.tensor(clean_labels)
        text = backbone.text_classifier(data.prompt_names, data.templates).float().cpu()
        c = data.num_classes
        epochs, alpha, beta = self.search(ctx, feats, labels, clean, clean_labels, text, c)
        adapter, classes = self.train(ctx, feats, labels, text, c, epochs, log=True)
        with torch.no_grad():
            keys = F.normalize(adapter(clean), dim=-1)
        values = F.one_hot(clean_labels, c).float()
        return CacheClassifier(backbone, adapter, classes, keys, values, alpha, beta).to(backbone.device)

    def train(self, ctx, feats, labels, text, num_classes: int, epochs: int, log: bool = False,
              on_epoch=None):
        """DAC-V and DAC-T on the (augmented) support features: the adapter g (identity at
        first) with SupCon, the class offsets Δ (zero at first) with CE, a constant learning
        rate. Returns (g, t'); ``on_epoch(epoch, g, t')`` sees them after every epoch."""
        import torch
        import torch.nn.functional as F

        from udabench import LOGIT_SCALE

        from .losses.supcon import supervised_contrastive_loss

        cfg = self.config
        d = feats.shape[1]
        adapter = torch.nn.Linear(d, d, bias=False)
        with torch.no_grad():
            adapter.weight.copy_(torch.eye(d))
        offsets = torch.nn.Parameter(torch.zeros(num_classes, d))
        opt = torch.optim.AdamW(list(adapter.parameters()) + [offsets], lr=cfg.lr, weight_decay=cfg.weight_decay)
        gen = ctx.generator()
        for epoch in ctx.progress(range(epochs), desc="dac epochs"):
            order = torch.randperm(len(feats), generator=gen)
            sums = torch.zeros(2)
            for start in range(0, len(order), cfg.batch_size):
                idx = order[start:start + cfg.batch_size]
                v, y = feats[idx], labels[idx]
                l_intra = supervised_contrastive_loss(F.normalize(adapter(v), dim=-1), y, cfg.temperature)
                logits_txt = LOGIT_SCALE * v @ F.normalize(text + offsets, dim=-1).T
                l_inter = F.cross_entropy(logits_txt, y)
                loss = l_intra + l_inter
                ctx.step(loss, opt)  # zero_grad, backward, step; a NaN or infinite loss fails the run
                sums += torch.stack([l_intra.detach(), l_inter.detach()]) * len(idx)
            if log:  # per epoch, not per step: hundreds of tiny steps would make the store the bottleneck
                mean = sums / len(order)
                ctx.log_metrics({"train/loss_supcon": mean[0], "train/loss_text": mean[1]}, epoch + 1)
            if on_epoch is not None:
                with torch.no_grad():
                    on_epoch(epoch + 1, adapter, F.normalize(text + offsets, dim=-1))
        with torch.no_grad():
            classes = F.normalize(text + offsets, dim=-1)
        return adapter, classes

    def search(self, ctx, feats, labels, clean, clean_labels, text, num_classes: int):
        """(epochs, α, β) chosen on a hold-out of the shots, as Tip-Adapter-F tunes its
        hyperparameters on a validation split (docs/methods.md, dac): train on the other shots, score
        every (α, β) of the grids on the held-out ones after each epoch count of
        ``search_epochs`` (snapshots of one training: the learning rate is constant), keep the
        best; ties go to the one nearest the defaults (``epochs``, ``alpha``, ``beta``). With a
        class left with no shot to fit on (K = 1) or empty grids, the defaults."""
        import numpy as np
        import torch
        import torch.nn.functional as F

        from udabench import stratified_split

        from .heads import cache_logits

        cfg = self.config
        default = (cfg.epochs, cfg.alpha, cfg.beta)
        if not (cfg.search_alphas and cfg.search_betas and cfg.search_epochs) or cfg.holdout <= 0:
            return default
        y = clean_labels.numpy()
        fit, val = stratified_split(y, 1 - cfg.holdout, ctx.seed)
        if len(val) == 0 or len(np.unique(y[fit])) < len(np.unique(y)):
            return default
        n = len(clean)
        fit_rows = torch.as_tensor(np.concatenate([fit + v * n for v in range(len(feats) // n)]))
        values = F.one_hot(clean_labels[fit], num_classes).float()
        scored = []

        def score(epoch, adapter, classes):
            if epoch not in cfg.search_epochs:
                return
            keys = F.normalize(adapter(clean[fit]), dim=-1)
            for a in cfg.search_alphas:
                for b in cfg.search_betas:
                    pred = cache_logits(clean[val], adapter, classes, keys, values, a, b).argmax(1)
                    acc = float((pred == clean_labels[val]).float().mean())
                    nearness = -(abs(np.log(epoch / cfg.epochs)) + abs(np.log(a / cfg.alpha))
                                 + abs(b - cfg.beta) / cfg.beta)
                    scored.append((acc, nearness, epoch, a, b))

        self.train(ctx, feats[fit_rows], labels[fit_rows], text, num_classes, max(cfg.search_epochs),
                   on_epoch=score)
        acc, _, epochs, alpha, beta = max(scored)
        ctx.log_metrics({"search/holdout_acc": 100 * acc, "search/epochs": float(epochs),
                         "search/alpha": float(alpha), "search/beta": float(beta)}, None)
        return int(epochs), float(alpha), float(beta)


class FewShotProbe(LinearProbe):
    """The linear probe fitted on the K target shots DAC gets (C chosen on a hold-out of the shots)."""

    name = "fewshot-probe"
    setting = Setting.FEW_SHOT
    summary = "logistic regression on frozen features of the same K target shots as dac"
    hparams = LinearProbe.hparams + (HParam("shots", 16, "labeled target images per class",
                                            choices=(1, 2, 4, 8, 16)),)

    def training_images(self, data):
        return data.shots


@hookimpl
def register_methods(register):
    register(DAC)
    register(FewShotProbe)
