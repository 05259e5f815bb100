"""MRA's losses (paper 002, sections 6.1-6.2, Algorithm 4), on batches of any leading shape.

Every function takes tensors the networks produced, with leading axes ``(...)`` (e.g. ``(B,
N)``: transitions x agents) and, where it averages, an optional ``mask`` of the same leading
shape (false for padded or finished agents: their entries change nothing, whatever they hold).

The actor-critic part is soft actor-critic for discrete actions, as in MAAC (which the paper's
critic follows, App. E.1): the entropy temperature is ``alpha = 1 / reward_scale``, expectations
over the agent's own action are exact sums over its ``A`` actions, and the other agents'
actions are given (sampled from their current or target policies by the caller).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch.nn import functional as F


def masked_mean(
    values: torch.Tensor, mask: torch.Tensor | None = None, count: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean of ``values`` over the entries where ``mask`` is true (0 if there are none).
    Masked entries are ignored even if they hold ``inf`` or NaN.

    ``count``: where ``values`` is one chunk of a batch, the number of unmasked entries of the
    whole batch (see :func:`chunk_count`); the chunks' results then sum to the batch's mean.
    """
    if mask is None:
        return values.mean() if count is None else values.sum() / count
    mask = mask.bool().expand_as(values)
    total = torch.where(mask, values, torch.zeros_like(values)).sum()
    if count is None:
        count = chunk_count(mask)
    return total / count.to(values.dtype)


def chunk_count(mask: torch.Tensor) -> torch.Tensor:
    """The denominator of :func:`masked_mean` for a whole batch's ``mask`` (at least 1)."""
    return mask.bool().sum().clamp_min(1)


def soft_state_value(logits: torch.Tensor, q_values: torch.Tensor, alpha: float) -> torch.Tensor:
    """``V(o) = sum_a pi(a | o) (Q(o, a) - alpha log pi(a | o))``: ``(..., A)`` -> ``(...)``."""
    log_probs = torch.log_softmax(logits, dim=-1)
    return (log_probs.exp() * (q_values - alpha * log_probs)).sum(dim=-1)


def soft_q_target(
    rewards: torch.Tensor,
    terminated: torch.Tensor,
    next_logits: torch.Tensor,
    next_q_values: torch.Tensor,
    gamma: float,
    alpha: float,
) -> torch.Tensor:
    """The critic's target (Eq. 8 with SAC's entropy term), without gradient:

    ``y = r + gamma (1 - done) sum_a' pi_bar(a' | o', g') (Q_bar(o', a', g') - alpha log
    pi_bar(a' | o', g'))``

    with the target policy's logits ``next_logits`` and the target critic's Q values
    ``next_q_values`` ``(..., A)`` at ``o'`` (given the other agents' next actions, drawn from
    their target policies). ``terminated`` ``(...)`` is true where the episode ended for the
    agent (a caught Pac-Man); a time limit is not an end (bootstrap through truncations).
    """
    value = soft_state_value(next_logits, next_q_values, alpha)
    not_done = 1.0 - terminated.to(value.dtype)
    return (rewards + gamma * not_done * value).detach()


def critic_loss(
    q_values: torch.Tensor,
    actions: torch.Tensor,
    targets: torch.Tensor,
    mask: torch.Tensor | None = None,
    count: torch.Tensor | None = None,
) -> torch.Tensor:
    """``L(zeta) = E[(Q(o, a) - y)^2]`` (Eq. 8): ``q_values`` ``(..., A)``, the actions taken
    ``(...)``, the targets ``y`` ``(...)`` (no gradient); ``count`` as :func:`masked_mean`'s."""
    taken = q_values.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)
    return masked_mean((taken - targets.detach()).square(), mask, count)


def soft_advantages(logits: torch.Tensor, q_values: torch.Tensor) -> torch.Tensor:
    """``A(o, a) = Q(o, a) - E_{a ~ pi}[Q(o, a)]`` for every action (Eq. 9's advantage form,
    as MAAC's baseline): ``(..., A)``."""
    probs = torch.softmax(logits, dim=-1)
    return q_values - (probs * q_values).sum(dim=-1, keepdim=True)


def policy_loss(
    logits: torch.Tensor,
    q_values: torch.Tensor,
    alpha: float,
    mask: torch.Tensor | None = None,
    count: torch.Tensor | None = None,
) -> torch.Tensor:
    """Soft policy loss for discrete actions (Eq. 9, advantage form, with entropy):

    ``L(theta) = E_o[ sum_a pi(a | o, g) (alpha log pi(a | o, g) - A(o, a)) ]``

    with ``A = Q - E_pi[Q]`` held fixed (no gradient to the critic). Its gradient is Eq. 9's
    ``-E[grad log pi(a) A(o, a)]`` with the expectation over the agent's own action summed
    exactly, plus the entropy term's. ``logits``, ``q_values``: ``(..., A)``; ``count`` as
    :func:`masked_mean`'s.
    """
    log_probs = torch.log_softmax(logits, dim=-1)
    advantages = soft_advantages(logits.detach(), q_values.detach())
    per_state = (log_probs.exp() * (alpha * log_probs - advantages)).sum(dim=-1)
    return masked_mean(per_state, mask, count)


