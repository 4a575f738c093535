"""The version of udabench (one definition: the package, the CLI and run tags read it here)."""

__version__ = "0.1.0"
