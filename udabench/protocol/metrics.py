"""Accuracy metrics, computed in one place for every method."""

from __future__ import annotations

import numpy as np


def confusion(labels: np.ndarray, preds: np.ndarray, num_classes: int) -> np.ndarray:
    """C x C counts: row = true class, column = predicted class."""
    cm = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(cm, (labels, preds), 1)
    return cm


def per_class_accuracy(cm: np.ndarray) -> np.ndarray:
    """Recall of each class; NaN for a class with no evaluation image."""
    support = cm.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(cm) / np.maximum(support, 1), np.nan)


def summarize(labels: np.ndarray, preds: np.ndarray, num_classes: int) -> dict:
    """top-1 and mean-class accuracy (the VisDA metric: classes absent from the set are left out), in %."""
    cm = confusion(labels, preds, num_classes)
    per_class = per_class_accuracy(cm)
    return {
        "top1": 100.0 * float(np.trace(cm)) / max(1, int(cm.sum())),
        "mean_class_acc": 100.0 * float(np.nanmean(per_class)) if np.isfinite(per_class).any() else float("nan"),
        "per_class": per_class * 100.0,
        "confusion": cm,
    }