def sampled_policy_loss(
    logits: torch.Tensor,
    q_values: torch.Tensor,
    actions: torch.Tensor,
    alpha: float,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Eq. 9 as a score-function estimate on sampled own actions ``a ~ pi`` (MAAC's actor loss):

    ``L(theta) = E[ log pi(a | o, g) * stop_grad(alpha log pi(a | o, g) - A(o, a)) ]``

    Its expected gradient over ``a ~ pi`` equals :func:`policy_loss`'s gradient.
    """
    log_probs = torch.log_softmax(logits, dim=-1)
    taken = log_probs.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)
    advantages = soft_advantages(logits, q_values).gather(-1, actions.long().unsqueeze(-1))
    weight = (alpha * taken - advantages.squeeze(-1)).detach()
    return masked_mean(taken * weight, mask)


def contrastive_mi(log_prob: torch.Tensor, resampled_log_probs: torch.Tensor) -> torch.Tensor:
    """The per-sample contrastive lower bound of ``I(g; a | o)`` (Eq. 11, App. C):

    ``log pi_bar(a | o, g) - log (1/n sum_j pi_bar(a | o, g'_j))``

    where ``a ~ pi_theta(. | o, g)``, ``g'_j = phi(o, z'_j)`` for ``n`` latents ``z'_j ~ p(z |
    m)`` drawn afresh, and ``pi_bar`` the target policy. ``log_prob`` ``(...)`` is ``log
    pi_bar(a | o, g)``, ``resampled_log_probs`` ``(n, ...)`` the ``log pi_bar(a | o, g'_j)``.
    """
    n = resampled_log_probs.shape[0]
    return log_prob - (torch.logsumexp(resampled_log_probs, dim=0) - math.log(n))


def expected_contrastive_mi(
    probs: torch.Tensor, log_probs: torch.Tensor, resampled_log_probs: torch.Tensor
) -> torch.Tensor:
    """Eq. 11's bound with the expectation over ``a ~ pi_theta(. | o, g)`` summed exactly:

    ``sum_a pi_theta(a | o, g) [log pi_bar(a | o, g) - log (1/n sum_j pi_bar(a | o, g'_j))]``

    ``probs`` ``(..., A)``: ``pi_theta(. | o, g)`` (held fixed); ``log_probs`` ``(..., A)``:
    ``log pi_bar(. | o, g)``; ``resampled_log_probs`` ``(n, ..., A)``. Actions of probability
    0 contribute 0. Returns ``(...)``.
    """
    pointwise = contrastive_mi(log_probs, resampled_log_probs)
    probs = probs.detach()
    terms = torch.where(probs > 0, probs * pointwise, torch.zeros_like(pointwise))
    return terms.sum(dim=-1)


def relation_mi_loss(
    log_prob: torch.Tensor,
    resampled_log_probs: torch.Tensor,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """``-L(phi)``, the loss whose descent maximises Eq. 11's bound (the mean of
    :func:`contrastive_mi` over the batch)."""
    return -masked_mean(contrastive_mi(log_prob, resampled_log_probs), mask)


def game_classifier_loss(
    logits: torch.Tensor, game_index: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Eq. 13: ``E_{z ~ p_psi(. | m), o ~ D}[-x log p(x_hat | o, phi(o, z); xi)]``, the
    cross-entropy of the MG-index classifier: ``logits`` ``(..., |M|)``, the index of the
    training MG each sample comes from ``(...)``. Minimised in ``psi`` and ``xi`` together."""
    per_sample = F.cross_entropy(
        logits.flatten(0, -2), game_index.long().flatten(), reduction="none"
    ).reshape(game_index.shape)
    return masked_mean(per_sample, mask)


def game_mutual_information(cross_entropy: torch.Tensor, num_games: int) -> torch.Tensor:
    """Eq. 12's estimate of ``I(m; g | o) = E[log p(m | o, g)] + log |M|`` from the
    classifier's cross-entropy (:func:`game_classifier_loss`): ``log |M| - CE``."""
    return math.log(num_games) - cross_entropy


def polyak_update(
    targets: Iterable[torch.Tensor], sources: Iterable[torch.Tensor], tau: float
) -> None:
    """Delayed parameters (section 6.1's ``theta_bar``, ``zeta_bar``), in place:
    ``target <- (1 - tau) target + tau source`` (``tau = 1`` copies)."""
    with torch.no_grad():
        for target, source in zip(targets, sources, strict=True):
            target.lerp_(source, tau)
