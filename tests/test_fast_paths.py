"""The run's fast paths, each exercised on the CPU: mixed precision, channels-last,
torch.compile, inference mode, pinned memory, cuDNN autotuning, warm-up-free throughput."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from udabench import RunContext
from udabench.model.fast_paths import configure_backends, is_compiled, prepare_model, wants_channels_last
from udabench.protocol.measure import ThroughputMeter


def run(method="zeroshot", **kw):
    from udabench.protocol.options import RunOptions
    from udabench.protocol.runner import RunRequest, execute

    sets = kw.pop("sets", {})
    req = RunRequest(method=method, dataset="digits", tasks=["printed2dotmatrix"], seeds=[0], backbone="toyclip",
                     set_pairs=sets, options=RunOptions(progress=False, cache=False, **kw))
    (rec,) = execute(req, echo=lambda s: None)
    return rec.result.metrics


@pytest.fixture(scope="module")
def fp32_top1(tmp_path_factory, _mlflow_template):
    import os
    import shutil

    db = tmp_path_factory.mktemp("fp32") / "m.db"
    shutil.copy(_mlflow_template, db)
    old = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{db}"
    try:
        return run()["top1"]
    finally:
        os.environ["MLFLOW_TRACKING_URI"] = old


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_runs_on_cpu_and_scores_like_fp32(precision, fp32_top1, mlflow_uri):
    top1 = run(precision=precision)["top1"]
    assert abs(top1 - fp32_top1) < 1.0, (precision, top1, fp32_top1)


def test_fp16_training_step_scales_and_learns():
    ctx = RunContext(device="cpu", seed=0, precision="fp16", show_progress=False)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    x, y = torch.randn(64, 8), (torch.arange(64) % 2)
    x[y == 1] += 1.0
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    losses = []
    for _ in range(30):
        with ctx.autocast():
            loss = torch.nn.functional.cross_entropy(model(x), y)
        ctx.step(loss, opt)
        losses.append(loss.item())
    assert ctx._scaler.is_enabled() and ctx._scaler.get_scale() > 1.0
    assert all(np.isfinite(losses)) and losses[-1] < 0.6 * losses[0]


def test_channels_last_gives_the_same_top1(fp32_top1, mlflow_uri):
    assert abs(run(channels_last="on")["top1"] - fp32_top1) < 0.5


def test_channels_last_memory_format_and_auto_choice(toy_backbone):
    b = toy_backbone.fresh_copy()
    prepare_model(b.model, channels_last=True, compile=False)
    conv = next(m for m in b.model.visual.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    ctx = RunContext(device="cpu", seed=0, channels_last=True)
    assert ctx.to_device(torch.zeros(2, 3, 8, 8)).is_contiguous(memory_format=torch.channels_last)
    assert ctx.to_device(torch.zeros(2, 3)).shape == (2, 3)  # other tensors pass unchanged

    class ViTLike(torch.nn.Module):  # one convolution: the patch embedding
        def __init__(self):
            super().__init__()
            self.visual = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 16, 16), torch.nn.Flatten(),
                                              torch.nn.Linear(4, 4))

    assert wants_channels_last("auto", "cuda", lambda: b.model)  # toyclip's image tower is a small ResNet
    assert not wants_channels_last("auto", "cuda", ViTLike)
    assert not wants_channels_last("auto", "cpu", lambda: b.model)
    assert wants_channels_last("on", "cpu", ViTLike) and not wants_channels_last("off", "cuda", lambda: b.model)


def test_compile_runs_on_cpu_and_copies_compute_with_their_own_weights(toy_backbone, fp32_top1, mlflow_uri):
    b = toy_backbone.fresh_copy()
    prepare_model(b.model, channels_last=False, compile=True)
    assert is_compiled(b.model)
    x = torch.randn(4, 3, b.image_size, b.image_size)
    with torch.inference_mode():
        reference = toy_backbone.model.encode_image(x)
        compiled = b.model.encode_image(x)
    assert torch.allclose(compiled, reference, atol=1e-4)
    copy = b.fresh_copy()
    assert is_compiled(copy.model)
    with torch.no_grad():
        for p in copy.model.visual.parameters():
            p.zero_()
    with torch.inference_mode():
        assert not torch.allclose(copy.model.encode_image(x), compiled), "the copy ran the original's weights"
    metrics = run(compile=True)
    assert abs(metrics["top1"] - fp32_top1) < 0.5


def test_cudnn_benchmark_only_on_cuda():
    before = torch.backends.cudnn.benchmark
    try:
        torch.backends.cudnn.benchmark = False
        configure_backends("cpu")
        assert torch.backends.cudnn.benchmark is False
        configure_backends("cuda")
        assert torch.backends.cudnn.benchmark is True
    finally:
        torch.backends.cudnn.benchmark = before


def test_pinned_memory_and_non_blocking_only_on_cuda(monkeypatch):
    data = torch.utils.data.TensorDataset(torch.zeros(4, 2))
    assert RunContext(device="cuda", seed=0).loader(data, 2).pin_memory
    assert not RunContext(device="cpu", seed=0).loader(data, 2).pin_memory
    calls = []
    real_to = torch.Tensor.to

    def spy(self, *args, **kw):
        calls.append(kw.get("non_blocking"))
        return real_to(self, "cpu")

    monkeypatch.setattr(torch.Tensor, "to", spy)
    RunContext(device="cuda", seed=0).to_device(torch.zeros(1))
    RunContext(device="cpu", seed=0).to_device(torch.zeros(1))
    assert calls == [True, False]


def test_evaluation_runs_in_inference_mode(toy_backbone):
    from udabench import ImageList, ImageSource
    from udabench.protocol.task import predict

    seen = []

    def classifier(x):
        seen.append(torch.is_inference_mode_enabled())
        return torch.zeros(len(x), 3)

    images = ImageList(ImageSource(array=np.zeros((5, 32, 32, 3), np.uint8)), np.zeros(5), 3)
    ctx = RunContext(device="cpu", seed=0, show_progress=False, eval_batch_size=2)
    predict(classifier, images, toy_backbone, ctx, ThroughputMeter())
    assert seen == [True, True, True]


def test_throughput_leaves_out_the_warm_up_batch():
    def loader():
        for i in range(5):
            time.sleep(0.3 if i == 0 else 0.0)  # a slow first batch (as compile or cuDNN tuning make it)
            yield torch.zeros(10, 1)

    meter = ThroughputMeter()
    meter.start()
    for _ in meter.iterate(loader()):
        time.sleep(0.02)
    meter.stop()
    overall = meter.images / meter.wall_s
    assert meter.images == 50 and meter.wall_s > 0.35
    assert meter.images_per_s > 2 * overall  # 40 images in ~0.08 s vs 50 in ~0.4 s
    single = ThroughputMeter()
    single.start()
    for _ in single.iterate([torch.zeros(4, 1)]):
        pass
    single.stop()
    assert single.images_per_s == pytest.approx(4 / single.wall_s)  # nothing after the warm-up: all of it
