"""MRA's losses (paper 002, Eqs. 8-9 and 11-13) on hand-built batches, values worked out by
hand in each test."""

import math

import pytest
import torch

from rllib_meta.algorithms.mra import losses


def test_soft_q_target_by_hand():
    # Transition 0: pi_bar(o') = (1/2, 1/2), Q_bar(o', .) = (1, 3), r = 1, not done.
    # Transition 1: pi_bar(o') = (3/4, 1/4), Q_bar(o', .) = (2, -2), r = 0.5, not done.
    # Transition 2: as 1 but terminated (a caught Pac-Man): y = r.
    next_logits = torch.tensor([[0.0, 0.0], [math.log(3.0), 0.0], [math.log(3.0), 0.0]])
    next_q = torch.tensor([[1.0, 3.0], [2.0, -2.0], [2.0, -2.0]], requires_grad=True)
    rewards = torch.tensor([1.0, 0.5, -1.0])
    terminated = torch.tensor([False, False, True])
    gamma, alpha = 0.9, 0.5
    y = losses.soft_q_target(rewards, terminated, next_logits, next_q, gamma, alpha)

    v0 = 0.5 * (1 - alpha * math.log(0.5)) + 0.5 * (3 - alpha * math.log(0.5))  # 2 + log(2)/2
    v1 = 0.75 * (2 - alpha * math.log(0.75)) + 0.25 * (-2 - alpha * math.log(0.25))
    expected = [1 + gamma * v0, 0.5 + gamma * v1, -1.0]
    assert y.tolist() == pytest.approx(expected, abs=1e-6)
    assert v0 == pytest.approx(2 + math.log(2) / 2)
    assert not y.requires_grad


def test_soft_state_value_without_entropy_is_the_expected_q():
    logits, q = torch.tensor([math.log(3.0), 0.0]), torch.tensor([2.0, -2.0])
    assert float(losses.soft_state_value(logits, q, alpha=0.0)) == pytest.approx(1.0)


def test_critic_loss_by_hand():
    q_values = torch.tensor([[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]], requires_grad=True)
    actions = torch.tensor([1, 0, 1])
    targets = torch.tensor([1.5, 1.0, 0.0], requires_grad=True)
    mask = torch.tensor([True, True, False])  # the third is padding: its 1e4 error is ignored
    loss = losses.critic_loss(q_values, actions, targets, mask)
    assert float(loss.detach()) == pytest.approx((0.5**2 + 2.0**2) / 2)
    loss.backward()
    # d/dQ(o, a) of the mean squared error: 2 (Q - y) / 2 on the taken actions only.
    assert q_values.grad.tolist() == [[0.0, 0.5], [2.0, 0.0], [0.0, 0.0]]
    assert targets.grad is None


def test_soft_advantages_by_hand():
    logits, q = torch.tensor([math.log(3.0), 0.0]), torch.tensor([2.0, -2.0])
    assert losses.soft_advantages(logits, q).tolist() == pytest.approx([1.0, -3.0])


@pytest.mark.parametrize("alpha", [0.0, 0.3])
def test_policy_loss_moves_towards_the_action_with_the_higher_advantage(alpha):
    # Uniform policy over 2 actions, Q = (1, 0): A = (1/2, -1/2). The loss' gradient in the
    # logits is -pi_k A_k = (-1/4, 1/4) (the entropy term's is 0 at the uniform policy), so
    # gradient descent raises the better action's logit.
    logits = torch.zeros(1, 2, requires_grad=True)
    q_values = torch.tensor([[1.0, 0.0]], requires_grad=True)
    loss = losses.policy_loss(logits, q_values, alpha)
    assert float(loss.detach()) == pytest.approx(alpha * math.log(0.5))
    loss.backward()
    torch.testing.assert_close(logits.grad, torch.tensor([[-0.25, 0.25]]))
    assert q_values.grad is None


