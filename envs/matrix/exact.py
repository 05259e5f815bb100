"""Exact values of 2-player memory-one tabular policies in iterated matrix games (torch).

Exactness where it is cheap: with memory-one policies the iterated game is a Markov chain over
``S = 1 + A**2`` states, so values are a few batched matrix products (finite horizon) or one
batched linear solve (discounted, the closed form of MeVa, paper 004 section 4, and of LOLA's
exact IPD). Everything is differentiable with autograd.

State convention (the one of :mod:`envs.matrix.games`, "canonical"):

* state 0 is the start state (no previous action); it is never re-entered;
* after joint action ``(a_0, a_1)`` the state is ``1 + a_0 * A + a_1`` -- player 0's action is the
  most significant digit. For the IPD (A = 2, C = 0, D = 1): start=0, CC=1, CD=2, DC=3, DD=4.

Policies are tensors ``pi_0, pi_1`` of shape ``(..., S, A)``: ``pi_i[..., s, a]`` is the probability
that player ``i`` plays ``a`` in canonical state ``s``. Both players' tables are indexed by the
canonical state; a table written from a player's own perspective (own action first, as in MeVa's
and the own-first env observations) is converted with :func:`own_first_to_canonical`. Leading
dimensions broadcast between ``pi_0``, ``pi_1`` and ``payoffs`` (``(..., A, A, 2)``, with
``payoffs[a_0, a_1, i]`` player ``i``'s payoff). Values are returned as ``(..., 2)``, one per
player.

Every public function takes ``validate=True``; pass ``validate=False`` inside ``torch.func``
transforms (the checks need data-dependent control flow) or in hot loops on trusted inputs.
"""

from __future__ import annotations

import numpy as np
import torch

from envs.matrix.games import check_horizon, own_first_state_permutation

NUM_PLAYERS = 2


# ---------------------------------------------------------------------------------------------
# Markov chain pieces
# ---------------------------------------------------------------------------------------------


def joint_action_probs(
    pi_0: torch.Tensor, pi_1: torch.Tensor, *, validate: bool = True
) -> torch.Tensor:
    """Probability of each joint action in each state: ``(..., S, A, A)``, ``[s, a_0, a_1]``."""
    if validate:
        _check_policies(pi_0, pi_1)
    # The players act independently given the (shared) state.
    return pi_0.unsqueeze(-1) * pi_1.unsqueeze(-2)


def transition_matrix(
    pi_0: torch.Tensor, pi_1: torch.Tensor, *, validate: bool = True
) -> torch.Tensor:
    """State transition matrix ``P[..., s, s']`` of the policy pair: ``(..., S, S)``.

    ``s' = 1 + a_0 * A + a_1`` after joint action ``(a_0, a_1)``, whatever ``s`` was, so column 0
    (the start state) is all zeros and rows sum to 1.
    """
    joint = joint_action_probs(pi_0, pi_1, validate=validate)
    flat = joint.flatten(-2)  # (..., S, A*A): column k is the transition into state k + 1
    return torch.cat([torch.zeros_like(flat[..., :1]), flat], dim=-1)


def expected_step_rewards(
    pi_0: torch.Tensor,
    pi_1: torch.Tensor,
    payoffs: torch.Tensor | np.ndarray,
    *,
    validate: bool = True,
) -> torch.Tensor:
    """Expected one-step payoff of each player in each state: ``(..., S, 2)``."""
    joint = joint_action_probs(pi_0, pi_1, validate=validate)
    table = _payoff_tensor(payoffs, joint, validate)
    flat_payoffs = table.reshape(*table.shape[:-3], -1, NUM_PLAYERS)  # (..., A*A, 2)
    return joint.flatten(-2) @ flat_payoffs


# ---------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------


