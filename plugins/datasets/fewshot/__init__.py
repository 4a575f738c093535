"""Dataset plugins of the few-shot suite: CoOp's 11 datasets and the four ImageNet shifts, one
module a dataset, each registered through its own entry point."""
