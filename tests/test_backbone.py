"""Backbones: real open_clip loading from files, the offline fast failure, prompt ensembling."""

from __future__ import annotations

import json
import time

import pytest
import torch
import torch.nn.functional as F

from udabench.contract.errors import UnknownNameError, WeightsUnavailableError
from udabench.contract.registry import get_registry
from udabench.model.weights import create_open_clip, hf_cli, split_spec

TINY_VIT = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8, "head_width": 32},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}


@pytest.fixture(scope="module")
def tiny_vit_checkpoint(tmp_path_factory):
    """A random-weight ViT CLIP registered with open_clip and saved as safetensors, as a user's
    own checkpoint would be."""
    import open_clip
    from safetensors.torch import save_file

    d = tmp_path_factory.mktemp("tinyvit")
    (d / "tiny-vit-test.json").write_text(json.dumps(TINY_VIT))
    open_clip.add_model_config(d / "tiny-vit-test.json")
    model = open_clip.create_model("tiny-vit-test")
    path = d / "weights.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return path, model


def test_spec_parsing():
    assert split_spec("ViT-B-16:openai") == ("ViT-B-16", "openai")
    assert split_spec("ViT-B-16:/w/a:b.safetensors") == ("ViT-B-16", "/w/a:b.safetensors")
    assert split_spec("hf-hub:org/repo") == ("hf-hub:org/repo", None)


def test_openclip_plugin_loads_any_architecture_from_a_checkpoint_file(tiny_vit_checkpoint):
    path, reference = tiny_vit_checkpoint
    spec = f"tiny-vit-test:{path}"
    assert get_registry().backbone_for(spec).name == "openclip"
    bb = get_registry().backbone_for(spec)().load(spec)
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(bb.encode_image(x, normalize=False), reference.eval().encode_image(x), atol=1e-5)
    assert bb.image_size == 32 and bb.embed_dim == 32 and len(bb.weights_id) == 16
    from PIL import Image

    assert bb.preprocess(Image.new("RGB", (50, 40))).shape == (3, 32, 32)


def test_toyclip_is_the_shipped_weights(toy_backbone):
    assert toy_backbone.spec == "toyclip" and toy_backbone.image_size == 32
    n = sum(p.numel() for p in toy_backbone.model.parameters())
    assert 2_000_000 < n < 3_000_000


def test_text_classifier_is_the_normalised_template_ensemble(toy_backbone):
    names, templates = ("zero", "one"), ("a photo of the digit {}.", "the number {}.")
    w = toy_backbone.text_classifier(names, templates)
    assert w.shape == (2, toy_backbone.embed_dim)
    assert torch.allclose(w.norm(dim=-1), torch.ones(2), atol=1e-5)
    with torch.no_grad():
        e = F.normalize(toy_backbone.encode_text(["a photo of the digit one.", "the number one."]), dim=-1)
    assert torch.allclose(w[1], F.normalize(e.mean(0), dim=-1), atol=1e-5)
    assert toy_backbone.text_classifier(names, templates) is w  # cached


def test_fresh_copies_do_not_share_weights(toy_backbone):
    a = toy_backbone.fresh_copy()
    with torch.no_grad():
        next(a.model.parameters()).add_(1.0)
    assert not torch.equal(next(a.model.parameters()), next(toy_backbone.model.parameters()))


def test_missing_pretrained_weights_fail_fast_offline(monkeypatch):
    """No cache (HF_HOME is empty) and no network: the error comes in seconds and says what to get."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    t0 = time.perf_counter()
    with pytest.raises(WeightsUnavailableError) as exc:
        create_open_clip("ViT-B-32:openai")
    assert time.perf_counter() - t0 < 10
    msg = str(exc.value)
    assert "timm/vit_base_patch32_clip_224.openai" in msg and "open_clip_model.safetensors" in msg
    assert f"{hf_cli()} download" in msg and "--backbone ViT-B-32:/path/to/" in msg


def test_hf_hub_offline_is_respected_at_once(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t0 = time.perf_counter()
    with pytest.raises(WeightsUnavailableError, match="cannot be reached"):
        create_open_clip("ViT-B-16:laion2b_s34b_b88k")
    assert time.perf_counter() - t0 < 2


def test_unknown_tags_and_files_are_named():
    with pytest.raises(UnknownNameError, match="Did you mean 'openai'"):
        create_open_clip("ViT-B-32:opena")
    with pytest.raises(WeightsUnavailableError, match="does not exist"):
        create_open_clip("ViT-B-32:/nowhere/weights.safetensors")
    with pytest.raises(WeightsUnavailableError, match="names no weights"):
        create_open_clip("ViT-B-32")
    with pytest.raises(WeightsUnavailableError, match="toyclip.pretrain"):
        get_registry().backbone_for("toyclip:/nowhere.safetensors")().load("toyclip:/nowhere.safetensors")
