"""The conformance kit: check, from a plugin's own tests, that it keeps udabench's contract.

``check_method``, ``check_dataset`` and ``check_backbone`` (in ``conformance``) run a plugin
through the contract's rules and a real run of the protocol on tiny data; see
``docs/plugins.md``.

May import: ``udabench.contract``, ``udabench.model``, ``udabench.data``, ``udabench.protocol``.
"""

from .conformance import ConformanceError, check_backbone, check_dataset, check_method

__all__ = ["ConformanceError", "check_backbone", "check_dataset", "check_method"]
