"""One RunOptions: every option settable from the CLI and from a sweep file, checked alike."""

from __future__ import annotations

from dataclasses import fields

import pytest

from udabench.cli import build_parser
from udabench.contract.errors import ConfigError
from udabench.protocol.options import RunOptions, option_flags
from udabench.sweep.jobs import SweepError
from udabench.sweep.spec import expand, load_sweep


def _other_values() -> dict:
    """A value other than the default for every option."""
    out = {}
    for f in fields(RunOptions):
        default, choices = f.default, f.metadata["choices"]
        if isinstance(default, bool):
            out[f.name] = not default
        elif choices:
            out[f.name] = next(c for c in choices if c != default)
        elif isinstance(default, float):
            out[f.name] = default + 0.25
        elif isinstance(default, int):
            out[f.name] = default + 3
        elif f.metadata["type"] is int:
            out[f.name] = 3
        elif f.name == "device":
            out[f.name] = "cpu"
        else:
            out[f.name] = f"/tmp/udabench-{f.name}"
    return out


def _cli_words(values: dict) -> list[str]:
    flags, words = option_flags(), []
    for name, value in values.items():
        if isinstance(value, bool):
            words.append(flags[name])  # --no-cache, --compile ...
        else:
            words += [flags[name], str(value)]
    return words


def test_every_option_is_a_flag_of_udabench_run():
    values = _other_values()
    args = build_parser().parse_args(["run", "--method", "zeroshot", "--dataset", "digits", *_cli_words(values)])
    assert RunOptions.from_args(args) == RunOptions(**values)
    defaults = build_parser().parse_args(["run", "--method", "zeroshot", "--dataset", "digits"])
    assert RunOptions.from_args(defaults) == RunOptions()


def test_every_option_is_settable_from_a_sweep_file(tmp_path):
    values = _other_values()
    values["tracking_uri"] = f"sqlite:///{tmp_path / 'store.db'}"
    values["root"] = str(tmp_path / "data")
    lines = "\n".join(f"  {k}: {str(v).lower() if isinstance(v, bool) else v}" for k, v in values.items())
    path = tmp_path / "sweep.yaml"
    path.write_text(f"methods: [zeroshot]\ndatasets: [digits]\ntasks: [printed2sevenseg]\nrun:\n{lines}\n")
    (job,) = expand(load_sweep(path))
    assert job.run_options == RunOptions(**values)


def test_the_run_key_changes_with_the_options_that_change_numbers_only(tmp_path):
    base = tmp_path / "a.yaml"
    base.write_text("methods: [zeroshot]\ndatasets: [digits]\ntasks: [printed2sevenseg]\n")
    (plain,) = expand(load_sweep(base), f"sqlite:///{tmp_path / 's.db'}")
    keyed = {f.name for f in fields(RunOptions) if f.metadata["keyed"]}
    assert keyed == {"precision", "skip_bad_images", "source_holdout", "transductive"}
    # An option keyed "when set" leaves the keys of runs that do not use it as they were.
    assert RunOptions().keyed() == ["fp32", False]
    assert RunOptions(source_holdout=0.2).keyed() == ["fp32", False, {"source_holdout": 0.2}]
    for name, value in _other_values().items():
        other = tmp_path / f"{name}.yaml"
        rendered = str(value).lower() if isinstance(value, bool) else value
        other.write_text(base.read_text() + f"run: {{{name}: {rendered}}}\n")
        (job,) = expand(load_sweep(other), f"sqlite:///{tmp_path / 's.db'}")
        assert (job.key != plain.key) == (name in keyed), name


@pytest.mark.parametrize("changes, message", [
    ({"batch_size": 0}, "batch_size (--batch-size) must be at least 1, got 0"),
    ({"workers": -1}, "workers (--workers) must be at least 0, got -1"),
    ({"precision": "fp8"}, "precision must be one of ['fp32', 'bf16', 'fp16'], got 'fp8'"),
    ({"batch_size": "many"}, "batch_size must be int"),
])
def test_a_bad_option_names_itself(changes, message):
    with pytest.raises(ConfigError) as err:
        RunOptions(**changes)
    assert message in str(err.value)


