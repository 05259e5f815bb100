"""The stateless zero-sum game of paper 000, Appendix C, through the real chain unrolling.

V^i = phi_i phi_j, V^j = -phi_i phi_j, inner learning rate alpha = 0.75. With chain length 1:
Meta-MAPG's meta-gradient is phi_j' - alpha phi_i' (Eq. 18), Meta-PG's is phi_j' (Eq. 20),
primes denoting the parameters after one inner step. Vectors of phi hold many independent
games at once.
"""

import itertools

import pytest
import torch

from rllib_meta.algorithms.meta_mapg.chain import NO_GRAPH, LearningTerms, StepResult, unroll_chain

ALPHA = 0.75


def zero_sum_objectives(step, agent_params, peer_params):
    product = agent_params["phi"] * peer_params[0]
    return StepResult(product.sum(), [(-product).sum()])


def meta_gradient(phi_i: torch.Tensor, phi_j: torch.Tensor, terms: LearningTerms):
    agent = {"phi": phi_i.clone().requires_grad_(True)}
    peer = [phi_j.clone().requires_grad_(True)]
    chain = unroll_chain(agent, peer, zero_sum_objectives, torch.tensor([ALPHA]), ALPHA, 1, terms)
    phi_i1, phi_j1 = chain.agent_params[1]["phi"], chain.peer_params[1][0]
    meta_value = (phi_i1 * phi_j1).sum()  # Eq. 16
    (gradient,) = torch.autograd.grad(meta_value, agent["phi"])
    return gradient, phi_i1.detach(), phi_j1.detach()


def test_closed_form_meta_gradients():
    phi_i = torch.tensor([0.3, -0.8, 0.5], dtype=torch.float64)
    phi_j = torch.tensor([-0.2, 0.9, 0.4], dtype=torch.float64)
    mapg, phi_i1, phi_j1 = meta_gradient(phi_i, phi_j, LearningTerms(True, True))
    torch.testing.assert_close(phi_i1, phi_i + ALPHA * phi_j)  # Eq. 17
    torch.testing.assert_close(phi_j1, phi_j - ALPHA * phi_i)
    torch.testing.assert_close(mapg, phi_j1 - ALPHA * phi_i1)  # Eq. 18
    meta_pg, _, _ = meta_gradient(phi_i, phi_j, LearningTerms(True, False))
    torch.testing.assert_close(meta_pg, phi_j1)  # Eq. 20
    no_own, _, _ = meta_gradient(phi_i, phi_j, LearningTerms(False, True))
    torch.testing.assert_close(no_own, -ALPHA * phi_i1)  # only the peer-learning path


def test_expected_updates_drive_phi_i_to_zero_at_different_rates():
    # With a fresh phi_j ~ U[-1, 1] per meta-iteration: E[grad] = -2 alpha phi_i (Meta-MAPG)
    # and -alpha phi_i (Meta-PG): Eqs. 18 and 20 averaged over phi_j (E[phi_j] = 0).
    generator = torch.Generator().manual_seed(0)
    phi_j = torch.rand(200_000, generator=generator, dtype=torch.float64) * 2 - 1
    phi_i = torch.full_like(phi_j, 0.5)
    mapg, _, _ = meta_gradient(phi_i, phi_j, LearningTerms(True, True))
    meta_pg, _, _ = meta_gradient(phi_i, phi_j, LearningTerms(True, False))
    assert abs(mapg.mean().item() - (-2 * ALPHA * 0.5)) < 0.005
    assert abs(meta_pg.mean().item() - (-ALPHA * 0.5)) < 0.005


def test_naive_learning_spirals_outward():
    # Without meta-learning, the chain itself is simultaneous gradient ascent: each step
    # multiplies |phi|^2 by 1 + alpha^2 (paper 001, App. F).
    agent = {"phi": torch.tensor([0.3], dtype=torch.float64, requires_grad=True)}
    peer = [torch.tensor([0.4], dtype=torch.float64, requires_grad=True)]
    chain = unroll_chain(
        agent, peer, zero_sum_objectives, torch.full((6,), ALPHA), ALPHA, 6, NO_GRAPH
    )
    norms = [
        (a["phi"] ** 2 + p[0] ** 2).item()
        for a, p in zip(chain.agent_params, chain.peer_params, strict=True)
    ]
    for before, after in itertools.pairwise(norms):
        assert after == pytest.approx(before * (1 + ALPHA**2), rel=1e-12)
