"""Benchmarks: not part of the test command (pyproject's testpaths is tests/).

    python -m pytest benchmarks/ --benchmark-only -s

Each benchmark records its numbers in ``benchmark.extra_info`` and prints them; ratios are
measured against a baseline timed in the same run, since these machines are noisy. None of
them fails on a timing.
"""
