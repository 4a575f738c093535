"""Launcher ``ray``: each job a Ray task with its CPU and GPU request, on an existing Ray
cluster (``address: auto`` or ``ray://HOST:10001``) or on a Ray instance started here.

Ray reuses its worker processes across tasks, so torch is imported once per worker. On an
existing cluster the jobs' environment (``UDABENCH_*``, ``MLFLOW_*``) is forwarded to the
workers; the tracking store must then be a server every node reaches. Ctrl-C cancels the
tasks. Needs ``pip install 'udabench[ray]'``.
"""

from __future__ import annotations

from udabench import HParam, Launcher, LauncherError, hookimpl, require_extra


class RayLauncher(Launcher):
    name = "ray"
    summary = "Ray tasks on an existing cluster or a local instance (pip install 'udabench[ray]')"
    requires = ("ray", "ray")
    options = (
        HParam("address", None, "Ray cluster address ('auto', 'ray://HOST:10001'); default: start one here",
               type=str),
        HParam("num_cpus", None, "CPUs of the Ray instance started here (default: all)", type=int),
        HParam("num_gpus", None, "GPUs of the Ray instance started here (default: all)", type=int),
        HParam("cpus_per_job", 1.0, "CPUs one job requests"),
        HParam("gpus_per_job", 0.0, "GPUs one job requests (fractions share a GPU)"),
        HParam("max_retries", 1, "retries of a job whose worker died (a rerun never duplicates a finished job)"),
    )

    def spans_machines(self) -> bool:
        return self.options["address"] not in (None, "local")

    def launch(self, jobs, echo):
        ray = require_extra("ray", self.name, "ray")
        from udabench import JobOutcome, forwarded_environment, run_job

        o = self.options
        started = False
        if not ray.is_initialized():
            kwargs = {"include_dashboard": False, "log_to_driver": True}
            if self.spans_machines():
                kwargs.update(address=o["address"], runtime_env={"env_vars": forwarded_environment()})
            else:
                kwargs.update(num_cpus=o["num_cpus"], num_gpus=o["num_gpus"])
            try:
                ray.init(**kwargs)
            except Exception as exc:  # noqa: BLE001 - Ray raises many kinds; each becomes one clear error
                where = f"the Ray cluster at {o['address']}" if self.spans_machines() else "a local Ray instance"
                raise LauncherError(f"could not start or reach {where}: {type(exc).__name__}: {exc}") from None
            started = True
        try:
            resources = ray.cluster_resources()
            if o["cpus_per_job"] > resources.get("CPU", 0) or o["gpus_per_job"] > resources.get("GPU", 0):
                raise LauncherError(f"a job asks for {o['cpus_per_job']} CPU and {o['gpus_per_job']} GPU, but the "
                                    f"Ray cluster has {resources.get('CPU', 0)} CPU and {resources.get('GPU', 0)} "
                                    f"GPU in all: lower cpus_per_job/gpus_per_job (--launcher-set)")
            task = ray.remote(num_cpus=o["cpus_per_job"], num_gpus=o["gpus_per_job"],
                              max_retries=o["max_retries"])(run_job)
            refs = [task.remote(job) for job in jobs]
            echo(f"ray launcher: {len(refs)} task(s) on a cluster of {resources.get('CPU', 0):g} CPU, "
                 f"{resources.get('GPU', 0):g} GPU")
            outcomes = []
            try:
                for job, ref in zip(jobs, refs):
                    try:
                        outcomes.append(ray.get(ref))
                    except Exception as exc:  # noqa: BLE001 - the task's worker died or the cluster lost it
                        outcomes.append(JobOutcome(job.key, "failed", error=f"ray: {type(exc).__name__}: {exc}"))
            except KeyboardInterrupt:
                for ref in refs:
                    ray.cancel(ref, force=True)
                raise
            return outcomes
        finally:
            if started:
                ray.shutdown()


@hookimpl
def register_launchers(register):
    register(RayLauncher)
