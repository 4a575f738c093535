"""DAPL's prompt learner: identical to encode_text at init, trains only its vectors, any tower."""

from __future__ import annotations

import pytest
import torch

from udabench_plugins.methods.prompt_learner import DomainPromptLearner, encode_text_embeddings

CLASSES = ("zero", "one", "two")
DOMAINS = ("printed", "handwritten")


def test_encoding_embeddings_equals_encode_text(toy_backbone):
    model = toy_backbone.model
    tokens = toy_backbone.tokenize(["a photo of the digit two.", "the number one."])
    with torch.no_grad():
        ours = encode_text_embeddings(model, model.token_embedding(tokens), tokens)
        theirs = model.encode_text(tokens)
    assert torch.allclose(ours, theirs, atol=1e-5)


@pytest.mark.parametrize("csc", [False, True])
def test_only_the_context_vectors_receive_gradients(toy_backbone, csc):
    bb = toy_backbone.fresh_copy()
    for p in bb.model.parameters():
        p.requires_grad_(False)
    learner = DomainPromptLearner(bb.model, bb.tokenizer, CLASSES, DOMAINS, n_ctx=2, n_dmx=2, csc=csc, suffix=False)
    text = learner()
    assert text.shape == (len(DOMAINS) * len(CLASSES), bb.embed_dim)
    text[:len(CLASSES)].sum().backward()  # source-domain rows only
    assert learner.ctx.grad is not None and learner.ctx.grad.abs().sum() > 0
    assert learner.domain_vectors.grad[0].abs().sum() > 0 and learner.domain_vectors.grad[1].abs().sum() == 0
    assert all(p.grad is None for p in bb.model.parameters())
    assert learner.ctx.shape == ((len(CLASSES), 2, 96) if csc else (2, 96))


def test_domains_and_classes_give_distinct_prompts(toy_backbone):
    learner = DomainPromptLearner(toy_backbone.model, toy_backbone.tokenizer, CLASSES, DOMAINS, n_ctx=2, n_dmx=2)
    with torch.no_grad():
        text = learner()
    sims = text @ text.T
    assert torch.allclose(sims.diag(), torch.ones(len(sims)), atol=1e-5)
    assert not torch.allclose(text[0], text[len(CLASSES)])  # same class, other domain


def test_a_prompt_longer_than_the_context_is_refused(toy_backbone):
    with pytest.raises(ValueError, match="lower n_ctx"):
        DomainPromptLearner(toy_backbone.model, toy_backbone.tokenizer, CLASSES, DOMAINS, n_ctx=16, n_dmx=16)


def test_works_with_a_vit_text_and_image_tower(tmp_path):
    import json

    import open_clip

    cfg = {"embed_dim": 32, "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8,
                                           "head_width": 32},
           "text_cfg": {"context_length": 40, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2}}
    (tmp_path / "pl-vit.json").write_text(json.dumps(cfg))
    open_clip.add_model_config(tmp_path / "pl-vit.json")
    model = open_clip.create_model("pl-vit")
    tok = open_clip.get_tokenizer("pl-vit")
    learner = DomainPromptLearner(model, tok, CLASSES, DOMAINS, n_ctx=4, n_dmx=4, suffix=True)
    assert learner().shape == (6, 32)
