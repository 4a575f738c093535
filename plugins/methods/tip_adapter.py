"""Method plugins ``tip-adapter`` and ``tip-adapter-f`` (few-shot, code-faithful; docs/methods.md).

Tip-Adapter (Zhang, Zhang, Fang, Gao, Li, Dai, Qiao, Li: "Tip-Adapter: Training-free Adaption of
CLIP for Few-shot Classification", ECCV 2022; official code gaopengcuhk/Tip-Adapter, ``main.py``,
``utils.py``, ``configs/*.yaml``).

CLIP stays frozen. The K labeled shots of every class become a key-value cache: the keys K
(NK x d) are the CLIP features of the shots, each averaged over ``augment_epoch`` = 10 random
views (RandomResizedCrop, scale 0.5–1, bicubic, + flip) and then L2-normalised; the values L
(NK x C) are their one-hot labels. For a test image with normalised feature f,

    logits(f) = 100 · f · Wᵀ + α · exp(−β (1 − f · Kᵀ)) · L

W the dataset's text classifier (its prompt templates, ``AdaptData.templates``), β the
sharpness of the affinity, α the weight of the cache ("residual ratio"). Tip-Adapter uses the
cache as it is (``tip-adapter``). Tip-Adapter-F (``tip-adapter-f``) makes the keys a linear
layer initialised from K and trains it, with α and β at their initial values, on the
cross-entropy of these logits over the shots: AdamW (lr 1e-3, eps 1e-4), a cosine over
``train_epoch`` x the batches of an epoch (stepped every batch), batches of 256 freshly
augmented shots (the cache's augmentation), ``train_epoch`` = 20 (EuroSAT: 100).

Both then search α and β on the validation split (``search_hp``): β over the 200 values
i·(scale_β − 0.1)/200 + 0.1 and α over the 20 values i·(scale_α − 0.1)/20 + 0.1, β outer and
α inner; the first setting that strictly beats every earlier one wins (starting from 0 correct,
so that a val split nothing is right on gives α = β = 0, zero-shot CLIP, as the code does). The
initial α, β and the search scales are per dataset (``dataset_overrides``, from
``configs/<dataset>.yaml``); datasets without a config get those of ``imagenet.yaml`` (also
``oxford_pets.yaml``'s).

The val split is the one the protocol hands a few-shot method (``AdaptData.val``, CoOp's whole
val split, as Tip-Adapter reads it); the evaluation split is never read.

Departures, each with the reason (docs/methods.md, tip-adapter):

* Tip-Adapter-F keeps the epoch with the best *test* accuracy, and reports max(best epoch,
  after search). udabench never chooses with test labels: the last epoch's keys are kept; each
  epoch is handed to the protocol (``ctx.epoch_end``, α and β at their initial values), whose
  oracle column (``top1_oracle``) is the best-test-epoch number. No switch can restore it here.
* ImageNet (and any dataset without a val split, e.g. ``digits``): the code searches α and β on
  the test set; udabench keeps the initial α and β (``search_hp`` is moot). A hold-out of the
  shots would shrink both the cache and the training set, which the code never does; the
  initial values are those the code trains with and, per its README, were tuned for 1–16 shots.
* The augmented views are drawn from the run's seed by udabench's feature helpers and cached:
  the keys from ``augment_epoch`` views, the training from ``train_epoch`` further views, one a
  epoch (the code augments afresh every epoch; the distribution is the same).
* Computed in float32 (the code runs CLIP in fp16 on a GPU; α/β ties may break otherwise).
"""

from __future__ import annotations

from udabench import HParam, Method, Setting, hookimpl

#: Per dataset, from gaopengcuhk/Tip-Adapter ``configs/<file>.yaml``: (init_alpha, search_scale
#: [β, α], train_epoch); every config has init_beta 1, lr 0.001, augment_epoch 10, search_step
#: [200, 20]. Keys are udabench's dataset names (``fgvc.yaml`` is ``fgvc_aircraft``).
TIP_CONFIGS = {
    "imagenet": (1.17, (7.0, 3.0), 20),
    "caltech101": (3.0, (12.0, 5.0), 20),
    "dtd": (2.0, (13.0, 13.0), 20),
    "eurosat": (2.0, (12.0, 10.0), 100),
    "fgvc_aircraft": (5.0, (30.0, 30.0), 20),
    "food101": (1.17, (10.0, 10.0), 20),
    "oxford_flowers": (10.0, (50.0, 50.0), 20),
    "oxford_pets": (1.17, (7.0, 3.0), 20),
    "stanford_cars": (3.0, (20.0, 10.0), 20),
    "sun397": (1.17, (12.0, 10.0), 20),
    "ucf101": (3.0, (7.0, 3.0), 20),
}