def test_policy_loss_entropy_term_pulls_towards_uniform():
    # Equal Q values: only the entropy term acts; its gradient in logit k is
    # alpha pi_k (log pi_k + H(pi)), positive for the likelier action.
    logits = torch.tensor([[1.0, 0.0]], requires_grad=True)
    alpha = 0.5
    losses.policy_loss(logits, torch.zeros(1, 2), alpha).backward()
    pi = torch.softmax(logits.detach(), -1)[0]
    entropy = -(pi * pi.log()).sum()
    expected = alpha * pi * (pi.log() + entropy)
    torch.testing.assert_close(logits.grad[0], expected)
    assert logits.grad[0, 0] > 0 > logits.grad[0, 1]


def test_sampled_policy_loss_has_the_expected_gradient_of_policy_loss():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 5, generator=generator, requires_grad=True)
    q_values = torch.randn(3, 5, generator=generator)
    alpha = 0.3
    (expected,) = torch.autograd.grad(losses.policy_loss(logits, q_values, alpha), logits)
    pi = torch.softmax(logits.detach(), -1)
    average = torch.zeros_like(logits)
    for a in range(5):
        actions = torch.full((3,), a)
        (grad,) = torch.autograd.grad(
            losses.sampled_policy_loss(logits, q_values, actions, alpha), logits
        )
        average += pi[:, a : a + 1] * grad
    torch.testing.assert_close(average, expected)


def test_masked_entries_change_no_loss():
    logits = torch.randn(4, 5)
    q_values = torch.randn(4, 5)
    mask = torch.tensor([True, False, True, False])
    garbage_logits, garbage_q = logits.clone(), q_values.clone()
    garbage_logits[~mask] = 1e6
    garbage_q[~mask] = -1e6
    for loss in (
        lambda lg, q: losses.policy_loss(lg, q, 0.1, mask),
        lambda lg, q: losses.sampled_policy_loss(lg, q, torch.tensor([0, 1, 2, 3]), 0.1, mask),
        lambda lg, q: losses.critic_loss(q, torch.tensor([0, 1, 2, 3]), lg[:, 0], mask),
    ):
        assert float(loss(logits, q_values)) == pytest.approx(
            float(loss(garbage_logits, garbage_q))
        )
    assert float(losses.masked_mean(torch.tensor([1.0, float("nan"), 3.0]), mask[:3])) == 2.0
    assert float(losses.masked_mean(torch.ones(3), torch.zeros(3, dtype=torch.bool))) == 0.0


# -- Eq. 11: the contrastive bound of I(g; a | o) ---------------------------------------------


def policy_family(num_latents: int, num_actions: int, eps: float) -> torch.Tensor:
    """``log pi(a | z)`` ``(|Z|, A)``: action ``z`` with probability ``1 - eps``, the rest
    share ``eps`` (``eps = 0``: deterministic, distinct per latent)."""
    probs = torch.full((num_latents, num_actions), eps / (num_actions - 1), dtype=torch.float64)
    probs.fill_diagonal_(1.0 - eps)
    return probs.log()


def test_a_policy_that_ignores_g_has_zero_mutual_information():
    log_probs = torch.log_softmax(torch.randn(7, 5, dtype=torch.float64), -1)  # pi(a | o)
    actions = torch.randint(5, (7,))
    taken = log_probs.gather(-1, actions[:, None]).squeeze(-1)
    resampled = taken.expand(5, 7)  # pi(a | o, g'_j) = pi(a | o) for every g'_j
    torch.testing.assert_close(
        losses.contrastive_mi(taken, resampled), torch.zeros(7, dtype=torch.float64)
    )
    exact = losses.expected_contrastive_mi(log_probs.exp(), log_probs, log_probs.expand(5, 7, 5))
    torch.testing.assert_close(exact, torch.zeros(7, dtype=torch.float64))


@pytest.mark.parametrize(
    ("resampled_latents", "expected"),
    [
        ([0, 1, 0, 2, 1], math.log(5 / 2)),  # 2 of the 5 resampled graphs act like g
        ([0, 1, 1, 2, 2], math.log(5)),  # only one does: the bound's largest value, log n
        ([0, 0, 0, 0, 0], 0.0),  # all do: no information
    ],
)
def test_deterministic_distinct_policies_give_log_n_over_the_matches(resampled_latents, expected):
    # pi(a | z) = 1{a = z}; the agent's latent is 0, so it plays a = 0 and log pi(0 | g) = 0;
    # pi(0 | g'_j) is 1 if z'_j = 0 else 0: the estimate is log(n / #{j: z'_j = 0}).
    log_pi = policy_family(3, 3, eps=0.0)
    taken = log_pi[0, 0]
    resampled = log_pi[torch.tensor(resampled_latents), 0]
    assert float(losses.contrastive_mi(taken, resampled)) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("eps", [0.0, 0.2, 0.5])
