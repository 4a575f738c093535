"""Tracking: the MLflow record of every run, and the tables drawn from it.

``tracker`` opens one experiment per dataset, a parent run per command and a child run per
(task, seed), and holds the store queries; ``store_guard`` turns a busy SQLite store into a
clear error; ``leaderboard`` draws method x task tables (with what failed, and as csv or
json); ``references`` holds the papers' published numbers shown beside ours.

May import: ``udabench.contract``.
"""
