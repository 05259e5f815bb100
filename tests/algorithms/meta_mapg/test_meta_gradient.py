"""Meta-MAPG's meta-gradient on the IPD: replay fidelity, which terms flow, and the DiCE
estimate against the exact gradient of the meta-value (envs.matrix.exact)."""

import pytest
import torch
from torch import nn

from envs.matrix.batched import BatchedIteratedMatrixGame
from envs.matrix.exact import finite_horizon_values
from envs.matrix.games import ipd
from rllib_meta.algorithms.meta_mapg.agent import MetaAgent
from rllib_meta.algorithms.meta_mapg.chain import LearningTerms
from rllib_meta.algorithms.meta_mapg.meta_gradient import (
    ReplaySettings,
    replay_chain,
    unroll_stored_chain,
)
from rllib_meta.algorithms.meta_mapg.networks import TabularPolicy
from rllib_meta.algorithms.meta_mapg.objectives import (
    StepLogProbs,
    TrajectoryBatch,
    batch_log_probs,
    outer_surrogate,
)
from rllib_meta.algorithms.meta_mapg.sampling import sample_chain

GAMMA = 0.9
PEER_LR = 0.5
MAPG = LearningTerms(own_learning=True, peer_learning=True)
META_PG = LearningTerms(own_learning=True, peer_learning=False)
NO_OWN = LearningTerms(own_learning=False, peer_learning=True)


def settings(terms: LearningTerms, **overrides) -> ReplaySettings:
    return ReplaySettings(
        gamma=GAMMA, gae_lambda=1.0, peer_learning_rate=PEER_LR, terms=terms, **overrides
    )


def small_chain(agent, horizon=6, trajectories=16, chain_length=2, seed=0):
    game = BatchedIteratedMatrixGame(ipd(), horizon, trajectories)
    peer = [torch.log(torch.tensor([[0.8, 0.2], [0.6, 0.4], [0.3, 0.7], [0.9, 0.1], [0.5, 0.5]]))]
    generator = torch.Generator().manual_seed(seed)
    return sample_chain(agent, peer, game, chain_length, GAMMA, PEER_LR, generator), peer


def lstm_agent(chain_length=2) -> MetaAgent:
    torch.manual_seed(0)
    return MetaAgent(
        num_states=5, num_actions=2, chain_length=chain_length, inner_learning_rate=0.3
    )


def test_replay_recomputes_the_sampled_joint_policies():
    agent = lstm_agent()
    chain, peer = small_chain(agent)
    replayed = unroll_stored_chain(agent, chain.batches, peer, settings(MAPG))
    for sampled, recomputed in zip(chain.agent_params, replayed.agent_params, strict=True):
        for name, value in sampled.items():
            torch.testing.assert_close(recomputed[name].detach(), value, rtol=1e-5, atol=1e-6)
    for sampled, recomputed in zip(chain.peer_logits, replayed.peer_params, strict=True):
        torch.testing.assert_close(recomputed[0].detach(), sampled[0], rtol=1e-5, atol=1e-6)
    assert not torch.equal(chain.peer_logits[0][0], chain.peer_logits[-1][0])  # peers learn


def last_batch_gradients(terms: LearningTerms):
    """Gradients w.r.t. phi_0 of the peer's and the agent's log-likelihood of tau_L."""
    agent = lstm_agent()
    chain, peer = small_chain(agent)
    replayed = unroll_stored_chain(agent, chain.batches, peer, settings(terms))
    last = batch_log_probs(
        agent.policy, replayed.agent_params[-1], replayed.peer_params[-1], chain.batches[-1]
    )
    params = list(agent.policy.parameters())

    def gradient(value):
        grads = torch.autograd.grad(value.sum(), params, allow_unused=True, retain_graph=True)
        return sum(0.0 if g is None else g.abs().sum().item() for g in grads)

    return gradient(last.peers[0]), gradient(last.agent)