TIP_HPARAMS = (
    HParam("shots", 16, "labeled target images per class", choices=(1, 2, 4, 8, 16)),
    HParam("init_alpha", 1.17, "α: weight of the cache logits (initial value; the search replaces it)", minimum=0),
    HParam("init_beta", 1.0, "β: sharpness of the affinity exp(−β(1 − f·Kᵀ)) (initial value; likewise)",
           minimum=0),
    HParam("search_hp", True, "search α and β on the val split after training (without a val split: the "
                              "initial values)"),
    HParam("search_scale", (7.0, 3.0), "[scale_β, scale_α]: β searched in [0.1, scale_β), α in [0.1, scale_α)",
           type=tuple, exclusive_minimum=0.1),
    HParam("search_step", (200, 20), "[steps_β, steps_α]: grid sizes of the search", type=tuple, minimum=1),
    HParam("augment_epoch", 10, "augmented views averaged into each cache key", minimum=1),
    HParam("aug_scale_min", 0.5, "lower bound of the random-resized-crop scale", exclusive_minimum=0, maximum=1),
)

# Small images (digits): nothing to change. The crop (scale 0.5–1) keeps a 32-px digit legible, and
# the recipe is already fast there: with 16 shots, digits' 160 images x (10 + 20) views are encoded
# once (then read from the feature cache) and the 20 epochs are 20 steps on features, about 1 s.
SMALL_IMAGE: dict = {}


def search_grid(scale: float, steps: int) -> list[float]:
    """Tip-Adapter's search values: [i · (scale − 0.1) / steps + 0.1 for i in 0 … steps − 1], i.e.
    ``steps`` evenly spaced values from 0.1 up to, not including, ``scale``."""
    return [i * (scale - 0.1) / steps + 0.1 for i in range(steps)]


def search_hp(clip_logits, affinity, values, labels, betas, alphas) -> tuple[float, float, int]:
    """Tip-Adapter's ``search_hp`` on a labeled split: for β in ``betas`` (outer), α in ``alphas``
    (inner), the number of correct argmaxes of

        clip_logits + α · exp(−β (1 − A)) · L          (A: affinity f·Kᵀ, L: the cache values)

    The first (β, α) that strictly beats every earlier one wins, starting from 0 correct; returns
    (β, α, correct), and (0, 0, 0) when no setting gets one right (the code's initial values)."""
    import torch

    best = (0.0, 0.0, 0)
    alpha_t = torch.as_tensor(alphas, dtype=clip_logits.dtype, device=clip_logits.device).view(-1, 1, 1)
    for beta in betas:
        cache = torch.exp(-beta * (1 - affinity)) @ values
        preds = (clip_logits.unsqueeze(0) + alpha_t * cache.unsqueeze(0)).argmax(-1)  # (alphas, N)
        correct = (preds == labels.view(1, -1)).sum(1)
        top = int(correct.max())
        if top > best[2]:
            best = (float(beta), float(alphas[int((correct == top).nonzero()[0])]), top)
    return best


class TipAdapter(Method):
    name = "tip-adapter"
    setting = Setting.FEW_SHOT
    fidelity = "code-faithful"
    summary = "few-shot: training-free cache of the shots' CLIP features (Tip-Adapter); α, β searched on val"
    hparams = TIP_HPARAMS
    profiles = {"small-image": SMALL_IMAGE}
    dataset_overrides = {name: {"init_alpha": alpha, "search_scale": scale}
                         for name, (alpha, scale, _) in TIP_CONFIGS.items()}

    def adapt(self, ctx, backbone, data):
        import torch
        from torch import nn

        from .heads import CacheClassifier

        text = backbone.text_classifier(data.prompt_names, data.templates).float()
        keys, values = self.cache_model(ctx, backbone, data)
        keys = self.train_keys(ctx, backbone, data, keys, values, text)
        alpha, beta = self.choose_alpha_beta(ctx, backbone, data, keys, values, text)
        with torch.no_grad():
            return CacheClassifier(backbone, nn.Identity(), text, keys.detach().clone(), values, alpha,
                                   beta).to(backbone.device)

    def cache_model(self, ctx, backbone, data):
        """(K, L): the shots' features averaged over ``augment_epoch`` views, then normalised
        (the code averages the encoder's raw outputs), and their one-hot labels; on the device."""
        import torch
        import torch.nn.functional as F

        from udabench import augmented_features

        cfg, shots = self.config, data.shots
        tf = backbone.train_transform((cfg.aug_scale_min, 1.0), data.hflip_ok)
        raw, _ = augmented_features(backbone, shots, ctx, tf, cfg.augment_epoch, seed=ctx.seed, desc="cache views",
                                    normalize=False)
        keys = F.normalize(raw.view(cfg.augment_epoch, len(shots), -1).mean(0), dim=-1)
        values = F.one_hot(torch.tensor(shots.labels, dtype=torch.long), data.num_classes).float()
        return ctx.to_device(keys), ctx.to_device(values)

    def train_keys(self, ctx, backbone, data, keys, values, text):
        """Tip-Adapter uses the keys as they are."""
        return keys

    def choose_alpha_beta(self, ctx, backbone, data, keys, values, text) -> tuple[float, float]:
        """(α, β): searched on ``data.val`` (``search_hp``), else the initial values."""
        import torch

        from udabench import LOGIT_SCALE, extract_features

        cfg = self.config
        if data.val is None or not cfg.search_hp:
            return cfg.init_alpha, cfg.init_beta
        feats, labels = extract_features(backbone, data.val, ctx, desc="val")
        feats, labels = ctx.to_device(feats), ctx.to_device(torch.tensor(labels, dtype=torch.long))
        with torch.no_grad():
            affinity = feats @ keys.T
            clip_logits = LOGIT_SCALE * feats @ text.T
            betas = search_grid(cfg.search_scale[0], cfg.search_step[0])
            alphas = search_grid(cfg.search_scale[1], cfg.search_step[1])
            beta, alpha, correct = search_hp(clip_logits, affinity, values, labels, betas, alphas)
        ctx.log_metrics({"search/val_acc": 100.0 * correct / max(len(labels), 1), "search/alpha": alpha,
                         "search/beta": beta}, None)
        return alpha, beta


