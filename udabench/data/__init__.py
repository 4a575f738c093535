"""The data: images, labels, and the label-free view of a target domain; getting the files.

``images`` holds ``ImageSource`` (pixels only), ``ImageList`` (pixels and labels),
``TargetView`` (what an unlabeled-target method gets: no label reachable from it), shot
sampling and stratified splits. ``download`` fetches, verifies and unpacks a benchmark's
archives and describes what a data root holds.

May import: ``udabench.contract``.
"""
