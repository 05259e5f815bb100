"""The Reptile outer step (Nichol et al. 2018; paper 002, section 4.4, Eq. 6 and Appendix B).

From parameters ``theta``, take ``K`` gradient steps on one task (for MRA: one training MG),
reaching ``U^K(theta)``; then move ``theta`` towards them:

``theta <- theta + alpha (U^K(theta) - theta)``.

Paper 002's Eq. 6 shows the expected step is ``(K - 1)`` gradients at ``theta`` plus a term
``(K - 1)(K - 2) beta / 2 grad(grad L^k . grad L^j)`` that favours parameters where the
gradients of different mini-batches agree. ``alpha = 1`` (the paper's setting, App. E.1) keeps
``U^K(theta)`` exactly.

Parameters come as a sequence of tensors or a mapping name -> tensor; the caller snapshots
``theta`` (:func:`snapshot`), runs its ``K`` optimizer steps, then applies :func:`reptile_update_`
to the live parameters (or :func:`reptile_step` to build new tensors).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TypeVar

import torch

Params = TypeVar("Params", Sequence[torch.Tensor], Mapping[str, torch.Tensor])

__all__ = ["reptile_step", "reptile_update_", "snapshot"]


def snapshot(parameters: Iterable[torch.Tensor]) -> list[torch.Tensor]:
    """Detached copies of ``parameters`` (``theta`` before the ``K`` inner steps)."""
    return [p.detach().clone() for p in parameters]


def _pairs(initial, adapted) -> list[tuple[torch.Tensor, torch.Tensor]]:
    if isinstance(initial, Mapping) != isinstance(adapted, Mapping):
        raise ValueError("initial and adapted must both be mappings or both be sequences")
    if isinstance(initial, Mapping):
        if set(initial) != set(adapted):
            missing = sorted(set(initial) ^ set(adapted))
            raise ValueError(f"initial and adapted name different parameters: {missing}")
        pairs = [(initial[name], adapted[name]) for name in initial]
    else:
        initial, adapted = list(initial), list(adapted)
        if len(initial) != len(adapted):
            raise ValueError(
                f"initial has {len(initial)} tensors, adapted {len(adapted)}; they must match"
            )
        pairs = list(zip(initial, adapted, strict=True))
    for start, end in pairs:
        if start.shape != end.shape:
            raise ValueError(f"parameter shapes differ: {tuple(start.shape)} vs {tuple(end.shape)}")
    return pairs


def reptile_step(initial: Params, adapted: Params, step_size: float) -> Params:
    """``theta + alpha (U^K(theta) - theta)`` (Eq. 6's update), as new tensors in the
    container type of ``initial`` (a dict for a mapping, a list for a sequence).

    Args:
        initial: ``theta``, the parameters before the ``K`` inner steps.
        adapted: ``U^K(theta)``, the parameters after them (same names or order, same shapes).
        step_size: ``alpha`` (1 returns ``adapted`` exactly; 0 returns ``initial``).
    """
    stepped = [torch.lerp(start, end, step_size) for start, end in _pairs(initial, adapted)]
    if isinstance(initial, Mapping):
        return dict(zip(initial, stepped, strict=True))
    return stepped


def reptile_update_(
    parameters: Sequence[torch.Tensor] | Mapping[str, torch.Tensor],
    initial: Sequence[torch.Tensor] | Mapping[str, torch.Tensor],
    step_size: float,
) -> None:
    """In place: each live parameter, which holds ``U^K(theta)`` after the inner steps,
    becomes ``theta + alpha (U^K(theta) - theta)`` (Eq. 6's update); ``initial`` is ``theta``
    (:func:`snapshot`). No gradient is recorded."""
    with torch.no_grad():
        for start, live in _pairs(initial, parameters):
            live.copy_(torch.lerp(start, live, step_size))
