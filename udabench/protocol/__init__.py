"""The protocol: one run, the same for every method, and one command of runs.

``task`` is the only code that decides what data a method sees (the setting's data rule)
and that evaluates (target labels are read there alone); ``context`` is what a method gets
besides data (device, precision, seeded randomness, loaders, logging); ``metrics`` and
``measure`` compute accuracy, throughput and peak memory; ``distributed`` and
``data_parallel`` carry a run over torchrun processes; ``runner`` executes a ``udabench run``
(plugins resolved, backbone loaded once, every (task, seed) through ``task.run_task``,
recorded through ``udabench.tracking``).

May import: ``udabench.contract``, ``udabench.model``, ``udabench.data``, ``udabench.tracking``.
"""