def test_a_sweep_file_with_an_unknown_or_bad_run_option_fails_before_any_job(tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_text("methods: [zeroshot]\ndatasets: [digits]\nrun: {batchsize: 64}\n")
    with pytest.raises(SweepError, match="unknown run option 'batchsize'. Did you mean 'batch_size'"):
        load_sweep(path)
    path.write_text("methods: [zeroshot]\ndatasets: [digits]\nrun: {batch_size: 0}\n")
    with pytest.raises(SweepError, match="must be at least 1"):
        load_sweep(path)


def test_the_cli_refuses_a_zero_batch_size_naming_the_flag(capsys):
    from udabench.cli import main

    assert main(["run", "--method", "zeroshot", "--dataset", "digits", "--batch-size", "0"]) == 2
    assert "--batch-size" in capsys.readouterr().err


def test_a_sweep_skips_what_a_plain_run_finished(tmp_path, mlflow_uri, backbone_spec):
    """A plain ``udabench run`` carries the run key too, so a sweep of the same job skips it."""
    from udabench.protocol.runner import RUN_KEY_TAG, RunRequest, execute
    from udabench.sweep.jobs import FINISHED, job_states

    (record,) = execute(RunRequest(method="zeroshot", dataset="digits", tasks=["printed2sevenseg"],
                                   backbone=backbone_spec, options=RunOptions(progress=False, workers=0)),
                        echo=lambda line: None)
    path = tmp_path / "sweep.yaml"
    path.write_text(f"methods: [zeroshot]\ndatasets: [digits]\ntasks: [printed2sevenseg]\n"
                    f"backbones: ['{backbone_spec}']\nrun: {{batch_size: 64}}\n")
    (job,) = expand(load_sweep(path))
    state = job_states([job])[job.key]
    assert state.status == FINISHED and state.run_id == record.run_id
    from mlflow.tracking import MlflowClient

    assert MlflowClient(mlflow_uri).get_run(record.run_id).data.tags[RUN_KEY_TAG] == job.key


def test_a_run_uses_the_threads_it_was_given(monkeypatch):
    import torch
    from threadpoolctl import threadpool_info

    from udabench.protocol.options import cores_available
    from udabench.protocol.runner import use_threads

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert RunOptions().resolved_threads() == cores_available()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert RunOptions().resolved_threads() == 1
    assert RunOptions(threads=2).resolved_threads() == 2
    before = torch.get_num_threads()
    try:
        use_threads(1)
        assert torch.get_num_threads() == 1
        assert all(pool["num_threads"] == 1 for pool in threadpool_info())
    finally:
        use_threads(before)


@pytest.mark.parametrize("given, expected", [
    ({}, {"GOMP_SPINCOUNT": "10000"}),                       # udabench's bound on idle spinning
    ({"GOMP_SPINCOUNT": "300000"}, {"GOMP_SPINCOUNT": "300000"}),  # the user's own count stays
    ({"OMP_WAIT_POLICY": "PASSIVE"}, {"OMP_WAIT_POLICY": "PASSIVE"}),  # as does a wait policy
])
def test_openmp_spinning_is_bounded_unless_the_user_chose(given, expected):
    from udabench.protocol.options import OPENMP_SPINCOUNT, bound_openmp_spinning

    env = dict(given)
    bound_openmp_spinning(env)
    assert env == expected and OPENMP_SPINCOUNT == "10000"


def test_the_command_line_sets_the_bound_before_anything_imports_torch():
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    code = ("import contextlib, os, sys\n"
            "from udabench.cli import main\n"
            "with contextlib.suppress(SystemExit): main(['--version'])\n"
            "print(os.environ.get('GOMP_SPINCOUNT'), 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split()[-2:] == ["10000", "False"]  # set, and torch (libgomp) not yet loaded: it takes effect
