"""The shipped suites (a seed paper's whole table as one sweep file) and the suite table: datasets
as columns, with the published rows beside."""

from __future__ import annotations

import pytest

from udabench.sweep.jobs import FINISHED, MISSING, Job, JobState, SweepError
from udabench.sweep.report import reference_rows, suite_table
from udabench.sweep.spec import expand, load_sweep
from udabench.sweep.suites import suite_names, suite_path, suite_summary


def test_the_suites_are_shipped_and_found_by_name():
    assert {"dac-fewshot", "dac-robustness"} <= set(suite_names())
    assert "DAC" in suite_summary("dac-fewshot")
    with pytest.raises(SweepError, match="unknown suite 'dac-fewshoot'. Did you mean 'dac-fewshot'"):
        suite_path("dac-fewshoot")


def test_dac_fewshot_expands_to_the_whole_table():
    jobs = expand(load_sweep(suite_path("dac-fewshot")), "sqlite:////tmp/unused.db")
    datasets = {j.dataset for j in jobs}
    assert len(datasets) == 11 and "imagenet" in datasets
    assert {j.task for j in jobs if j.dataset == "imagenet"} == {"imagenet"}
    trained = [j for j in jobs if j.method != "zeroshot"]
    assert {j.method for j in trained} == {"coop", "tip-adapter-f", "dac", "fewshot-probe"}
    assert {j.grid_point["shots"] for j in trained} == {1, 2, 4, 8, 16}
    assert {j.seed for j in trained} == {1, 2, 3} and {j.backbone for j in jobs} == {"RN50:openai"}
    # 4 methods x 5 shot counts x 3 seeds x 11 datasets, and zero-shot once per dataset (seed-independent)
    assert len(trained) == 4 * 5 * 3 * 11 and len(jobs) - len(trained) == 11


def test_dac_robustness_scores_the_four_shifts_at_16_shots():
    jobs = expand(load_sweep(suite_path("dac-robustness")), "sqlite:////tmp/unused.db")
    assert {j.task for j in jobs} == {"imagenet", "imagenet-v2", "imagenet-sketch", "imagenet-a", "imagenet-r"}
    assert {j.set_pairs.get("shots") for j in jobs if j.method != "zeroshot"} == {16}


def _job(method, dataset, seed, shots=None):
    return Job(sweep="s", index=0, method=method, dataset=dataset, task=dataset, seed=seed, backbone="RN50:openai",
               config_hash=f"{dataset}-cfg", grid_point={"shots": shots} if shots else {})


def test_the_suite_table_has_a_column_per_dataset_and_the_papers_rows():
    jobs = [_job("coop", d, s, 16) for d in ("caltech101", "dtd") for s in (1, 2)] + [_job("coop", "dtd", 3, 16)]
    states = {j.key: JobState(FINISHED, metrics={"top1": 90.0 + j.seed}) for j in jobs}
    states[jobs[-1].key] = JobState(MISSING)
    header, rows = suite_table(jobs, states, None)
    assert header[:5] == ["method", "backbone", "caltech101", "dtd", "avg"]
    coop = rows[0]
    assert coop[0] == "coop [shots=16]" and coop[2] == "91.5 ± 0.7" and coop[3] == "91.5 ± 0.7"
    assert coop[4] == "91.5" and coop[6:] == ["4", "0", "1"]
    papers = {r[0]: r for r in rows[1:]}
    published = papers["CoOp 16-shot [paper; selection: last]"]
    assert published[2:5] == ["91.83", "63.58", "77.7"]  # CoOp's spreadsheet: Caltech101, DTD, their mean
    assert len(published) == len(header)


def test_reference_rows_of_imagenet_put_the_shifts_in_their_columns():
    columns = ["imagenet", "imagenet-v2", "imagenet-sketch", "imagenet-a", "imagenet-r"]
    rows = {r[0]: r for r in reference_rows(["imagenet"], columns, 2 + len(columns) + 1)}
    tip = rows["Tip-Adapter-F 16-shot (shifts) [paper; selection: oracle]"]
    assert tip[2:5] == ["65.51", "57.11", "36.00"] and tip[5:7] == ["", ""] and tip[7] == "52.9*"


def test_reclip_22_runs_reclip_transductively_on_22_datasets():
    jobs = expand(load_sweep(suite_path("reclip-22")), "sqlite:////tmp/unused.db")
    assert len({j.dataset for j in jobs}) == 22
    assert {j.method for j in jobs} == {"zeroshot", "reclip"} and {j.seed for j in jobs} == {0}
    assert all(j.run_options.transductive for j in jobs) and {j.backbone for j in jobs} == {"ViT-L-14:openai"}


def test_a_suite_s_published_average_is_its_own_row():
    from udabench.sweep.report import suite_reference_rows

    rows = suite_reference_rows("reclip-22", ["cifar10", "mnist"], 9)
    assert [r[0] for r in rows] == ["CLIP [paper; selection: none]", "ReCLIP [paper; selection: oracle]"]
    assert rows[1][2:5] == ["", "", "74.94"] and len(rows[1]) == 9
