"""Published numbers shown beside ours in the leaderboard, labelled with backbone and source.

From the DAPL README tables (LeapLabTHU/DAPrompt, exact; docs/methods.md, published numbers), the DAMPL
abstract (averages only, backbone not stated), and the few-shot suite's tables (``references_fewshot``:
CoOp, Tip-Adapter-F, zero-shot CLIP and the linear probe per dataset and shot count). Keys are udabench
task names; "avg" is the paper's own average (a one-task row: that task).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reference:
    dataset: str
    method: str  # the udabench method it corresponds to
    label: str  # how the paper names it
    backbone: str
    source: str
    values: dict[str, float]
    #: How the paper chose the reported state: "oracle" (best epoch by target test accuracy, as
    #: DAPL's code reports), "last" (the last epoch, as CoOp's code), "none" (nothing trained), or
    #: "not stated".
    selection: str = "not stated"
    #: The shots per class of a few-shot row (None: not a few-shot row).
    shots: int | None = None


_OH = ["Ar2Cl", "Ar2Pr", "Ar2Rw", "Cl2Ar", "Cl2Pr", "Cl2Rw", "Pr2Ar", "Pr2Cl", "Pr2Rw", "Rw2Ar", "Rw2Cl", "Rw2Pr"]
_MDN = ["c2p", "c2r", "c2s", "p2c", "p2r", "p2s", "r2c", "r2p", "r2s", "s2c", "s2p", "s2r"]
_DAPL = "DAPL README (LeapLabTHU/DAPrompt)"


def _row(dataset, method, label, backbone, tasks, numbers, source=_DAPL):
    values = dict(zip(tasks + ["avg"], numbers))
    # DAPL's code reports the best epoch by target test accuracy; zero-shot CLIP trains nothing;
    # how CLIP-FT's (DAPL README) and DAMPL's (abstract) numbers were chosen is not stated.
    selection = {"zeroshot": "none", "dapl": "oracle"}.get(method, "not stated")
    return Reference(dataset, method, label, backbone, source, values, selection)


REFERENCES: tuple[Reference, ...] = (
    _row("officehome", "zeroshot", "CLIP", "RN50", _OH,
         [51.6, 81.9, 82.6, 71.9, 81.9, 82.6, 71.9, 51.6, 82.6, 71.9, 51.6, 81.9, 72.0]),
    _row("officehome", "source-ft", "CLIP-FT", "RN50", _OH,
         [44.9, 67.4, 74.5, 61.4, 69.1, 70.4, 61.0, 45.4, 77.6, 70.5, 49.0, 81.4, 64.4]),
    _row("officehome", "dapl", "DAPL", "RN50", _OH,
         [54.1, 84.3, 84.8, 74.4, 83.7, 85.0, 74.5, 54.6, 84.8, 75.2, 54.7, 83.8, 74.5]),
    _row("officehome", "zeroshot", "CLIP", "ViT-B/16", _OH,
         [67.8, 89.0, 89.8, 82.9, 89.0, 89.8, 82.9, 67.8, 89.8, 82.9, 67.8, 89.0, 82.4]),
    _row("officehome", "source-ft", "CLIP-FT", "ViT-B/16", _OH,
         [64.3, 79.4, 84.4, 77.6, 83.9, 83.8, 73.5, 66.8, 86.3, 79.0, 67.0, 88.7, 77.9]),
    _row("officehome", "dapl", "DAPL", "ViT-B/16", _OH,
         [70.7, 91.0, 90.9, 85.2, 91.0, 91.0, 85.1, 70.7, 90.9, 85.3, 70.4, 91.4, 84.4]),
    _row("minidomainnet", "zeroshot", "CLIP", "RN50", _MDN,
         [67.9, 84.8, 62.9, 69.1, 84.8, 62.9, 69.2, 67.9, 62.9, 69.1, 67.9, 84.8, 71.2]),
    _row("minidomainnet", "source-ft", "CLIP-FT", "RN50", _MDN,
         [58.9, 73.5, 52.5, 60.2, 79.5, 52.9, 62.9, 65.7, 55.7, 61.9, 51.8, 72.9, 62.4]),
    _row("minidomainnet", "dapl", "DAPL", "RN50", _MDN,
         [72.4, 87.6, 65.9, 72.7, 87.6, 65.6, 73.2, 72.4, 66.2, 73.8, 72.9, 87.8, 74.8]),
    _row("minidomainnet", "zeroshot", "CLIP", "ViT-B/16", _MDN,
         [80.3, 90.5, 77.8, 82.7, 90.5, 77.8, 82.7, 80.3, 77.8, 82.7, 80.3, 90.5, 82.8]),
    _row("minidomainnet", "source-ft", "CLIP-FT", "ViT-B/16", _MDN,
         [72.2, 84.3, 71.3, 79.5, 84.3, 67.5, 80.3, 76.5, 75.9, 80.2, 70.0, 83.7, 77.1]),
    _row("minidomainnet", "dapl", "DAPL", "ViT-B/16", _MDN,
         [83.3, 92.4, 81.1, 86.4, 92.1, 81.0, 86.7, 83.3, 80.8, 86.8, 83.5, 91.9, 85.8]),
    _row("visda2017", "zeroshot", "CLIP", "RN101", ["train2val"], [84.4, 84.4]),
    _row("visda2017", "source-ft", "CLIP-FT", "RN101", ["train2val"], [74.5, 74.5]),
    _row("visda2017", "dapl", "DAPL", "RN101", ["train2val"], [86.9, 86.9]),
    _row("visda2017", "zeroshot", "CLIP", "ViT-B/16", ["train2val"], [88.7, 88.7]),
    _row("visda2017", "source-ft", "CLIP-FT", "ViT-B/16", ["train2val"], [80.5, 80.5]),
    _row("visda2017", "dapl", "DAPL", "ViT-B/16", ["train2val"], [89.8, 89.8]),
    _row("officehome", "dampl", "DAMPL", "not stated", [], [83.8], "DAMPL abstract (CSA 2026)"),
    _row("minidomainnet", "dampl", "DAMPL", "not stated", [], [79.7], "DAMPL abstract (CSA 2026)"),
    _row("visda2017", "dampl", "DAMPL", "not stated", ["train2val"], [89.8, 89.8], "DAMPL abstract (CSA 2026)"),
)


def _fewshot_rows() -> tuple[Reference, ...]:
    """The few-shot suite's rows (``references_fewshot``): one per dataset, method and shot count."""
    from .references_fewshot import DATASETS, SHIFT_TABLES, TABLES, TIP, TIP_SHIFT

    rows = []
    for method, label, source, by_shots in TABLES:
        # Tip-Adapter-F's code keeps the best test epoch; CoOp's takes the last step.
        selection = "none" if method == "zeroshot" else "oracle" if source == TIP else "last"
        for shots, values in by_shots.items():
            shown = f"{label} {shots}-shot" if shots else label
            for dataset, value in zip(DATASETS, values):
                # A one-task dataset's avg is that task; ImageNet's table also has its four shifts.
                avg = {} if dataset == "imagenet" else {"avg": value}
                rows.append(Reference(dataset, method, shown, "RN50", source, {dataset: value, **avg},
                                      selection, shots))
    for method, label, shots, values in SHIFT_TABLES:
        shown = f"{label} {shots}-shot" if shots else label
        selection = "none" if method == "zeroshot" else "oracle" if method == "tip-adapter-f" else "last"
        rows.append(Reference("imagenet", method, shown + " (shifts)", "RN50", TIP_SHIFT, dict(values), selection,
                              shots))
    return tuple(rows)


#: Rows of a whole suite's average (``dataset`` is ``suite:<name>``): all a paper gives.
_RECLIP = "ReCLIP abstract (Hu et al., WACV 2024; arXiv 2308.03793)"
SUITE_ROWS = (
    # "average accuracy ... from 69.83% to 74.94% on 22 image classification benchmarks": CLIP, then ReCLIP,
    # ViT-L/14 (its README's main model); ReCLIP reports the best epoch on the adaptation set = the scored set.
    Reference("suite:reclip-22", "zeroshot", "CLIP", "ViT-L/14", _RECLIP, {"avg": 69.83}, "none"),
    Reference("suite:reclip-22", "reclip", "ReCLIP", "ViT-L/14", _RECLIP, {"avg": 74.94}, "oracle"),
)

REFERENCES = REFERENCES + _fewshot_rows() + SUITE_ROWS


def references_for(dataset: str) -> list[Reference]:
    return [r for r in REFERENCES if r.dataset == dataset]
