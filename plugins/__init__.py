"""udabench's built-in plugins (installed as ``udabench_plugins``).

Each module here is registered through the ``udabench`` entry-point group in
pyproject.toml, exactly as a third-party plugin is.
"""
