"""Tracking: the MLflow record of every run, and the tables drawn from it.

``tracker`` opens one experiment per dataset, a parent run per command and a child run per
(task, seed), checks the store before a command starts, keeps each run's heartbeat, and holds
the store queries; ``spool`` keeps every write of a run on local disk until the store has it,
and ``sync`` replays what a lost store did not take (``udabench sync``); ``store_guard`` turns a
busy SQLite store into a clear error; ``leaderboard`` draws method x task tables (with what failed, and as csv or
json); ``leaderboard_plot`` draws it as a figure; ``mlflow_ui`` writes what the MLflow UI shows
(the experiment kind tag, a saved runs-table view, the run holding the leaderboard figure);
``references`` holds the papers' published numbers shown beside ours.

May import: ``udabench.contract``.
"""
