"""Sweeps: many ``udabench run`` jobs from one file, on a launcher, resumable.

``spec`` reads a sweep file and expands it into jobs; ``jobs`` holds the job record, its
run key, what the store says of each job, and ``run_job`` (the one function every launcher
calls); ``record`` keeps each sweep invocation as an MLflow run; ``report`` draws a sweep's
own leaderboard and job table.

May import: ``udabench.contract``, ``udabench.protocol``, ``udabench.tracking``.
"""
