"""Published numbers of the few-shot suite (CoOp's 11 datasets and ImageNet's four shifts), per dataset
and shot count, for the leaderboard's reference rows. All CLIP RN50 (the only backbone these tables
cover per dataset); top-1 % on the test split of CoOp's split files (ImageNet: its val set).

Sources:

* ``COOP``: CoOp's released result spreadsheet (``Results.xlsx``, sheet ``imcls_fewshot``, linked from
  KaiyangZhou/CoOp's README; read here from the copy kept in Jingchensun/Prompt-Adapter at 450be56,
  whose row layout is the one CoOp's ``draw_curves.py`` reads; a second copy agrees cell for cell, and
  three cells agree with quotes of CoOp's paper, Table 1). Zero-shot CLIP with CoOp's hand-crafted
  prompt per dataset; CoOp with 16 context tokens, class token at the end, one shared context;
  the linear probe of CLIP's paper. Mean of seeds 1, 2, 3.
* ``TIP``: gaopengcuhk/Tip-Adapter ``exp.log`` (the README: "Tip-Adapter's numerical results in
  Figure 4 and 5 of the paper"), one run with seed 1. Tip-Adapter-F's numbers there include
  choosing the best epoch on the test set (its code), and on ImageNet α and β are searched on the
  test set: udabench does neither (its ``oracle`` column is the comparable number for the first).
* ``TIP_SHIFT``: Tip-Adapter's distribution-shift table (16-shot ImageNet source; -A and -R not
  reported), as restated by its first author's later paper (CaFo, Zhang et al., CVPR 2023, Table 3).

DAC's paper (Gondal et al., WACV 2024) gives no per-dataset numbers in what could be read (its
abstract: about +2.3 points over the strongest 16-shot baseline, averaged over the 11 datasets), so
it has no row.
"""

from __future__ import annotations

#: udabench dataset names, in the column order of CoOp's table.
DATASETS = ("imagenet", "caltech101", "oxford_pets", "stanford_cars", "oxford_flowers", "food101",
            "fgvc_aircraft", "sun397", "dtd", "eurosat", "ucf101")
SHOTS = (1, 2, 4, 8, 16)

COOP = "CoOp results spreadsheet (KaiyangZhou/CoOp, Results.xlsx imcls_fewshot), RN50, seeds 1-3"
TIP = "Tip-Adapter exp.log (gaopengcuhk/Tip-Adapter), RN50, seed 1"
TIP_SHIFT = "Tip-Adapter distribution-shift table (restated in CaFo, CVPR 2023, Table 3), RN50"

#: (udabench method, label, source, {shots or None: values in DATASETS order})
TABLES = (
    ("zeroshot", "zero-shot CLIP (CoOp's prompt)", COOP, {None: (
        58.18, 86.29, 85.77, 55.61, 66.14, 77.31, 17.28, 58.52, 42.32, 37.56, 61.46)}),
    ("coop", "CoOp", COOP, {
        1: (57.15, 87.53, 85.89, 55.59, 68.12, 74.32, 9.64, 60.29, 44.39, 50.63, 61.92),
        2: (57.81, 87.93, 82.64, 58.28, 77.51, 72.49, 18.68, 59.48, 45.15, 61.50, 64.09),
        4: (59.99, 89.55, 86.70, 62.62, 86.20, 73.33, 21.87, 63.47, 53.49, 70.18, 67.03),
        8: (61.56, 90.21, 85.32, 68.43, 91.18, 71.82, 26.13, 65.52, 59.97, 76.73, 71.94),
        16: (62.95, 91.83, 87.01, 73.36, 94.51, 74.67, 31.26, 69.26, 63.58, 83.53, 75.71)}),
    ("fewshot-probe", "linear-probe CLIP", COOP, {
        1: (22.07, 70.62, 30.14, 24.64, 58.07, 30.13, 12.89, 32.80, 29.59, 51.00, 41.43),
        2: (31.95, 78.72, 43.47, 36.53, 73.35, 42.79, 17.85, 44.44, 39.48, 61.58, 53.55),
        4: (41.29, 84.34, 56.35, 48.42, 84.80, 55.15, 23.57, 54.59, 50.06, 68.27, 62.23),
        8: (49.55, 87.78, 65.94, 60.82, 92.00, 63.82, 29.55, 62.17, 56.56, 76.93, 69.64),
        16: (55.87, 90.63, 76.42, 70.08, 94.95, 70.17, 36.39, 67.15, 63.97, 82.76, 73.72)}),
    ("zeroshot", "zero-shot CLIP (Tip-Adapter's prompts)", TIP, {None: (
        60.32, 85.92, 85.83, 55.74, 66.02, 77.32, 17.10, 58.52, 42.20, 37.52, 61.35)}),
    ("tip-adapter-f", "Tip-Adapter-F", TIP, {
        1: (61.13, 89.33, 87.00, 58.86, 79.98, 77.51, 20.22, 62.50, 49.65, 59.53, 64.87),
        2: (61.69, 89.74, 87.03, 61.50, 82.30, 77.81, 23.19, 63.64, 53.72, 66.15, 66.43),
        4: (62.52, 90.56, 87.54, 64.57, 88.83, 78.24, 25.80, 66.21, 57.39, 74.12, 70.55),
        8: (64.00, 91.44, 88.09, 69.25, 91.51, 78.64, 30.21, 68.87, 62.71, 77.93, 74.25),
        16: (65.51, 92.86, 89.70, 75.74, 94.80, 79.43, 35.55, 71.47, 66.55, 84.54, 78.03)}),
)

#: (udabench method, label, shots or None, {imagenet task: value}): ImageNet source, its shifts scored.
SHIFT_TABLES = (
    ("zeroshot", "zero-shot CLIP (Tip-Adapter's prompts)", None,
     {"imagenet": 60.33, "imagenet-v2": 53.27, "imagenet-sketch": 35.44}),
    ("coop", "CoOp (Tip-Adapter's rerun)", 16, {"imagenet": 62.95, "imagenet-v2": 54.58, "imagenet-sketch": 31.04}),
    ("tip-adapter-f", "Tip-Adapter-F", 16, {"imagenet": 65.51, "imagenet-v2": 57.11, "imagenet-sketch": 36.00}),
)