def test_peer_learning_gradient_is_zero_exactly_for_meta_pg_only():
    peer_mapg, own_mapg = last_batch_gradients(MAPG)
    peer_pg, own_pg = last_batch_gradients(META_PG)
    assert peer_pg == 0.0  # Meta-PG: the peer's future does not depend on phi_0
    assert peer_mapg > 1e-6  # Meta-MAPG: it does, through the peer's DiCE updates
    assert own_pg > 1e-6 and own_mapg > 1e-6


def test_no_own_learning_cuts_only_the_own_path():
    peer, own = last_batch_gradients(NO_OWN)
    assert own == 0.0
    assert peer > 1e-6


def test_losses_are_finite_and_backpropagate_to_every_actor_parameter():
    agent = lstm_agent()
    chain, peer = small_chain(agent)
    losses = replay_chain(agent, chain.batches, peer, settings(MAPG, entropy_coeff=0.5))
    losses.actor_loss.backward()
    for name, parameter in agent.named_parameters():
        if name.startswith("value."):
            assert parameter.grad is None  # the actor loss does not train the critic
        else:
            assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
    assert agent.inner_learning_rates.grad.abs().sum() > 0  # learned inner learning rates


class TabularMetaAgent(nn.Module):
    """A memory-one tabular meta-agent, so that exact values exist (envs.matrix.exact)."""

    num_states = 5

    def __init__(self, logits: torch.Tensor, inner_learning_rate: float):
        super().__init__()
        self.policy = TabularPolicy(logits)
        self.inner_learning_rates = nn.Parameter(torch.tensor([inner_learning_rate]))

    def policy_params(self):
        return dict(self.policy.named_parameters())

    def values(self, states):  # no critic: advantages are plain returns-to-go (lambda = 1)
        return torch.zeros(states.shape, dtype=torch.float32)


def exact_meta_gradient(agent_logits, peer_logits, alpha, horizon, terms):
    """grad of V_agent(phi_1) where phi_1 = phi_0 + lr * grad V (exact inner updates, Eq. 4)."""
    payoffs = torch.tensor(ipd().payoffs, dtype=torch.float64)
    theta = agent_logits.double().clone().requires_grad_(True)
    peer = peer_logits.double().clone().requires_grad_(True)

    def values(a, p):
        return finite_horizon_values(a.softmax(-1), p.softmax(-1), payoffs, horizon, GAMMA)

    v = values(theta, peer)
    (g_agent,) = torch.autograd.grad(v[0], theta, create_graph=terms.own_learning)
    (g_peer,) = torch.autograd.grad(v[1], peer, create_graph=terms.peer_learning, retain_graph=True)
    theta_1 = theta + alpha * g_agent
    peer_1 = peer + PEER_LR * g_peer
    if not terms.peer_learning:
        peer_1 = peer_1.detach()
    (gradient,) = torch.autograd.grad(values(theta_1, peer_1)[0], theta)
    return gradient.float()


@pytest.mark.parametrize("terms", [MAPG, META_PG], ids=["meta-mapg", "meta-pg"])
def test_dice_meta_gradient_matches_exact_gradient(terms):
    alpha, horizon, trajectories, chains = 0.5, 3, 20_000, 6
    generator = torch.Generator().manual_seed(1)
    agent_logits = torch.randn(5, 2, generator=generator)
    peer_logits = torch.randn(5, 2, generator=generator)
    agent = TabularMetaAgent(agent_logits, alpha)
    game = BatchedIteratedMatrixGame(ipd(), horizon, trajectories)
    estimates = []
    for seed in range(chains):
        chain = sample_chain(
            agent, [peer_logits], game, 1, GAMMA, PEER_LR, torch.Generator().manual_seed(seed)
        )
        replayed = unroll_stored_chain(agent, chain.batches, [peer_logits], settings(terms))
        last = batch_log_probs(
            agent.policy, replayed.agent_params[-1], replayed.peer_params[-1], chain.batches[-1]
        )
        log_probs = [*replayed.step_log_probs, last]
        values = [agent.values(batch.states) for batch in chain.batches]
        surrogate = outer_surrogate(log_probs, chain.batches, values, GAMMA, 1.0, "dice")
        (gradient,) = torch.autograd.grad(surrogate, agent.policy.logits)
        estimates.append(gradient)
    estimates = torch.stack(estimates)
    mean = estimates.mean(0)
    standard_error = estimates.std(0) / chains**0.5
    exact = exact_meta_gradient(agent_logits, peer_logits, alpha, horizon, terms)
    error = (mean - exact).abs()
    # Within 4 standard errors (plus a small floor for the O(1/K) baseline-fit bias).
    assert (error <= 4 * standard_error + 0.02 * exact.abs().max()).all(), (mean, exact)
    assert exact.abs().max() > 0.05  # the test is not trivially satisfied


