"""ReCLIP's graph steps on examples small enough to check by hand."""

from __future__ import annotations

import torch

from udabench_plugins.methods.reclip_graph import (class_centroids, conjugate_gradient, knn_affinity,
                                                   label_propagation, symmetric_normalized, text_span_projection)


def test_projection_drops_the_shared_direction_on_a_3x2_example():
    # Class embeddings t1 = (3, 1, 0), t2 = (3, -1, 0): W Wᵀ = diag(18, 2, 0), so U = (e1, e2).
    # The shared direction e1 goes; the span keeps e2: P = diag(0, 1, 0).
    text = torch.tensor([[3.0, 1.0, 0.0], [3.0, -1.0, 0.0]])
    p = text_span_projection(text)
    assert torch.allclose(p, torch.diag(torch.tensor([0.0, 1.0, 0.0])), atol=1e-6)
    assert torch.allclose(torch.tensor([1.0, 2.0, 3.0]) @ p, torch.tensor([0.0, 2.0, 0.0]), atol=1e-6)


def test_affinity_keeps_k_per_row_without_the_diagonal():
    z = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.0]])
    a = knn_affinity(z, k=1).to_dense()
    # Row 0's nearest other node is node 2 at cos 45°: (cos + 1) / 2 = 0.853553.
    assert torch.allclose(a[0], torch.tensor([0.0, 0.0, 0.853553, 0.0]), atol=1e-5)
    assert (a.diagonal() == 0).all() and ((a > 0).sum(1) == 1).all()


def test_normalisation_is_symmetric_with_unit_spectral_radius():
    w = symmetric_normalized(knn_affinity(torch.randn(30, 5), k=4)).to_dense()
    assert torch.allclose(w, w.T, atol=1e-6)
    assert torch.linalg.eigvalsh(w).abs().max() <= 1 + 1e-5


def test_conjugate_gradient_matches_a_direct_solve():
    m = torch.randn(6, 6)
    a = m @ m.T + 6 * torch.eye(6)
    b = torch.randn(6, 2)
    x = conjugate_gradient(lambda v: a @ v, b, maxiter=50, tol=1e-10)
    assert torch.allclose(x, torch.linalg.solve(a, b), atol=1e-4)


def test_label_propagation_on_a_5_node_graph():
    # Two anchors (classes 0 and 1) and three images: two near anchor 0, one near anchor 1.
    anchors = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    images = torch.tensor([[0.9, 0.1], [1.0, 0.2], [0.1, 1.0]])
    labels, scores = label_propagation(anchors, images, k=2, alpha=0.5, maxiter=50, tol=1e-12)
    assert labels.tolist() == [0, 0, 1]
    # Against the closed form F = (I - αŴ)^{-1} Y on the same graph.
    nodes = torch.cat([anchors, images])
    w = symmetric_normalized(knn_affinity(nodes, k=2)).to_dense()
    y = torch.zeros(5, 2)
    y[0, 0] = y[1, 1] = 1
    assert torch.allclose(scores, torch.linalg.solve(torch.eye(5) - 0.5 * w, y)[2:], atol=1e-5)


def test_an_empty_class_keeps_its_previous_anchor():
    prev = torch.eye(3)
    feats = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 4.0]])
    out = class_centroids(feats, torch.tensor([0, 2]), prev)
    assert torch.allclose(out, torch.eye(3)) and not torch.isnan(out).any()


def test_the_graph_stays_sparse():
    a = knn_affinity(torch.randn(2000, 16), k=20, chunk=256)
    assert a.is_sparse and a._nnz() == 2000 * 20