def finite_horizon_values(
    pi_0: torch.Tensor,
    pi_1: torch.Tensor,
    payoffs: torch.Tensor | np.ndarray,
    horizon: int,
    gamma: float = 1.0,
    *,
    validate: bool = True,
) -> torch.Tensor:
    """``sum_{t=0}^{H-1} gamma^t E[r_t]`` from the start state, per player: ``(..., 2)``.

    Forward dynamic programming over the state distribution ``d_t`` (``d_0 = e_0``,
    ``d_{t+1} = d_t P``): ``horizon`` batched vector-matrix products. With ``gamma = 1`` this is the
    expected undiscounted episode return of the iterated env with that horizon (the quantity
    Meta-MAPG and paper 003 report, up to a division by ``horizon``).
    """
    if validate:
        check_horizon(horizon)
        _check_gamma(gamma, allow_one=True)
    transitions = transition_matrix(pi_0, pi_1, validate=validate)
    rewards = expected_step_rewards(pi_0, pi_1, payoffs, validate=False)
    distribution = _start_distribution(transitions)
    values = torch.zeros_like(rewards[..., 0, :])
    discount = 1.0
    for _ in range(horizon):
        values = values + discount * (distribution.unsqueeze(-2) @ rewards).squeeze(-2)
        distribution = (distribution.unsqueeze(-2) @ transitions).squeeze(-2)
        discount *= gamma
    return values


def discounted_values(
    pi_0: torch.Tensor,
    pi_1: torch.Tensor,
    payoffs: torch.Tensor | np.ndarray,
    gamma: float,
    normalize: bool = False,
    *,
    validate: bool = True,
) -> torch.Tensor:
    """Infinite-horizon discounted values ``e_0^T (I - gamma P)^{-1} r`` per player: ``(..., 2)``.

    Closed form by one batched ``torch.linalg.solve`` of ``(I - gamma P) V = r``, reading the
    start-state row of ``V``; no explicit inverse, which is slower and less accurate (an inverse
    inside a vmapped LOLA step hung at batch 2048 in the JAX code of MeVa's authors).
    ``normalize=True`` multiplies by ``1 - gamma``, giving MeVa's normalised value
    ``f_i = (1 - gamma) p_0^T (I - gamma P)^{-1} R_i`` (paper 004, section 4), an average payoff
    per step. Requires ``0 <= gamma < 1``.
    """
    if validate:
        _check_gamma(gamma, allow_one=False)
    transitions = transition_matrix(pi_0, pi_1, validate=validate)
    rewards = expected_step_rewards(pi_0, pi_1, payoffs, validate=False)
    identity = torch.eye(transitions.shape[-1], dtype=transitions.dtype, device=transitions.device)
    state_values = torch.linalg.solve(identity - gamma * transitions, rewards)
    values = state_values[..., 0, :]
    return values * (1.0 - gamma) if normalize else values


# ---------------------------------------------------------------------------------------------
# Perspective conversion
# ---------------------------------------------------------------------------------------------


def own_first_to_canonical(
    pi_own: torch.Tensor, player: int, *, validate: bool = True
) -> torch.Tensor:
    """Re-index a policy table from ``player``'s own-first states to canonical states.

    ``pi_own[..., o, :]`` is the action distribution when ``player`` observes own-first state
    ``o`` (its own previous action first, as the env's ``own_first_observation`` gives it). In
    canonical state ``s`` that player observes ``o = perm[player, s]``
    (:func:`envs.matrix.games.own_first_state_permutation`), so the canonical table is a gather.
    For player 0 this is the identity; for player 1 it swaps the CD and DC rows in the IPD.
    """
    permutation = _own_first_permutation(pi_own, player, validate)
    return pi_own[..., permutation, :]


def canonical_to_own_first(
    pi_canonical: torch.Tensor, player: int, *, validate: bool = True
) -> torch.Tensor:
    """Inverse of :func:`own_first_to_canonical`."""
    permutation = _own_first_permutation(pi_canonical, player, validate)
    return pi_canonical[..., torch.argsort(permutation), :]


def _own_first_permutation(policy: torch.Tensor, player: int, validate: bool) -> torch.Tensor:
    """Row ``player`` of the own-first permutation for ``policy``'s action count, on its device."""
    if validate:
        _check_policy_shape(policy, "policy")
        if isinstance(player, bool) or player not in range(NUM_PLAYERS):
            raise ValueError(f"player must be 0 or 1; got {player!r}")
    permutation = own_first_state_permutation(policy.shape[-1], NUM_PLAYERS)[player]
    return torch.as_tensor(permutation, device=policy.device)


# ---------------------------------------------------------------------------------------------
# Validation and small helpers
# ---------------------------------------------------------------------------------------------