def test_each_peer_is_updated_with_its_own_objective_only():
    # Three-player RPS: the two peers' objectives share the joint log-probabilities; adding
    # one peer's gradient to another (the multi-module mix-up) would change the update.
    from envs.matrix.games import rps
    from rllib_meta.algorithms.meta_mapg.chain import inner_update
    from rllib_meta.algorithms.meta_mapg.objectives import player_objectives

    torch.manual_seed(0)
    agent = MetaAgent(num_states=28, num_actions=3, chain_length=1, inner_learning_rate=0.1)
    game = BatchedIteratedMatrixGame(rps(3), 5, 16)
    peers = [torch.randn(28, 3), torch.randn(28, 3)]
    chain = sample_chain(agent, peers, game, 1, GAMMA, PEER_LR, torch.Generator().manual_seed(0))
    leaves = [p.clone().requires_grad_(True) for p in peers]
    log_probs = batch_log_probs(agent.policy, agent.policy_params(), leaves, chain.batches[0])
    _, *objectives = player_objectives(log_probs, chain.batches[0], 28, GAMMA)
    for index, (leaf, objective) in enumerate(zip(leaves, objectives, strict=True)):
        (own,) = torch.autograd.grad(objective, leaf, retain_graph=True)
        expected = peers[index] + PEER_LR * own
        torch.testing.assert_close(chain.peer_logits[1][index], expected, rtol=1e-5, atol=1e-6)
        updated = inner_update(leaf, objective, PEER_LR, keep_graph=False)
        torch.testing.assert_close(updated.detach(), expected)
    (cross,) = torch.autograd.grad(objectives[0], leaves[1], retain_graph=True)
    assert cross.abs().sum() > 1e-6  # so mixing the peers' gradients would be visible


def one_round_of_each_joint_action():
    """One IPD round (H = 1, start state) per joint action CC, CD, DC, DD, with its payoffs."""
    agent_actions, peer_actions = [0, 0, 1, 1], [0, 1, 0, 1]
    payoffs = torch.tensor(ipd().payoffs, dtype=torch.float64)
    rewards = payoffs[agent_actions, peer_actions].T  # (2, K)
    return TrajectoryBatch(
        states=torch.zeros(4, 1, dtype=torch.long),
        actions=torch.tensor([agent_actions, peer_actions]).unsqueeze(-1),
        rewards=rewards.unsqueeze(-1),
    )


