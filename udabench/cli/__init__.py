"""The command line: every ``udabench`` command, and ``python -m udabench``.

``commands`` holds the parser and the ``run``, ``list`` and ``leaderboard`` commands and
``main``; ``sweep`` and ``data`` hold the ``udabench sweep`` and ``udabench data`` commands.

May import: every other sub-package (it is the top floor); nothing imports it but
``udabench.__main__`` and the console script.
"""

from .commands import build_parser, main, terminate_as_interrupt

__all__ = ["build_parser", "main", "terminate_as_interrupt"]
