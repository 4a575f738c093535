"""The contract: everything a plugin sees, and nothing else.

Hook specifications (``hookspecs``), the plugin base classes (``Method`` and ``AdaptData``,
``Dataset`` and ``Task``, ``Backbone``, ``Launcher``), hyperparameter declarations and their
resolution (``config``), the adaptation settings and their data rule (``settings``), the
errors udabench raises on purpose (``errors``), the checks a registered class must pass
(``validation``) and plugin discovery through entry points (``registry``).

May import: nothing of udabench outside this package. It is the bottom floor; every other
sub-package may import it. Types of the floors above (``ClipBackbone``, ``ImageList``,
``RunContext``, ``Job``) are named in annotations only, never imported. Nothing here imports
torch at module level.
"""
