"""The plugin contract: the hooks a udabench plugin may implement.

A plugin is a module (or object) named in the ``udabench`` entry-point group.
It implements one or more of the hooks below with :data:`hookimpl`, and in
each it calls ``register(...)`` once per thing it contributes::

    from udabench import hookimpl

    @hookimpl
    def register_methods(register):
        register(MyMethod)

The built-in methods, datasets, backbones and launchers are registered exactly this way,
from udabench's own ``pyproject.toml``. Plugins are ordinary Python code: they
run with the rights of the user who runs udabench, so install only plugins you
trust.
"""

from __future__ import annotations

import pluggy

PROJECT = "udabench"

#: Version of this contract. A plugin module may declare ``UDABENCH_PLUGIN_API = N``;
#: a plugin built for another major version is refused when it is loaded.
PLUGIN_API_VERSION = 1

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_methods(register):
    """Register adaptation methods.

    Call ``register(cls)`` for each :class:`udabench.Method` subclass the
    plugin provides. The class declares its ``name``, its ``setting`` (which
    decides what data the protocol hands it), and its hyperparameters with
    their defaults; see ``udabench.method``.
    """


@hookspec
def register_datasets(register):
    """Register benchmarks.

    Call ``register(cls)`` for each :class:`udabench.Dataset` subclass: its
    domains, class names in label order, prompt templates, standard tasks,
    and how to read one (domain, split) from a data root.
    """


@hookspec
def register_backbones(register):
    """Register image-text backbones.

    Call ``register(cls)`` for each :class:`udabench.Backbone` subclass. A
    backbone plugin turns a spec string (``toyclip``, ``ViT-B-16:openai``, a
    checkpoint path) into a loaded :class:`udabench.ClipBackbone`.
    """


@hookspec
def register_validators(register):
    """Register label-free model-selection validators.

    Call ``register(cls)`` for each :class:`udabench.Validator` subclass: its ``name`` (the
    run metric ``top1_<name>`` reports the epoch it chooses), what it reads (``uses``: the
    unlabeled target's predictions, or a held-out labeled source slice), whether higher is
    better, and ``score(view)``. The protocol scores every epoch a method hands it and runs
    each validator the method's setting allows; a validator never sees target labels.
    """


@hookspec
def register_launchers(register):
    """Register sweep launchers: where ``udabench sweep`` runs its jobs.

    Call ``register(cls)`` for each :class:`udabench.Launcher` subclass: its
    ``name`` (``--launcher NAME``), its options (``HParam`` declarations, set
    from the sweep file's ``launcher:`` section or ``--launcher-set KEY=VALUE``)
    and ``launch(jobs, echo)``, which runs each job through
    ``udabench.sweep.jobs.run_job`` wherever it likes and returns the outcomes.
    Import an optional engine (Ray, submitit) inside ``launch`` with
    ``udabench.contract.launcher.require_extra``, never at module import: ``udabench
    list`` imports every plugin.
    """
