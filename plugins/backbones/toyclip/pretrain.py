"""Pretrain the toy CLIP shipped with udabench, from nothing, on the CPU.

    python -m udabench_plugins.backbones.toyclip.pretrain            # ~45 min on one core
    python -m udabench_plugins.backbones.toyclip.pretrain --steps 300 --out /tmp/toy   # a smoke run

It draws the corpus (``corpus.py``, deterministic from ``--seed``), trains a
plain ``open_clip.model.CLIP`` built from ``toyclip.json`` with a
concept-aware contrastive loss, and writes ``toyclip.safetensors`` (fp16)
and ``pretrain_metrics.json`` (arguments, loss curve, held-out zero-shot
accuracy, wall time) into ``--out``.

Why not open_clip's ``ClipLoss``: templated captions put many pairs of the
same concept into one batch, and ClipLoss treats all of them as negatives;
it stays near chance for many minutes. Here image i and caption j are a
positive pair whenever they show the same concept.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import corpus
from .model import HERE, build_model, build_tokenizer

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


def concept_contrastive_loss(image_features, text_features, logit_scale, concepts):
    """Symmetric InfoNCE whose positives are all pairs that share a concept.

    With s_ij = scale * <f_i, g_j> and targets t_ij = 1[c_i = c_j] / sum_k 1[c_i = c_k],
    L = 1/2 * ( CE(s, t) + CE(s^T, t^T) ), the cross-entropies taken row-wise.
    The target matrix is symmetric, so both directions use the same one.
    """
    logits = logit_scale * image_features @ text_features.T
    same = (concepts[:, None] == concepts[None, :]).float()
    targets = same / same.sum(1, keepdim=True)
    return 0.5 * (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets))


def _generate_chunk(args):
    n, seed, start = args
    return corpus.generate(n, seed, start)


def draw_corpus(n: int, seed: int, workers: int, chunk: int = 2000):
    """The first ``n`` corpus samples, drawn in parallel; the result does not depend on ``workers``."""
    jobs = [(min(chunk, n - s), seed, s) for s in range(0, n, chunk)]
    with Pool(workers) as pool:
        parts = pool.map(_generate_chunk, jobs)
    images = np.concatenate([p[0] for p in parts])
    captions = [c for p in parts for c in p[1]]
    labels = np.concatenate([p[2] for p in parts])
    return images, captions, labels


def to_input(images_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 NHWC -> normalised float NCHW, what open_clip's 32-px preprocess produces."""
    x = images_uint8.permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor(OPENAI_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(OPENAI_STD).view(1, 3, 1, 1)
    return (x - mean) / std


@torch.no_grad()
def zero_shot_accuracy(model, tokenizer, images: np.ndarray, labels: np.ndarray, concept_ids) -> float:
    """Top-1 of the prompt "a photo of the {phrase}." over the given concepts."""
    cs = corpus.concepts()
    prompts = [f"a photo of the {cs[i].phrases[0]}." for i in concept_ids]
    text = F.normalize(model.encode_text(tokenizer(prompts)), dim=-1)
    keep = np.isin(labels, concept_ids)
    feats = F.normalize(model.encode_image(to_input(torch.from_numpy(images[keep]))), dim=-1)
    pred = np.asarray(concept_ids)[(feats @ text.T).argmax(1).numpy()]
    return float((pred == labels[keep]).mean())


def lr_at(step: int, steps: int, lr: float, warmup: int) -> float:
    """Linear warm-up, then cosine to zero."""
    if step < warmup:
        return lr * (step + 1) / warmup
    return 0.5 * lr * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))


def train(args) -> dict:
    # One thread by default: bitwise repeatable, and OpenMP's spin-waiting makes a
    # 2-thread run ~18x slower whenever anything else wants a core on a 2-core machine.
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    t0 = time.time()
    images, captions, labels = draw_corpus(args.pairs, args.seed, args.workers)
    held_images, _, held_labels = draw_corpus(args.held_out, args.seed + 1, args.workers)
    t_corpus = time.time() - t0
    tokenizer = build_tokenizer()
    tokens = tokenizer(captions)
    model = build_model()
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.wd},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr)
    images_t, labels_t = torch.from_numpy(images), torch.from_numpy(labels)
    gen = torch.Generator().manual_seed(args.seed)
    order, cursor = torch.randperm(len(images), generator=gen), 0
    curve = []
    running = 0.0
    model.train()
    for step in range(args.steps):
        if cursor + args.batch > len(order):
            order, cursor = torch.randperm(len(images), generator=gen), 0
        idx = order[cursor:cursor + args.batch]
        cursor += args.batch
        for group in opt.param_groups:
            group["lr"] = lr_at(step, args.steps, args.lr, args.warmup)
        img_f, txt_f, scale = model(to_input(images_t[idx]), tokens[idx])
        loss = concept_contrastive_loss(img_f, txt_f, scale, labels_t[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        running += loss.item()
        if (step + 1) % args.log_every == 0:
            curve.append({"step": step + 1, "loss": running / args.log_every,
                          "elapsed_s": round(time.time() - t0, 1)})
            print(f"step {step + 1}/{args.steps} loss {running / args.log_every:.4f} "
                  f"({time.time() - t0:.0f}s)", flush=True)
            running = 0.0
    model.eval()
    metrics = {
        "zero_shot_all_46": zero_shot_accuracy(model, tokenizer, held_images, held_labels, list(range(46))),
        "zero_shot_digits_10": zero_shot_accuracy(model, tokenizer, held_images, held_labels, list(range(10))),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from safetensors.torch import save_file

    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(out / "toyclip.safetensors"))
    report = {
        "args": vars(args), "torch": torch.__version__, "threads": torch.get_num_threads(),
        "parameters": sum(p.numel() for p in model.parameters()),
        "corpus_s": round(t_corpus, 1), "wall_s": round(time.time() - t0, 1),
        "held_out_metrics": metrics, "loss_curve": curve,
    }
    (out / "pretrain_metrics.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(metrics))
    return report


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(HERE), help="folder for toyclip.safetensors and pretrain_metrics.json")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pairs", type=int, default=120_000, help="corpus size")
    p.add_argument("--held-out", type=int, default=4_000, help="fresh corpus samples for the final zero-shot check")
    p.add_argument("--steps", type=int, default=8_000)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--wd", type=float, default=0.1)
    p.add_argument("--warmup", type=int, default=300)
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument("--threads", type=int, default=1, help="torch threads (results depend on it)")
    p.add_argument("--log-every", type=int, default=50)
    train(p.parse_args(argv))


if __name__ == "__main__":
    main()