def _start_distribution(transitions: torch.Tensor) -> torch.Tensor:
    """``e_0`` with the batch shape of ``transitions``: all mass on the start state."""
    distribution = torch.zeros_like(transitions[..., 0, :])
    distribution[..., 0] = 1.0
    return distribution


def _payoff_tensor(
    payoffs: torch.Tensor | np.ndarray, like: torch.Tensor, validate: bool
) -> torch.Tensor:
    """``payoffs`` as a tensor with ``like``'s dtype and device, shape ``(..., A, A, 2)``."""
    if isinstance(payoffs, torch.Tensor):
        table = payoffs.to(dtype=like.dtype, device=like.device)
    else:  # copy: game tables are read-only numpy arrays, which torch cannot wrap safely
        table = torch.tensor(np.asarray(payoffs), dtype=like.dtype, device=like.device)
    num_actions = like.shape[-1]
    expected = (num_actions, num_actions, NUM_PLAYERS)
    if validate and (table.ndim < 3 or tuple(table.shape[-3:]) != expected):
        raise ValueError(
            f"payoffs must have shape (..., {num_actions}, {num_actions}, 2) to match "
            f"policies over {num_actions} actions; got {tuple(table.shape)}"
        )
    return table


def _check_policy_shape(policy: torch.Tensor, name: str) -> None:
    """``(..., S, A)`` with ``S = 1 + A**2``, ``A >= 2``, floating point."""
    if not isinstance(policy, torch.Tensor) or not policy.is_floating_point():
        raise ValueError(f"{name} must be a floating-point torch tensor; got {type(policy)}")
    if policy.ndim < 2 or policy.shape[-1] < 2 or policy.shape[-2] != 1 + policy.shape[-1] ** 2:
        raise ValueError(
            f"{name} must have shape (..., S, A) with A >= 2 actions and S = 1 + A**2 "
            f"memory-one states; got {tuple(policy.shape)}"
        )


def _check_policies(pi_0: torch.Tensor, pi_1: torch.Tensor) -> None:
    """Shapes compatible and every row a probability distribution (within dtype tolerance)."""
    _check_policy_shape(pi_0, "pi_0")
    _check_policy_shape(pi_1, "pi_1")
    if pi_0.shape[-1] != pi_1.shape[-1]:
        raise ValueError(
            f"pi_0 and pi_1 must have the same number of actions; got shapes "
            f"{tuple(pi_0.shape)} and {tuple(pi_1.shape)}"
        )
    try:
        torch.broadcast_shapes(pi_0.shape[:-2], pi_1.shape[:-2])
    except RuntimeError as error:
        raise ValueError(
            f"Leading (batch) dims of pi_0 {tuple(pi_0.shape)} and pi_1 {tuple(pi_1.shape)} "
            f"do not broadcast"
        ) from error
    for name, policy in (("pi_0", pi_0), ("pi_1", pi_1)):
        _check_probabilities(policy, name)


def _check_probabilities(policy: torch.Tensor, name: str) -> None:
    # sqrt(eps): loose enough for softmax round-off, tight enough to catch logits or bad rows.
    tolerance = torch.finfo(policy.dtype).eps ** 0.5
    detached = policy.detach()
    in_range = bool(((detached >= -tolerance) & (detached <= 1 + tolerance)).all())
    sums_to_one = bool(((detached.sum(-1) - 1).abs() <= tolerance).all())
    if not (in_range and sums_to_one):
        raise ValueError(
            f"{name} rows must be probability distributions (entries in [0, 1] summing to 1 "
            f"within {tolerance:.1e}); got entries in [{float(detached.min()):.4g}, "
            f"{float(detached.max()):.4g}] with row sums in "
            f"[{float(detached.sum(-1).min()):.4g}, {float(detached.sum(-1).max()):.4g}]"
        )


def _check_gamma(gamma: float, allow_one: bool) -> None:
    is_number = isinstance(gamma, int | float) and not isinstance(gamma, bool)
    if not (is_number and gamma >= 0.0 and (gamma <= 1.0 if allow_one else gamma < 1.0)):
        allowed = "[0, 1]" if allow_one else "[0, 1) (the closed form diverges at gamma = 1)"
        raise ValueError(f"gamma must be a number in {allowed}; got {gamma!r}")
