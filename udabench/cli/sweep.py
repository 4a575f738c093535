"""``udabench sweep SWEEP.yaml``: expand, pick the launcher, print the job table or run the
jobs, and say from the store what each one ended as (exit status 1 unless all finished)."""

from __future__ import annotations

import sys

from ..sweep.jobs import FAILED, FINISHED, MISSING, SweepError
from ..sweep.report import job_table


def sweep_command(args) -> int:
    from ..contract.config import parse_set_pairs
    from ..contract.registry import get_registry
    from ..sweep.driver import run_sweep, store_problem
    from ..sweep.jobs import job_states, select
    from ..sweep.spec import expand, load_sweep
    from ..tracking.tracker import tracking_uri

    spec = load_sweep(args.spec)
    jobs = expand(spec, args.tracking_uri, args.root)
    file_options = {k: v for k, v in spec.launcher.items() if k != "name"}
    launcher_name = args.launcher or spec.launcher.get("name") or "serial"
    launcher_cls = get_registry().launcher(launcher_name)
    launcher = launcher_cls(launcher_cls.resolve_options(file_options, parse_set_pairs(args.launcher_pairs)))
    uri = jobs[0].tracking_uri if jobs else tracking_uri(args.tracking_uri or spec.tracking_uri)
    if args.dry_run:
        states = job_states(jobs, uri)
        to_run, _ = select(jobs, states, args.rerun_failed, args.force)
        print(job_table(jobs, states, {j.key for j in to_run}))
        print(f"\n{spec.name}: {len(jobs)} job(s), {len(to_run)} would run with the {launcher.name!r} launcher "
              f"({_options_text(launcher.options)}); tracking: {uri}")
        problem = store_problem(launcher, uri)  # what the real command would refuse or note
        if problem:
            refused, message = problem
            print(f"udabench: warning: {message} (without --dry-run, the sweep refuses to start)" if refused
                  else f"udabench: note: {message}", file=sys.stderr)
        return 0
    result = run_sweep(spec.name, jobs, launcher, spec.text, uri, args.rerun_failed, args.force)
    finished, failed, missing = (result.count(s) for s in (FINISHED, FAILED, MISSING))
    print(f"\n{spec.name}: {len(jobs)} job(s): {finished} finished, {failed} failed, {missing} missing "
          f"(ran {len(result.ran)}, skipped {len(result.skipped)}); "
          f"see `udabench leaderboard --sweep {spec.name}`")
    bad = [j for j in jobs if result.states[j.key].status != FINISHED]
    if bad:
        print(job_table(bad, result.states), file=sys.stderr)
    if result.lost:
        raise SweepError(f"{len(result.lost)} job(s) reported finished have no FINISHED run in {uri}: "
                         + ", ".join(j.describe() for j in result.lost)
                         + ". The store lost writes: use a tracking server for parallel launchers")
    return 0 if not bad else 1


def _options_text(options: dict) -> str:
    set_ = {k: v for k, v in options.items() if v is not None}
    return ", ".join(f"{k}={v}" for k, v in set_.items()) or "no options"
