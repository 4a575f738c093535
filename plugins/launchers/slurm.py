"""Launcher ``submitit``: the sweep as one Slurm array job, through submitit.

Each array task runs ``jobs_per_task`` jobs one after another (``udabench.run_jobs``),
so short jobs do not each pay for a Python start, a torch import and a queue wait. Partition,
time limit, GPUs, CPUs, memory and array parallelism come from the sweep file's ``launcher:``
section or ``--launcher-set``. ``cluster: local`` runs the same array on this machine with
submitit's local executor (one process per array task, all at once), which is how it is tested.

The sweep waits for the array; Ctrl-C cancels the tasks still queued or running, so that a
rerun does not race jobs that would otherwise go on without it. Needs ``pip install
'udabench[slurm]'``.
"""

from __future__ import annotations

from pathlib import Path

from udabench import HParam, Launcher, LauncherError, hookimpl, require_extra


class SubmititLauncher(Launcher):
    name = "submitit"
    summary = "a Slurm array job through submitit (pip install 'udabench[slurm]')"
    requires = ("submitit", "slurm")
    options = (
        HParam("cluster", "slurm", "submitit executor: slurm, or local/debug to run on this machine",
               choices=("slurm", "local", "debug")),
        HParam("partition", None, "Slurm partition", type=str),
        HParam("time", 60, "time limit of one array task, minutes"),
        HParam("gpus_per_job", 0, "GPUs of one array task"),
        HParam("cpus_per_job", 4, "CPUs of one array task"),
        HParam("mem_gb", None, "memory of one array task, GB", type=float),
        HParam("array_parallelism", 64, "array tasks running at once (Slurm's %N)"),
        HParam("jobs_per_task", 1, "sweep jobs run one after another in one array task"),
        HParam("account", None, "Slurm account", type=str),
        HParam("qos", None, "Slurm QOS", type=str),
        HParam("constraint", None, "Slurm constraint (node features)", type=str),
        HParam("folder", "submitit", "folder for submitit's pickles and the tasks' logs"),
    )

    def spans_machines(self) -> bool:
        return self.options["cluster"] == "slurm"

    def launch(self, jobs, echo):
        submitit = require_extra("submitit", self.name, "slurm")
        from udabench import JobOutcome, run_jobs

        o = self.options
        if o["jobs_per_task"] < 1:
            raise LauncherError(f"submitit launcher: jobs_per_task must be >= 1, got {o['jobs_per_task']}")
        folder = Path(o["folder"]).expanduser().resolve() / jobs[0].sweep / "%j"
        executor = submitit.AutoExecutor(folder=folder, cluster=o["cluster"])
        params = {"name": f"udabench-{jobs[0].sweep}", "timeout_min": o["time"], "nodes": 1, "tasks_per_node": 1,
                  "gpus_per_node": o["gpus_per_job"], "cpus_per_task": o["cpus_per_job"], "mem_gb": o["mem_gb"],
                  "slurm_partition": o["partition"], "slurm_array_parallelism": o["array_parallelism"],
                  "slurm_account": o["account"], "slurm_qos": o["qos"], "slurm_constraint": o["constraint"]}
        executor.update_parameters(**{k: v for k, v in params.items() if v is not None})
        size = o["jobs_per_task"]
        batches = [jobs[i:i + size] for i in range(0, len(jobs), size)]
        try:
            tasks = executor.map_array(run_jobs, batches)
        except Exception as exc:  # noqa: BLE001 - sbatch missing or refusing: say which cluster and what it said
            raise LauncherError(f"submitit ({o['cluster']}) could not submit the sweep: {type(exc).__name__}: "
                                f"{exc}") from None
        echo(f"submitit launcher: {len(tasks)} {o['cluster']} array task(s) "
             f"(job {tasks[0].job_id.split('_')[0]}), logs under {folder.parent}")
        outcomes = []
        try:
            for batch, task in zip(batches, tasks):
                try:
                    outcomes.extend(task.result())
                except Exception as exc:  # noqa: BLE001 - the task died (time limit, node failure): its jobs failed
                    reason = str(exc).strip().splitlines()
                    error = f"submitit task {task.job_id}: {type(exc).__name__}: {reason[-1] if reason else ''}"
                    outcomes.extend(JobOutcome(job.key, "failed", error=error) for job in batch)
        except KeyboardInterrupt:
            for task in tasks:
                if not task.done():
                    task.cancel(check=False)
            raise
        return outcomes


@hookimpl
def register_launchers(register):
    register(SubmititLauncher)