def test_exact_expectation_recovers_the_known_mutual_information(eps):
    # z uniform over 3 latents, pi(a | z) as in policy_family: the marginal p(a) is uniform, so
    # I(z; a) = log 3 - H(pi(. | z)) with H = -(1 - eps) log(1 - eps) - eps log(eps / 2).
    # Resampling every latent once makes the bound's denominator p(a) exactly.
    log_pi = policy_family(3, 3, eps)
    h = -(1 - eps) * math.log(1 - eps) - (eps * math.log(eps / 2) if eps else 0.0)
    true_mi = math.log(3) - h
    every_latent = log_pi  # (n = 3, A): pi(. | g'_j) for z'_j = 0, 1, 2
    for z in range(3):
        estimate = losses.expected_contrastive_mi(log_pi[z].exp(), log_pi[z], every_latent)
        assert float(estimate) == pytest.approx(true_mi, abs=1e-12)
    assert eps > 0 or true_mi == pytest.approx(math.log(3))


def test_relation_mi_loss_is_the_negated_mean_bound():
    taken = torch.tensor([0.0, -1.0, 5.0])
    resampled = torch.tensor([[0.0, -2.0, 0.0], [-1.0, -2.0, 0.0]])
    mask = torch.tensor([True, True, False])
    bound = losses.contrastive_mi(taken, resampled)
    loss = losses.relation_mi_loss(taken, resampled, mask)
    assert float(loss) == pytest.approx(-float(bound[:2].mean()))


# -- Eqs. 12-13: the MG-index classifier ------------------------------------------------------


def test_game_classifier_loss_is_the_hand_computed_cross_entropy():
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [9.0, 0.0, 0.0]])
    games = torch.tensor([0, 2, 1])
    ce0 = -math.log(math.exp(2) / (math.exp(2) + 2))
    ce1 = -math.log(1 / (math.e + 2))
    ce2 = -math.log(1 / (math.exp(9) + 2))
    assert float(losses.game_classifier_loss(logits, games)) == pytest.approx((ce0 + ce1 + ce2) / 3)
    mask = torch.tensor([True, True, False])
    assert float(losses.game_classifier_loss(logits, games, mask)) == pytest.approx((ce0 + ce1) / 2)
    batched = losses.game_classifier_loss(logits.expand(4, 3, 3), games.expand(4, 3))
    assert float(batched) == pytest.approx((ce0 + ce1 + ce2) / 3)


def test_game_mutual_information_from_the_cross_entropy():
    # A perfect classifier: I(m; g | o) = log |M|; a uniform one: CE = log |M|, I = 0.
    assert float(losses.game_mutual_information(torch.tensor(0.0), 4)) == pytest.approx(math.log(4))
    uniform = losses.game_classifier_loss(torch.zeros(5, 4), torch.tensor([0, 1, 2, 3, 0]))
    assert float(losses.game_mutual_information(uniform, 4)) == pytest.approx(0.0, abs=1e-7)


# -- target networks --------------------------------------------------------------------------


def test_polyak_update_by_hand():
    target = [torch.tensor([0.0, 0.0]), torch.tensor([4.0])]
    source = [torch.tensor([1.0, 2.0]), torch.tensor([0.0])]
    losses.polyak_update(target, source, tau=0.25)
    assert target[0].tolist() == [0.25, 0.5] and target[1].tolist() == [3.0]
    losses.polyak_update(target, source, tau=1.0)
    assert torch.equal(target[0], source[0]) and torch.equal(target[1], source[1])
    with pytest.raises(ValueError):
        losses.polyak_update(target, source[:1], tau=0.5)
