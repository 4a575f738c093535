"""Dataset plugins of ReCLIP's 22-dataset benchmark (Hu et al., WACV 2024) that are not in the few-shot
suite: one module a dataset, each registered through its own entry point."""
