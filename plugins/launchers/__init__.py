"""Built-in sweep launchers: ``serial``, ``local``, ``submitit`` (Slurm) and ``ray``."""
