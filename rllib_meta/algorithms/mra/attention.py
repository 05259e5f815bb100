"""Masked attention over the entity tokens of the particle worlds (paper 002, Eq. 1).

An observation is a dict of tensors with any leading axes ``(...)``, usually ``(B, N)`` (games,
agents), keyed as :data:`envs.particle.OBS_KEYS`: ``self`` ``(..., 8)``, ``others``
``(..., K, 8)`` with ``others_mask`` ``(..., K)``, ``landmarks`` ``(..., L, 4)`` with
``landmarks_mask`` ``(..., L)``, and ``game`` ``(..., 3)``. ``K = max_agents - 1`` and ``L`` are
fixed across populations; slots past the game's own agents and landmarks are padding, mask 0.

Masks are what make one network serve every population: an attention weight on a masked
entity is exactly 0 and the softmax runs over the rest, so padding (whatever its contents)
changes no output. An agent out of the game (a caught Pac-Man, ``active`` 0) is masked too:
no agent attends to it.

Slot ``k`` of agent ``i``'s ``others`` holds agent ``other_agent_index(N, K)[i, k]`` (the agents
``j != i`` in index order, as the env builds them); :func:`gather_others` uses it to give each
agent the other agents' per-agent values (their actions, for the centralised critic).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from envs.particle import AGENT_FEATURES

Observation = Mapping[str, torch.Tensor]

ACTIVE = AGENT_FEATURES.index("active")


def masked_softmax(logits: torch.Tensor, mask: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Softmax of ``logits`` over the entries where ``mask`` is true (broadcast to ``logits``).

    Masked entries get exactly 0 and do not enter the normaliser; a row with no unmasked entry
    is all zeros (no NaN, forward or backward).
    """
    mask = mask.bool().expand_as(logits)
    logits = logits.masked_fill(~mask, float("-inf"))
    logits = torch.where(mask.any(dim, keepdim=True), logits, torch.zeros_like(logits))
    return torch.softmax(logits, dim) * mask.to(logits.dtype)


class _SmallMatmul(torch.autograd.Function):
    """``a @ b`` on ``(..., m, k)`` and ``(..., k, n)`` of one leading shape, whose backward
    writes a gradient that is an outer product (``m = 1`` for ``b``'s, ``n = 1`` for ``a``'s)
    as a broadcast product: batched matrix products with an inner size of 1 (an agent's one
    query against its ``K`` tokens) run several times slower on CPU than the product itself.
    Same values as autograd's ``matmul`` backward (up to float rounding)."""

    @staticmethod
    def forward(ctx, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(a, b)
        return torch.matmul(a, b)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        a, b = ctx.saved_tensors
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            b_t = b.transpose(-1, -2)
            grad_a = grad * b_t if b.shape[-1] == 1 else torch.matmul(grad, b_t)
        if ctx.needs_input_grad[1]:
            a_t = a.transpose(-1, -2)
            grad_b = a_t * grad if a.shape[-2] == 1 else torch.matmul(a_t, grad)
        return grad_a, grad_b


def small_matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``torch.matmul(a, b)`` for ``(..., m, k) @ (..., k, n)``, with :class:`_SmallMatmul`'s
    backward where both share their leading shape (``torch.matmul`` itself otherwise)."""
    if a.shape[:-2] != b.shape[:-2] or not torch.is_grad_enabled():
        return torch.matmul(a, b)
    return _SmallMatmul.apply(a, b)


def attend(weights: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """``sum_k w_k v_k``: weights ``(..., K)``, values ``(..., K, D)`` -> ``(..., D)``.

    ``weights`` may carry extra leading axes (e.g. ``n`` resampled graphs ``(n, ..., K)``
    against one set of values ``(..., K, D)``); they are moved next to ``K`` so that one
    batched matrix product serves them all, without copying ``values`` ``n`` times.
    """
    extra = weights.ndim - (values.ndim - 1)
    if extra <= 0:
        return small_matmul(weights.unsqueeze(-2), values).squeeze(-2)
    lead = weights.shape[:extra]
    stacked = weights.flatten(0, extra - 1).movedim(0, -2)  # (..., m, K)
    return small_matmul(stacked, values).movedim(-2, 0).unflatten(0, lead)


def others_mask(obs: Observation) -> torch.Tensor:
    """``(..., K)`` bool: the other agents that exist in this game and are still in it."""
    return (obs["others_mask"] > 0) & (obs["others"][..., ACTIVE] > 0)


def landmarks_mask(obs: Observation) -> torch.Tensor:
    """``(..., L)`` bool: the landmark slots that hold a landmark of this game."""
    return obs["landmarks_mask"] > 0


def other_agent_index(num_agents: int, num_slots: int) -> torch.Tensor:
    """``(N, K)`` long: agent ``i``'s ``others`` slot ``k`` holds agent ``index[i, k]``.

    Row ``i`` is ``[j for j in range(N) if j != i]`` (the env's order), then 0 for the padding
    slots (they are masked; any valid index serves).
    """
    if num_slots < num_agents - 1:
        raise ValueError(
            f"num_slots ({num_slots}) must be at least num_agents - 1 ({num_agents - 1})"
        )
    slots = torch.arange(num_slots)
    observers = torch.arange(num_agents).unsqueeze(-1)
    index = slots + (slots >= observers).long()  # slot k holds agent k below i, k + 1 above
    return torch.where(slots < num_agents - 1, index, torch.zeros_like(index))


def gather_others(values: torch.Tensor, num_slots: int, dim: int = 1) -> torch.Tensor:
    """Each agent's view of the other agents' values, ordered as its ``others`` slots.

    ``values`` ``(..., N, *F)`` with the agent axis at ``dim`` -> ``(..., N, K, *F)``: entry
    ``[..., i, k]`` is agent ``other_agent_index(N, K)[i, k]``'s value (padding slots repeat
    agent 0; mask them).
    """
    dim = dim % values.ndim
    index = other_agent_index(values.shape[dim], num_slots).to(values.device)
    picked = values.index_select(dim, index.flatten())
    return picked.unflatten(dim, tuple(index.shape))
