"""Exact finite-horizon Stackelberg tools for iterated 2x2 games with memory-one policies (torch).

Paper 003 (Gerstgrasser & Parkes), sections 2-3 and Appendix A: a leader commits to a policy, the
follower best-responds, and the leader maximises its return under that response (Definition 2,
Eq. 1). Appendix C's "equilibrium verification" asks whether the learned follower really
best-responds; this module answers that exactly for the 12 canonical games
(:func:`envs.matrix.games.canonical_game`): leader = player 0, follower = player 1, two
actions, undiscounted returns over ``horizon`` steps (the paper uses 10).

State convention (that of :mod:`envs.matrix.games`): state 0 is the start state; after the joint
action ``(a_L, a_F)`` the state is ``1 + 2 * a_L + a_F`` (start=0, CC=1, CD=2, DC=3, DD=4), action
0 = C, 1 = D. A deterministic memory-one policy is a table of 5 actions, one per state; policy
``i`` of :func:`memory_one_policies` plays ``(i >> s) & 1`` in state ``s``, so there are 32.

Why a deterministic leader makes everything cheap: the game's transitions are deterministic (the
next state is a function of the joint action) and the start state is fixed, so when both players
use deterministic tables -- stationary or indexed by time -- the whole trajectory is determined.
An episode return is then a plain batched rollout (:func:`deterministic_returns`), and the 32
stationary deterministic follower responses to each of the 32 leaders can be enumerated exactly.

Two notions of follower best response are provided:

* ``"time_aware"``: backward induction over ``(t, state)`` (:func:`time_aware_best_response`).
  Against a stationary leader this is the follower's true optimum over ALL policies: with the
  pair ``(t, state)`` as the Markov state, a deterministic time-indexed policy is optimal.
* ``"stationary"``: the best of the 32 DETERMINISTIC stationary policies
  (:func:`stationary_best_response`), the class a follower that does not observe the time step
  can represent greedily (paper 003's linear follower sees the state and the context only). With a
  finite horizon and a state that does not include time, the best stationary policy need not be
  deterministic: a stochastic stationary policy can in principle do better than every
  deterministic one (it can, e.g., cooperate on the first visit of a state and defect later with
  some probability). This module does not search stochastic stationary policies.

Ties among follower-optimal actions or policies are broken by ``ties``: ``"optimistic"`` picks the
one best for the leader (the strong Stackelberg equilibrium), ``"pessimistic"`` the one worst for
the leader (weak), ``"first"`` the lowest index. Values closer than :data:`TIE_TOLERANCE` (absolute,
per episode) count as ties, so float64 round-off with stochastic leaders does not decide them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from envs.matrix.games import check_horizon

NUM_STATES = 5
NUM_ACTIONS = 2
NUM_POLICIES = NUM_ACTIONS**NUM_STATES
LEADER, FOLLOWER = 0, 1
TIES = ("optimistic", "pessimistic", "first")
FOLLOWER_KINDS = ("stationary", "time_aware")
TIE_TOLERANCE = 1e-9
_DTYPE = torch.float64


# ---------------------------------------------------------------------------------------------
# Deterministic memory-one policies
# ---------------------------------------------------------------------------------------------


def memory_one_policies() -> torch.Tensor:
    """All 32 deterministic memory-one policies, ``(32, 5)`` long: policy ``i`` plays
    ``(i >> s) & 1`` in state ``s`` (paper 003 section 3: the leader's 5 query answers)."""
    index = torch.arange(NUM_POLICIES).unsqueeze(-1)
    return (index >> torch.arange(NUM_STATES)) & 1


def policy_index(actions: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`memory_one_policies`: ``(..., 5)`` long actions -> ``(...,)`` long."""
    table = _action_table(actions, "actions")
    return (table << torch.arange(NUM_STATES, device=table.device)).sum(-1)


# ---------------------------------------------------------------------------------------------
# Returns of deterministic policy pairs
# ---------------------------------------------------------------------------------------------


def deterministic_returns(
    payoffs: torch.Tensor | np.ndarray,
    leader_actions: torch.Tensor,
    follower_actions: torch.Tensor,
    horizon: int,
    *,
    time_indexed: bool | None = None,
) -> torch.Tensor:
    """Both players' undiscounted episode returns ``(..., 2)`` of deterministic tables.

    ``leader_actions`` is a stationary table ``(..., 5)``; ``follower_actions`` is either a
    stationary table ``(..., 5)`` or a time-indexed one ``(..., horizon, 5)`` (row ``t`` is used
    at step ``t``). Leading dims broadcast. ``time_indexed=None`` infers the follower's kind: it
    is time-indexed when it has exactly one more dim than ``leader_actions`` and that dim has size
    ``horizon``; pass ``time_indexed`` explicitly when a batch of stationary followers against an
    unbatched leader could be mistaken for that. The trajectory is deterministic (module
    docstring), so this is a plain batched rollout of ``horizon`` steps.
    """
    horizon = check_horizon(horizon)
    table = _payoff_table(payoffs)
    leader = _action_table(leader_actions, "leader_actions").to(table.device)
    follower = _action_table(follower_actions, "follower_actions").to(table.device)
    if _is_time_indexed(leader, follower, horizon, time_indexed):
        batch = _broadcast(leader.shape[:-1], follower.shape[:-2])
        follower_at = follower.expand(*batch, horizon, NUM_STATES).unbind(-2)
    else:
        batch = _broadcast(leader.shape[:-1], follower.shape[:-1])
        follower_at = (follower.expand(*batch, NUM_STATES),) * horizon
    leader = leader.expand(*batch, NUM_STATES)
    state = torch.zeros(batch, dtype=torch.long, device=table.device)
    returns = torch.zeros(*batch, 2, dtype=_DTYPE, device=table.device)
    for step in range(horizon):
        leader_action = leader.gather(-1, state.unsqueeze(-1)).squeeze(-1)
        follower_action = follower_at[step].gather(-1, state.unsqueeze(-1)).squeeze(-1)
        returns = returns + table[leader_action, follower_action]
        state = 1 + NUM_ACTIONS * leader_action + follower_action
    return returns


def stochastic_follower_returns(
    payoffs: torch.Tensor | np.ndarray,
    leader_actions: torch.Tensor,
    follower_probs: torch.Tensor,
    horizon: int,
    *,
    time_indexed: bool = False,
) -> torch.Tensor:
    """Both players' expected undiscounted returns ``(..., 2)`` of a stochastic follower against
    deterministic leaders ``(..., 5)``, differentiable in ``follower_probs``: action
    probabilities per state, stationary ``(..., 5, 2)`` or, with ``time_indexed``,
    ``(..., horizon, 5, 2)`` (row ``t`` at step ``t``).

    A forward recursion over the state distribution ``d_t`` (``d_0`` = the start state): the
    leader plays ``a = leader[s]``, the follower ``b ~ p_t(. | s)``; ``E[r_t] = sum_s d_t(s)
    sum_b p_t(b | s) r(leader[s], b)`` and ``d_{t+1}(1 + 2a + b) = sum_s d_t(s) 1[leader[s] = a]
    p_t(b | s)``. For one-hot probabilities it equals :func:`deterministic_returns`.
    """
    horizon = check_horizon(horizon)
    table = _payoff_table(payoffs).to(follower_probs.dtype)
    leader = _one_hot(_action_table(leader_actions, "leader_actions")).to(follower_probs.dtype)
    if time_indexed:
        if follower_probs.dim() < 4 or follower_probs.shape[-3] != horizon:
            raise ValueError(
                f"time-indexed follower_probs must have shape (..., {horizon}, {NUM_STATES}, "
                f"{NUM_ACTIONS}); got {tuple(follower_probs.shape)}"
            )
        leader = leader.unsqueeze(-3)
    # joint[..., s, a, b] = 1[leader[s] = a] p(b | s), over [t] when time-indexed.
    joint = leader[..., :, :, None] * follower_probs[..., :, None, :]
    step_returns = torch.einsum("...sab,abp->...sp", joint, table)  # (..., [H,] 5, 2)
    moves = joint.flatten(-2)  # (..., [H,] 5, 4): to the states 1 + 2a + b
    batch = joint.shape[:-4] if time_indexed else joint.shape[:-3]
    occupancy = torch.zeros(*batch, NUM_STATES, dtype=joint.dtype)
    occupancy[..., 0] = 1.0
    returns = torch.zeros(*batch, 2, dtype=joint.dtype)
    for step in range(horizon):
        at = (..., step, slice(None), slice(None)) if time_indexed else (...,)
        returns = returns + torch.einsum("...s,...sp->...p", occupancy, step_returns[at])
        arrivals = torch.einsum("...s,...sj->...j", occupancy, moves[at])
        occupancy = torch.cat([torch.zeros_like(occupancy[..., :1]), arrivals], dim=-1)
    return returns


def _is_time_indexed(
    leader: torch.Tensor, follower: torch.Tensor, horizon: int, time_indexed: bool | None
) -> bool:
    """Resolve the follower table's kind and check its shape (see :func:`deterministic_returns`)."""
    if time_indexed is None:
        return follower.ndim == leader.ndim + 1 and follower.shape[-2] == horizon
    if not isinstance(time_indexed, bool):
        raise ValueError(f"time_indexed must be None, True or False; got {time_indexed!r}")
    if time_indexed and (follower.ndim < 2 or follower.shape[-2] != horizon):
        raise ValueError(
            f"A time-indexed follower table must have shape (..., horizon={horizon}, "
            f"{NUM_STATES}); got {tuple(follower.shape)}"
        )
    return time_indexed


# ---------------------------------------------------------------------------------------------
# Time-aware best response (finite-horizon dynamic programming)
# ---------------------------------------------------------------------------------------------


def time_aware_best_response(
    payoffs: torch.Tensor | np.ndarray,
    leader_policy: torch.Tensor,
    horizon: int,
    ties: str = "optimistic",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The follower's exact best response to a stationary, possibly stochastic leader.

    Backward induction over ``(t, state)`` (paper 003 section 2's follower oracle, exact): with
    ``V_H = 0``, ``Q_t(s, b) = sum_a pi_L(a | s) * (r(a, b) + V_{t+1}(1 + 2a + b))`` and the
    follower picks a maximiser of its own ``Q``. Ties among its maximisers follow ``ties``; for
    ``"optimistic"`` / ``"pessimistic"`` this is the lexicographic DP on (follower value, leader
    value), which is exact because the set of follower-optimal policies is a product over
    ``(t, state)`` of sets of optimal actions.

    Args:
        payoffs: ``(2, 2, 2)``, ``[leader action, follower action, player]``.
        leader_policy: ``(..., 5, 2)`` action probabilities per state (floating point).
        horizon: number of steps ``H >= 1``.
        ties: ``"optimistic"``, ``"pessimistic"`` or ``"first"``.

    Returns:
        ``(follower_value (...,), leader_value (...,), policy (..., H, 5) long)`` with values from
        the start state and ``policy[..., t, s]`` the follower's action at step ``t`` in ``s``.
    """
    horizon = check_horizon(horizon)
    ties = _check_choice(ties, TIES, "ties")
    table = _payoff_table(payoffs)
    pi = _leader_probabilities(leader_policy).to(table.device)
    # values[..., s, player] at step t + 1; zero after the last step.
    values = torch.zeros(*pi.shape[:-2], NUM_STATES, 2, dtype=_DTYPE, device=table.device)
    actions = []
    for _ in range(horizon):
        # q[..., s, b, player] = sum_a pi[s, a] * (r[a, b] + V_{t+1}[1 + 2a + b]).
        next_values = values[..., 1:, :].reshape(*values.shape[:-2], NUM_ACTIONS, NUM_ACTIONS, 2)
        q = torch.einsum("...sa,...abp->...sbp", pi, table + next_values)
        action = _choose(q[..., FOLLOWER], q[..., LEADER], ties)
        values = q.gather(-2, action[..., None, None].expand(*action.shape, 1, 2)).squeeze(-2)
        actions.append(action)
    policy = torch.stack(actions[::-1], dim=-2)
    return values[..., 0, FOLLOWER], values[..., 0, LEADER], policy


def _choose(follower_score: torch.Tensor, leader_score: torch.Tensor, ties: str) -> torch.Tensor:
    """Index (over the last dim) of the follower's choice with ``ties`` broken as documented.

    A candidate is follower-optimal within :data:`TIE_TOLERANCE`; ``"optimistic"`` then keeps the
    candidates best for the leader (``"pessimistic"``: worst), and the lowest index wins.
    """
    best = follower_score.max(-1, keepdim=True).values
    candidates = follower_score >= best - TIE_TOLERANCE
    if ties != "first":
        sign = 1.0 if ties == "optimistic" else -1.0
        score = torch.where(candidates, sign * leader_score, -torch.inf)
        candidates = candidates & (score >= score.max(-1, keepdim=True).values - TIE_TOLERANCE)
    return candidates.to(torch.int8).argmax(-1)  # argmax returns the first maximal index


# ---------------------------------------------------------------------------------------------
# Stationary deterministic best response
# ---------------------------------------------------------------------------------------------


def stationary_response_returns(
    payoffs: torch.Tensor | np.ndarray, leader_actions: torch.Tensor, horizon: int
) -> torch.Tensor:
    """``(..., 32, 2)``: both players' returns for every deterministic stationary follower
    policy (in :func:`memory_one_policies` order) against deterministic leaders ``(..., 5)``."""
    leader = _action_table(leader_actions, "leader_actions")
    followers = memory_one_policies().to(leader.device)
    return deterministic_returns(
        payoffs, leader.unsqueeze(-2), followers, horizon, time_indexed=False
    )


def stationary_best_response(
    payoffs: torch.Tensor | np.ndarray,
    leader_actions: torch.Tensor,
    horizon: int,
    ties: str = "optimistic",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Best of the 32 deterministic stationary follower policies against each leader table.

    Returns ``(follower_value (...,), leader_value (...,), policy (..., 5) long)``; ties among
    follower-optimal policies follow ``ties`` (``"first"``: lowest policy index). See the module
    docstring for why this is not the best stationary policy when stochastic ones are allowed.
    """
    ties = _check_choice(ties, TIES, "ties")
    returns = stationary_response_returns(payoffs, leader_actions, horizon)
    index = _choose(returns[..., FOLLOWER], returns[..., LEADER], ties)
    chosen = returns.gather(-2, index[..., None, None].expand(*index.shape, 1, 2)).squeeze(-2)
    policy = memory_one_policies().to(index.device)[index]
    return chosen[..., FOLLOWER], chosen[..., LEADER], policy


# ---------------------------------------------------------------------------------------------
# Regret and the Stackelberg optimum
# ---------------------------------------------------------------------------------------------


def follower_regret(
    payoffs: torch.Tensor | np.ndarray,
    leader_actions: torch.Tensor,
    follower_actions: torch.Tensor,
    horizon: int,
    reference: str = "stationary",
    *,
    time_indexed: bool | None = None,
) -> torch.Tensor:
    """``(...,)``: best-response value minus the follower's value (paper 003, Appendix C check).

    ``follower_actions`` is stationary ``(..., 5)`` or time-indexed ``(..., horizon, 5)`` as in
    :func:`deterministic_returns`. ``reference="stationary"`` compares with the best of the 32
    deterministic stationary policies (a time-indexed follower can then have negative regret);
    ``"time_aware"`` with the DP optimum (regret >= 0 up to round-off).
    """
    reference = _check_choice(reference, FOLLOWER_KINDS, "reference")
    leader = _action_table(leader_actions, "leader_actions")
    own = deterministic_returns(
        payoffs, leader, follower_actions, horizon, time_indexed=time_indexed
    )[..., FOLLOWER]
    if reference == "stationary":
        best = stationary_best_response(payoffs, leader, horizon, ties="first")[0]
    else:
        best = time_aware_best_response(payoffs, _one_hot(leader), horizon, ties="first")[0]
    return best.to(own.device) - own


@dataclass(frozen=True, eq=False)
class StackelbergSolution:
    """A best deterministic memory-one leader and the follower's response to it.

    Attributes:
        leader_policy: ``(5,)`` long, the leader's action in each state.
        follower_policy: ``(5,)`` long (stationary) or ``(horizon, 5)`` long (time-aware).
        leader_return: the leader's undiscounted episode return (raw payoffs).
        follower_return: the follower's.
        follower: ``"stationary"`` or ``"time_aware"``, the response class.
        ties: the tie-breaking rule used for the follower's response.
    """

    leader_policy: torch.Tensor
    follower_policy: torch.Tensor
    leader_return: float
    follower_return: float
    follower: str
    ties: str


def stackelberg_optimum(
    payoffs: torch.Tensor | np.ndarray,
    horizon: int,
    follower: str = "stationary",
    ties: str = "optimistic",
) -> StackelbergSolution:
    """Best deterministic memory-one leader against a best-responding follower (paper 003,
    Appendix A, Definition 2 / Eq. 1, restricted to the 32 deterministic leaders).

    ``follower="stationary"``: best of the 32 stationary deterministic follower policies;
    ``"time_aware"``: the DP response. ``ties="optimistic"`` gives the strong Stackelberg
    equilibrium, ``"pessimistic"`` the weak one. Among equally good leaders (within
    :data:`TIE_TOLERANCE`) the lowest policy index wins.
    """
    follower = _check_choice(follower, FOLLOWER_KINDS, "follower")
    ties = _check_choice(ties, TIES, "ties")
    leaders = memory_one_policies()
    if follower == "stationary":
        follower_values, leader_values, responses = stationary_best_response(
            payoffs, leaders, horizon, ties
        )
    else:
        follower_values, leader_values, responses = time_aware_best_response(
            payoffs, _one_hot(leaders), horizon, ties
        )
    best = leader_values.max()
    index = int((leader_values >= best - TIE_TOLERANCE).to(torch.int8).argmax())
    return StackelbergSolution(
        leader_policy=leaders[index],
        follower_policy=responses[index].cpu(),
        leader_return=float(leader_values[index]),
        follower_return=float(follower_values[index]),
        follower=follower,
        ties=ties,
    )


# ---------------------------------------------------------------------------------------------
# Validation and small helpers
# ---------------------------------------------------------------------------------------------


def _payoff_table(payoffs: torch.Tensor | np.ndarray) -> torch.Tensor:
    """``payoffs`` as a float64 tensor of shape ``(2, 2, 2)`` (copied from numpy)."""
    if isinstance(payoffs, torch.Tensor):
        table = payoffs.to(_DTYPE)
    else:  # copy: MatrixGame.payoffs is a read-only numpy array
        table = torch.tensor(np.asarray(payoffs), dtype=_DTYPE)
    expected = (NUM_ACTIONS, NUM_ACTIONS, 2)
    if tuple(table.shape) != expected:
        raise ValueError(
            f"payoffs must have shape {expected} ([leader action, follower action, player]); "
            f"got {tuple(table.shape)}"
        )
    return table


def _action_table(actions: torch.Tensor, name: str) -> torch.Tensor:
    """``actions`` as a long tensor ``(..., 5)`` with entries in {0, 1}, or ValueError."""
    table = torch.as_tensor(actions)
    if table.is_floating_point() or table.is_complex() or table.dtype == torch.bool:
        raise ValueError(f"{name} must be an integer tensor of actions; got dtype {table.dtype}")
    if table.ndim < 1 or table.shape[-1] != NUM_STATES:
        raise ValueError(
            f"{name} must have shape (..., {NUM_STATES}), one action per memory-one state; "
            f"got {tuple(table.shape)}"
        )
    if table.numel() and not bool(((table == 0) | (table == 1)).all()):
        raise ValueError(f"{name} entries must be actions in [0, 1] (C, D); got {table.unique()}")
    return table.long()


def _leader_probabilities(policy: torch.Tensor) -> torch.Tensor:
    """Floating ``(..., 5, 2)`` rows that are probability distributions, as float64."""
    if not isinstance(policy, torch.Tensor) or not policy.is_floating_point():
        raise ValueError(
            f"leader_policy must be a floating-point torch tensor of probabilities; "
            f"got {type(policy).__name__}"
            + (f" of dtype {policy.dtype}" if isinstance(policy, torch.Tensor) else "")
        )
    if policy.ndim < 2 or tuple(policy.shape[-2:]) != (NUM_STATES, NUM_ACTIONS):
        raise ValueError(
            f"leader_policy must have shape (..., {NUM_STATES}, {NUM_ACTIONS}); "
            f"got {tuple(policy.shape)}"
        )
    pi = policy.detach().to(_DTYPE)
    tolerance = 1e-6
    if not (bool((pi >= -tolerance).all()) and bool(((pi.sum(-1) - 1).abs() <= tolerance).all())):
        raise ValueError(
            "leader_policy rows must be probability distributions (entries >= 0 summing to 1); "
            f"got entries in [{float(pi.min()):.4g}, {float(pi.max()):.4g}]"
        )
    return pi


def _one_hot(actions: torch.Tensor) -> torch.Tensor:
    """Deterministic tables ``(..., 5)`` as probability tables ``(..., 5, 2)`` (float64)."""
    return torch.nn.functional.one_hot(actions, NUM_ACTIONS).to(_DTYPE)


def _check_choice(value: str, allowed: tuple[str, ...], name: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}; got {value!r}")
    return value


def _broadcast(*shapes: torch.Size) -> torch.Size:
    """``torch.broadcast_shapes`` with a ValueError naming the shapes."""
    try:
        return torch.broadcast_shapes(*shapes)
    except RuntimeError as error:
        raise ValueError(
            f"Leading (batch) dims of the leader and follower tables do not broadcast: "
            f"{[tuple(shape) for shape in shapes]}"
        ) from error
