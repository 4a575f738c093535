"""Losses and pseudo-labelling of the adaptation methods, as small pure functions.

Each docstring carries its equation as docs/methods.md writes it (the method's section in
brackets); each is unit-tested against a value worked out by hand
(tests/test_losses.py).
"""