@pytest.mark.parametrize("lookahead", [0, 1])
def test_lola_dice_lookahead_matches_its_closed_form(lookahead):
    # H = 1 with tabular policies: the DiCE gradients are closed forms in pi = softmax(theta)
    # and mu = softmax(phi). The peer's look-ahead step (LOLA-DiCE, Foerster et al. 2018c) is
    #   phi' = phi + alpha g,  g = mean_k A2_k (e_b - mu),  d phi' / d theta = alpha M,
    #   M = mean_k A2_k (e_b - mu) (e_a - pi)^T  (alpha = the peer's learning rate),
    # and the meta-agent's shaped gradient is mean_k A1_k [(e_a - pi) + alpha M^T (e_b - mu')]
    # with mu' = softmax(phi'). Each joint action once: the baselines (mean returns) are 0.
    from rllib_meta.algorithms.meta_mapg.objectives import InnerLoop, chain_step_objectives

    batch = one_round_of_each_joint_action()
    theta = torch.tensor([[0.3, -0.4]] + [[0.0, 0.0]] * 4, dtype=torch.float64)
    phi = torch.tensor([[-0.2, 0.6]] + [[0.0, 0.0]] * 4, dtype=torch.float64)
    policy = TabularPolicy(theta)
    inner = InnerLoop(policy, 5, GAMMA, PEER_LR, lookahead)
    peer = phi.clone().requires_grad_(True)
    objective, _, _ = chain_step_objectives(inner, dict(policy.named_parameters()), [peer], batch)
    (gradient,) = torch.autograd.grad(objective, policy.logits)

    eye = torch.eye(2, dtype=torch.float64)
    pi, mu = theta[0].softmax(-1), phi[0].softmax(-1)
    a, b = batch.actions[0, :, 0], batch.actions[1, :, 0]
    own_advantages, peer_advantages = batch.rewards[0, :, 0], batch.rewards[1, :, 0]
    assert own_advantages.sum() == peer_advantages.sum() == 0.0
    own_scores, peer_scores = eye[a] - pi, eye[b] - mu  # (K, 2)
    expected = (own_advantages[:, None] * own_scores).mean(0)
    if lookahead:
        step = (peer_advantages[:, None] * peer_scores).mean(0)
        shaped_mu = (phi[0] + PEER_LR * step).softmax(-1)
        jacobian = torch.einsum("k,ki,kj->ij", peer_advantages, peer_scores, own_scores) / 4
        shaping = (own_advantages[:, None] * ((eye[b] - shaped_mu) @ jacobian)).mean(0)
        assert shaping.abs().max() > 0.01  # the test is not trivially satisfied
        expected = expected + PEER_LR * shaping
    torch.testing.assert_close(gradient[0], expected, rtol=1e-10, atol=1e-12)
    assert gradient[1:].abs().max() == 0.0  # the other states were not visited


def test_opponent_modeling_never_reads_the_true_personas():
    from rllib_meta.algorithms.meta_mapg.opponent_modeling import infer_tabular_logits

    states = torch.tensor([[0, 1, 1, 1]])
    actions = torch.tensor([[1, 0, 0, 1]])
    logits = infer_tabular_logits(states, actions, num_states=3, num_actions=2, prior_count=0.5)
    expected = torch.log(torch.tensor([[0.25, 0.75], [2.5 / 4, 1.5 / 4], [0.5, 0.5]]))
    torch.testing.assert_close(logits, expected)

    agent = lstm_agent()
    chain, peer = small_chain(agent)
    om = settings(MAPG, opponent_modeling=True)
    first = replay_chain(agent, chain.batches, peer, om)
    second = replay_chain(agent, chain.batches, [torch.zeros_like(peer[0])], om)
    assert first.metrics == second.metrics
    torch.testing.assert_close(first.actor_loss, second.actor_loss)


