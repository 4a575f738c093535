"""DAPL's domain-aware prompt learner on a frozen open_clip text encoder (docs/methods.md, dapl).

For domain d and class c the text encoder reads

    [SOS] [v_1 … v_M1] [d_1 … d_M2] <classname>, a <domain> image.. [EOS]

v (M1 = ``n_ctx`` vectors) is shared by all classes and domains, or one set per
class with ``csc``; d (M2 = ``n_dmx`` vectors) is one set per domain. All are
initialised N(0, 0.02²) at the width of the text transformer. The literal suffix
", a <domain> image.." is in DAPL's code, not in the paper: ``suffix=False``
gives the paper's "[v][d]<classname>.". <domain> is the word the caller passes
(DAPL: the dataset's domain prompt word, e.g. "synthetic"). Only these vectors are
trained; the token embedding, transformer and projection stay frozen.

CoOp (``coop.py``) builds the same learner with one nameless domain and no domain vectors
(n_dmx = 0, no suffix): "[SOS] [v_1 … v_M] <classname>. [EOS]". Two options serve it, and
leave DAPL's prompts as they are by default: ``ctx_init`` starts the shared context from the
token embeddings of a phrase (CoOp's ``CTX_INIT``, e.g. "a photo of a"; M becomes its token
count), and ``class_token_position`` moves the class name to the ``middle`` of the learned
vectors (after the first ⌊n_ctx/2⌋) or to their ``front`` (CoOp's ``CLASS_TOKEN_POSITION``;
``end``, the default, is the layout above).

Works with any open_clip ``CLIP`` whose text tower is open_clip's own
transformer (OpenAI and LAION RN/ViT models, the toy model), whatever the image
tower; models with a Hugging Face text tower (``CustomTextCLIP``) are refused.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

PLACEHOLDER = "X"
#: Where the class name goes relative to the learned vectors (CoOp's ``CLASS_TOKEN_POSITION``).
POSITIONS = ("end", "middle", "front")


def encode_text_embeddings(model, embeddings: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """open_clip's ``CLIP.encode_text`` from token embeddings instead of token ids.

    ``tokens`` only locate the end-of-text token (the pooled position), exactly as
    ``encode_text`` does.
    """
    from open_clip.transformer import text_global_pool

    cast = model.transformer.get_cast_dtype()
    x = embeddings.to(cast) + model.positional_embedding.to(cast)
    x = model.transformer(x, attn_mask=model.attn_mask)
    x = model.ln_final(x)
    x = text_global_pool(x, tokens, model.text_pool_type, eos_token_id=getattr(model, "text_eos_id", None))
    if model.text_projection is not None:
        x = model.text_projection(x) if isinstance(model.text_projection, nn.Linear) else x @ model.text_projection
    return x


def prompt_texts(class_names: Sequence[str], domain_names: Sequence[str], n_learned: int,
                 suffix: bool) -> list[str]:
    """The prompts as text, one placeholder word per learned vector, domain-major."""
    placeholder = " ".join([PLACEHOLDER] * n_learned)
    return [f"{placeholder} {c}, a {d} image.." if suffix else f"{placeholder} {c}."
            for d in domain_names for c in class_names]


def overlong_prompts(tokenizer, prompts: Sequence[str], context_length: int) -> list[tuple[str, int]]:
    """(prompt, tokens it needs) for every prompt that does not fit ``context_length`` tokens
    with its start- and end-of-text tokens."""
    needed = [(p, len(tokenizer.encode(p)) + 2) for p in prompts]
    return [(p, n) for p, n in needed if n > context_length]


def phrase_embeddings(model, tokenizer, phrase: str) -> torch.Tensor:
    """(M, width): the token embeddings of ``phrase`` without its start and end tokens, M its token
    count (CoOp's ``CTX_INIT``: "a photo of a" gives the 4 vectors of "a", "photo", "of", "a")."""
    n = len(tokenizer.encode(phrase))
    if n == 0:
        raise ValueError(f"ctx_init {phrase!r} has no token")
    tokens = tokenizer([phrase]).to(model.token_embedding.weight.device)
    with torch.no_grad():
        return model.token_embedding(tokens)[0, 1:1 + n].detach().clone().float()


def class_token_order(name_lens: Sequence[int], n_ctx: int, n_dmx: int, length: int, position: str) -> torch.Tensor:
    """(P, length) indices into each prompt of the "end" layout, [SOS] [learned] [name] [rest],
    that rearrange it as CoOp's ``CLASS_TOKEN_POSITION`` does (``name_lens``: each class name's
    token count; h = ⌊n_ctx/2⌋):

        middle: [SOS] [learned_1 … learned_h] [name] [learned_h+1 …] [rest]
        front:  [SOS] [name] [learned …] [rest]

    The end-of-text token keeps its place, so the pooled position does not move."""
    n = n_ctx + n_dmx
    rows = []
    for name_len in name_lens:
        learned, name = list(range(1, 1 + n)), list(range(1 + n, 1 + n + name_len))
        if position == "middle":
            h = n_ctx // 2
            body = learned[:h] + name + learned[h:]
        elif position == "front":
            body = name + learned
        else:
            body = learned + name
        rows.append([0] + body + list(range(1 + n + name_len, length)))
    return torch.tensor(rows, dtype=torch.long)


class DomainPromptLearner(nn.Module):
    """Learnable context for ``len(domains)`` x C prompts; ``forward()`` returns their normalised
    text features, domain-major: rows [d·C, (d+1)·C) belong to ``domains[d]``."""

    def __init__(self, model, tokenizer, class_names: Sequence[str], domain_names: Sequence[str],
                 n_ctx: int = 16, n_dmx: int = 16, csc: bool = False, suffix: bool = True, init_std: float = 0.02,
                 ctx_init: str = "", class_token_position: str = "end"):
        super().__init__()
        if not hasattr(model, "token_embedding") or not hasattr(model, "transformer"):
            raise TypeError("DAPL's prompt learner needs an open_clip CLIP with its own text transformer; "
                            f"{type(model).__name__} has a different text tower")
        if class_token_position not in POSITIONS:
            raise ValueError(f"class_token_position must be one of {POSITIONS}, got {class_token_position!r}")
        self.model = model
        width = model.token_embedding.weight.shape[1]
        if ctx_init:  # CoOp: one shared context, whatever ``csc`` says (as CoOp's code does)
            init = phrase_embeddings(model, tokenizer, ctx_init)
            n_ctx = init.shape[0]
            self.ctx = nn.Parameter(init)
        else:
            ctx_shape = (len(class_names), n_ctx, width) if csc else (n_ctx, width)
            self.ctx = nn.Parameter(torch.randn(ctx_shape) * init_std)
        self.n_cls, self.n_dom, self.n_ctx, self.n_dmx = len(class_names), len(domain_names), n_ctx, n_dmx
        self.domain_vectors = nn.Parameter(torch.randn(self.n_dom, n_dmx, width) * init_std)
        prompts = prompt_texts(class_names, domain_names, n_ctx + n_dmx, suffix)
        tokens = tokenizer(prompts)
        self._check_fits(tokenizer, prompts, tokens, n_ctx + n_dmx)
        device = model.token_embedding.weight.device
        tokens = tokens.to(device)
        with torch.no_grad():
            emb = model.token_embedding(tokens)
        self.register_buffer("tokens", tokens, persistent=False)
        self.register_buffer("prefix", emb[:, :1].clone(), persistent=False)
        self.register_buffer("suffix", emb[:, 1 + n_ctx + n_dmx:].clone(), persistent=False)
        order = None
        if class_token_position != "end":  # positions of the "end" layout, per class, in the wanted order
            name_lens = [len(tokenizer.encode(c)) for c in class_names] * self.n_dom
            order = class_token_order(name_lens, n_ctx, n_dmx, tokens.shape[1], class_token_position)
            order = order.to(device)
        self.register_buffer("order", order, persistent=False)

    @staticmethod
    def _check_fits(tokenizer, prompts, tokens, n_learned):
        """Every prompt must fit the context untruncated, with one token per placeholder."""
        ctx_len = tokens.shape[1]
        for prompt, needed in overlong_prompts(tokenizer, prompts, ctx_len):
            raise ValueError(f"prompt {prompt!r} needs {needed} of the text encoder's {ctx_len} tokens: "
                             f"lower n_ctx/n_dmx or turn the domain suffix off")
        if not bool((tokens[:, 1:1 + n_learned] == tokens[0, 1]).all()):
            raise ValueError(f"{PLACEHOLDER!r} does not map to one token per learned vector")

    def learned_parameters(self) -> list[nn.Parameter]:
        return [self.ctx, self.domain_vectors]

    def prompt_embeddings(self) -> torch.Tensor:
        """(D·C, L, width): [SOS] + ctx + domain vectors + the frozen class-name/suffix embeddings."""
        if self.ctx.dim() == 2:
            ctx = self.ctx.unsqueeze(0).expand(self.n_dom * self.n_cls, -1, -1)
        else:
            ctx = self.ctx.repeat(self.n_dom, 1, 1)
        dom = self.domain_vectors.repeat_interleave(self.n_cls, dim=0)
        prompts = torch.cat([self.prefix, ctx, dom, self.suffix], dim=1)
        if self.order is not None:  # the class name moved to the middle or the front
            prompts = prompts.gather(1, self.order.unsqueeze(-1).expand(-1, -1, prompts.shape[-1]))
        return prompts

    def forward(self) -> torch.Tensor:
        return F.normalize(encode_text_embeddings(self.model, self.prompt_embeddings(), self.tokens), dim=-1)