class TipAdapterF(TipAdapter):
    name = "tip-adapter-f"
    summary = "few-shot: Tip-Adapter's cache keys fine-tuned (Tip-Adapter-F), last epoch; α, β searched on val"
    hparams = TIP_HPARAMS + (
        HParam("train_epoch", 20, "epochs of fine-tuning the keys", minimum=1),
        HParam("lr", 1e-3, "AdamW learning rate (cosine to 0 over all steps)", exclusive_minimum=0),
        HParam("eps", 1e-4, "AdamW eps", exclusive_minimum=0),
        HParam("weight_decay", 0.01, "AdamW weight decay (torch's default, which the code keeps)", minimum=0),
        HParam("batch_size", 256, "augmented shots per step", minimum=1),
    )
    dataset_overrides = {name: {"init_alpha": alpha, "search_scale": scale, "train_epoch": epochs}
                         for name, (alpha, scale, epochs) in TIP_CONFIGS.items()}

    def train_keys(self, ctx, backbone, data, keys, values, text):
        """Train the keys (the code's ``adapter``, an nn.Linear initialised from K) on the
        cross-entropy of the cache logits with the initial α and β: one freshly augmented view
        of every shot an epoch, in a shuffled order, AdamW, a per-step cosine to 0."""
        import torch
        import torch.nn.functional as F
        from torch import nn

        from udabench import augmented_features

        from .heads import CacheClassifier, cache_logits

        cfg, shots = self.config, data.shots
        n = len(shots)
        tf = backbone.train_transform((cfg.aug_scale_min, 1.0), data.hflip_ok)
        # One view per epoch, drawn from a seed apart from the cache's views (the code re-augments).
        feats, labels = augmented_features(backbone, shots, ctx, tf, cfg.train_epoch, seed=ctx.seed + 7919,
                                           desc="training views")
        feats, labels = ctx.to_device(feats), ctx.to_device(torch.tensor(labels, dtype=torch.long))
        weight = nn.Parameter(keys.detach().clone())
        identity = nn.Identity()
        opt = torch.optim.AdamW([weight], lr=cfg.lr, eps=cfg.eps, weight_decay=cfg.weight_decay)
        steps = -(-n // cfg.batch_size)  # the code's loader keeps the last, smaller batch
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.train_epoch * steps)
        gen = ctx.generator()
        for epoch in ctx.progress(range(cfg.train_epoch), desc="tip-adapter-f epochs"):
            view = epoch * n + torch.randperm(n, generator=gen).to(feats.device)
            sums = torch.zeros(2)
            for start in range(0, n, cfg.batch_size):
                idx = view[start:start + cfg.batch_size]
                logits = cache_logits(feats[idx], identity, text, weight, values, cfg.init_alpha, cfg.init_beta)
                loss = F.cross_entropy(logits, labels[idx])
                ctx.step(loss, opt)
                sched.step()
                sums += torch.stack([loss.detach().cpu() * len(idx),
                                     (logits.argmax(1) == labels[idx]).sum().float().cpu()])
            ctx.log_metrics({"train/loss": sums[0] / n, "train/acc": 100 * sums[1] / n,
                             "train/lr": sched.get_last_lr()[0]}, epoch + 1)
            with torch.no_grad():
                state = CacheClassifier(backbone, identity, text, weight.detach().clone(), values, cfg.init_alpha,
                                        cfg.init_beta)
            ctx.epoch_end(state, epoch + 1)
        return weight.detach()


@hookimpl
def register_methods(register):
    register(TipAdapter)
    register(TipAdapterF)
