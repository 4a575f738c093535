"""ReCLIP's pseudo-labels: text-span projection, a k-NN graph and label propagation
(docs/methods.md, reclip; read in michiganleon/ReCLIP_WACV `LabelPropagationCluster`).

Nodes are the C class anchors followed by the N image features. The graph is kept
sparse (k entries per row before symmetrisation), so memory grows as N·k, not N²,
and a DomainNet-size target (≈50k images) fits on a laptop.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def text_span_projection(text_embeddings: torch.Tensor, cut_dim: int = 768) -> torch.Tensor:
    """P = U[:, 1:cut] · U[:, 1:cut]ᵀ, where W = U S Vᵀ and W (d x C) holds the class text embeddings. [docs/methods.md, reclip step 1]

    Dropping the first left-singular direction removes what all class embeddings share; the
    rest of their span is kept (``cut_dim`` caps it; the code uses 250 when C > 500).
    ``text_embeddings`` is (C, d), one row per class, as everywhere else in udabench.
    """
    u, _, _ = torch.linalg.svd(text_embeddings.T.float(), full_matrices=False)
    kept = u[:, 1:cut_dim]
    return kept @ kept.T


def knn_affinity(nodes: torch.Tensor, k: int = 20, chunk: int | None = None) -> torch.Tensor:
    """Sparse A_k: per row, the k largest of A = (Z Zᵀ + 1) / 2 off the diagonal, Z = normalize(nodes). [docs/methods.md, reclip step 2]

    Rows are processed ``chunk`` at a time (by default, as many as keep one block of
    similarities near 256 MB), so no dense n x n matrix is ever built.
    """
    z = F.normalize(nodes.float(), dim=-1)
    n = z.shape[0]
    chunk = chunk or max(64, 2**26 // n)
    k = min(k, n - 1)
    rows, cols, vals = [], [], []
    for start in range(0, n, chunk):
        sim = (z[start:start + chunk] @ z.T + 1) / 2
        idx = torch.arange(start, min(start + chunk, n))
        sim[idx - start, idx] = -1.0  # the diagonal is set to 0 in A; never pick it
        top, where = sim.topk(k, dim=1)
        rows.append(idx.repeat_interleave(k))
        cols.append(where.reshape(-1))
        vals.append(top.reshape(-1).clamp(min=0))
    indices = torch.stack([torch.cat(rows), torch.cat(cols)])
    return torch.sparse_coo_tensor(indices, torch.cat(vals), (n, n), check_invariants=False).coalesce()


def symmetric_normalized(affinity: torch.Tensor) -> torch.Tensor:
    """Ŵ = D^{-1/2} W D^{-1/2} with W = (A_k + A_kᵀ) / 2 and D = diag(W·1). [docs/methods.md, reclip step 2]"""
    w = ((affinity + affinity.t()) * 0.5).coalesce()
    degree = torch.sparse.sum(w, dim=1).to_dense()
    inv_sqrt = degree.clamp(min=1e-12).rsqrt()
    i, j = w.indices()
    return torch.sparse_coo_tensor(w.indices(), w.values() * inv_sqrt[i] * inv_sqrt[j], w.shape,
                                   check_invariants=False).coalesce()


def conjugate_gradient(matvec, b: torch.Tensor, maxiter: int = 20, tol: float = 1e-6) -> torch.Tensor:
    """Solve A x = b for a symmetric positive-definite A given as ``matvec``, every column of b at once."""
    x = torch.zeros_like(b)
    r = b - matvec(x)
    p = r.clone()
    rs = (r * r).sum(0)
    for _ in range(maxiter):
        ap = matvec(p)
        step = rs / (p * ap).sum(0).clamp(min=1e-20)
        x = x + step * p
        r = r - step * ap
        rs_new = (r * r).sum(0)
        if bool((rs_new.sqrt() < tol).all()):
            break
        p = r + (rs_new / rs.clamp(min=1e-20)) * p
        rs = rs_new
    return x


def label_propagation(anchors: torch.Tensor, features: torch.Tensor, projection: torch.Tensor | None = None,
                      k: int = 20, alpha: float = 0.99, maxiter: int = 20, tol: float = 1e-6):
    """Pseudo-labels of the N images: solve (I − α·Ŵ) f_c = y_c for every class c. [docs/methods.md, reclip step 3]

    y_c is one-hot on anchor node c. Returns (labels (N,), scores (N, C)).
    """
    nodes = torch.cat([anchors.float(), features.float()])
    if projection is not None:
        nodes = nodes @ projection
    w_hat = symmetric_normalized(knn_affinity(nodes, k))
    c, n = anchors.shape[0], nodes.shape[0]
    y = torch.zeros(n, c)
    y[torch.arange(c), torch.arange(c)] = 1.0
    f = conjugate_gradient(lambda x: x - alpha * torch.sparse.mm(w_hat, x), y, maxiter, tol)
    scores = f[c:]
    return scores.argmax(1), scores


def class_centroids(features: torch.Tensor, labels: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
    """normalize(mean of the features assigned to each class); a class with none keeps its previous
    anchor (the official code would produce NaN there). [docs/methods.md, reclip step 4]"""
    c = previous.shape[0]
    sums = torch.zeros(c, features.shape[1]).index_add_(0, labels, features.float())
    counts = torch.bincount(labels, minlength=c)
    out = previous.float().clone()
    has = counts > 0
    out[has] = F.normalize(sums[has] / counts[has, None], dim=-1)
    return out
