"""The model: what turns images and class names into features and logits.

The backbone wrapper every method works with (``backbone.ClipBackbone``), loading open_clip
weights (``weights``), the one definition of a frozen image feature and its extraction
(``features``), the on-disk feature cache (``feature_cache``), the classifiers a method hands
back to the protocol (``classifiers``) and the speed options of a model (``fast_paths``).

May import: ``udabench.contract``. The feature cache knows nothing of the backbone: the
backbone gives it a key (``ClipBackbone.cache_key``).
"""
