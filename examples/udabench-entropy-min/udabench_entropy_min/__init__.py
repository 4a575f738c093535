"""An example third-party udabench plugin.

Two entry points (see ``pyproject.toml``): ``entropy-min``, a source-free method
(``method.py``), and ``shapes-mini``, a tiny generated benchmark (``dataset.py``).
Like every plugin, it imports only from ``udabench``.
"""
