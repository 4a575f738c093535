"""``python -m udabench``: the same as the ``udabench`` command."""

import sys

from .cli import main

sys.exit(main())