@pytest.mark.parametrize("estimator", ["dice", "theorem"])
def test_outer_surrogate_by_hand(estimator):
    # A chain of L + 1 = 3 batches of K = 2 trajectories, H = 2, gae_lambda = 1 (A = R - V).
    # With J_l the joint log-probabilities of batch l, R the reward-to-go and V the value
    # network's baseline, the surrogate is S = 1/L sum_{l=1..L} S_l with
    #   S_l = mean_k sum_t gamma^t J_l[k,t] (R_l[k,t] - V_l[k,t])
    #         + (theorem only) (sum_{m<l} sum_{k,t} J_m[k,t]) mean_k (R_l[k,0] - V_l[k,0]).
    gamma, L, K, H = 0.5, 2, 2, 2
    rewards = [[[1.0, -2.0], [0.5, 3.0]], [[2.0, 1.0], [-1.0, 0.0]], [[0.0, 4.0], [1.0, -3.0]]]
    values = [[[0.5, 0.2], [-0.3, 1.0]], [[1.5, -0.5], [0.25, 2.0]], [[-1.0, 0.5], [2.0, 0.75]]]
    generator = torch.Generator().manual_seed(0)
    agent = [torch.randn(K, H, generator=generator, requires_grad=True) for _ in range(L + 1)]
    peer = [torch.randn(K, H, generator=generator, requires_grad=True) for _ in range(L + 1)]
    log_probs = [
        StepLogProbs(agent=a, peers=[p], entropy=torch.zeros(K, H))
        for a, p in zip(agent, peer, strict=True)
    ]
    batches = [
        TrajectoryBatch(
            states=torch.zeros(K, H, dtype=torch.long),
            actions=torch.zeros(2, K, H, dtype=torch.long),
            rewards=torch.stack([torch.tensor(r), torch.zeros(K, H)]),
        )
        for r in rewards
    ]
    surrogate = outer_surrogate(
        log_probs, batches, [torch.tensor(v) for v in values], gamma, 1.0, estimator
    )

    def reward_to_go(step, k, t):
        return sum(gamma ** (s - t) * rewards[step][k][s] for s in range(t, H))

    def advantage(step, k, t):
        return reward_to_go(step, k, t) - values[step][k][t]

    def initial_advantage(step):  # the theorem term's baselined return of batch `step`
        return sum(advantage(step, k, 0) for k in range(K)) / K

    joint = [(a + p).detach() for a, p in zip(agent, peer, strict=True)]
    expected_value = 0.0
    expected_gradient = torch.zeros(L + 1, K, H)  # d S / d J_m[k, t], the same for both players
    for step in range(1, L + 1):
        for k in range(K):
            for t in range(H):
                weight = gamma**t * advantage(step, k, t) / K / L
                expected_value += weight * float(joint[step][k, t])
                expected_gradient[step, k, t] += weight
        if estimator == "theorem":
            earlier = sum(float(joint[m].sum()) for m in range(step))
            expected_value += earlier * initial_advantage(step) / L
            expected_gradient[:step] += initial_advantage(step) / L
    assert float(surrogate.detach()) == pytest.approx(expected_value, abs=1e-5)
    gradients = torch.autograd.grad(surrogate, agent + peer, allow_unused=True)
    for index, gradient in enumerate(gradients):  # dice: batch 0 is not used at all
        gradient = torch.zeros(K, H) if gradient is None else gradient
        torch.testing.assert_close(gradient, expected_gradient[index % (L + 1)])
    if estimator == "theorem":  # the baseline matters: mean V_l[:, 0] is far from 0
        assert abs(sum(values[step][k][0] for step in (1, 2) for k in range(K))) > 1.0


def test_outer_estimators_differ_only_by_their_extra_terms():
    agent = lstm_agent()
    chain, peer = small_chain(agent)
    gradients = {}
    for estimator in ("dice", "theorem", "reference"):
        losses = replay_chain(agent, chain.batches, peer, settings(MAPG, outer_estimator=estimator))
        grads = torch.autograd.grad(losses.actor_loss, list(agent.policy.parameters()))
        gradients[estimator] = torch.cat([g.flatten() for g in grads])
        assert torch.isfinite(gradients[estimator]).all()
    assert (gradients["theorem"] - gradients["dice"]).abs().max() > 1e-6
    assert (gradients["reference"] - gradients["dice"]).abs().max() > 1e-6
    with pytest.raises(ValueError, match="outer_estimator must be one of"):
        replay_chain(agent, chain.batches, peer, settings(MAPG, outer_estimator="exact"))
