"""PCGrad: projecting conflicting gradients (Yu et al. 2020, Algorithm 1).

Meta-MAPG applies it across the meta-batch in the outer loop (paper 000, appendix: across the
gradients of its 5 parallel workers): cooperating and defecting peers can pull the meta-agent
in opposite directions. Each task's gradient ``g_i`` is visited against the other tasks'
gradients in a random order; whenever ``g_i . g_j < 0`` the conflicting component is removed,
``g_i -= (g_i . g_j / |g_j|^2) g_j``, always projecting onto the ORIGINAL ``g_j``. The update
is the sum of the projected gradients.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["flatten_gradients", "pcgrad", "unflatten_like"]


def pcgrad(gradients: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Sum of the PCGrad-projected per-task gradients (Yu et al. 2020, Algorithm 1): ``(P,)``.

    Args:
        gradients: ``(N, P)``, one flattened gradient per task (e.g. per Markov chain).
        generator: Source of the random visiting orders (deterministic when given; torch's
            global generator otherwise). Orders are drawn on the CPU.

    Every task is projected in parallel: step ``k`` projects each ``g_i`` onto the normal plane of
    the ``k``-th task of its own random order, so the Python loop is over the ``N - 1`` steps,
    not over tasks. A zero ``g_j`` never conflicts (its dot product is 0) and is skipped.
    """
    if not isinstance(gradients, torch.Tensor) or not gradients.is_floating_point():
        raise ValueError(f"gradients must be a floating-point tensor; got {type(gradients)}")
    if gradients.ndim != 2 or gradients.shape[0] < 1:
        raise ValueError(f"gradients must have shape (N, P) with N >= 1; got {gradients.shape}")
    orders = _visiting_orders(gradients.shape[0], generator).to(gradients.device)
    squared_norms = (gradients * gradients).sum(dim=1)
    projected = gradients
    for step in range(orders.shape[1]):
        others = orders[:, step]
        other_gradients = gradients[others]  # the originals, never the projected ones
        dots = (projected * other_gradients).sum(dim=1)
        norms = squared_norms[others]
        conflicting = (dots < 0) & (norms > 0)
        # Safe denominator so the unused branch of `where` has no 0/0 (NaN gradients).
        scale = torch.where(conflicting, dots / torch.where(norms > 0, norms, 1.0), 0.0)
        projected = projected - scale.unsqueeze(1) * other_gradients
    return projected.sum(dim=0)


def _visiting_orders(count: int, generator: torch.Generator | None) -> torch.Tensor:
    """``(N, N - 1)``: row ``i`` is a uniformly random permutation of the tasks other than ``i``.

    Sorting i.i.d. uniform keys gives a uniform permutation per row; task ``i``'s own key is set
    to 2 (above every uniform) so it sorts last and is dropped.
    """
    keys = torch.rand(count, count, generator=generator)
    keys.fill_diagonal_(2.0)
    return torch.argsort(keys, dim=1)[:, : count - 1]


def flatten_gradients(
    grads: Sequence[torch.Tensor | None], params: Sequence[torch.Tensor]
) -> torch.Tensor:
    """Concatenate per-parameter gradients into one vector; ``None`` (unused) counts as zeros."""
    if len(grads) != len(params):
        raise ValueError(f"got {len(grads)} gradients for {len(params)} parameters")
    pieces = []
    for index, (grad, param) in enumerate(zip(grads, params, strict=True)):
        if grad is None:
            pieces.append(torch.zeros_like(param).reshape(-1))
            continue
        if grad.shape != param.shape:
            raise ValueError(
                f"gradient {index} has shape {tuple(grad.shape)}, its parameter "
                f"{tuple(param.shape)}"
            )
        pieces.append(grad.reshape(-1))
    return torch.cat(pieces)


def unflatten_like(vector: torch.Tensor, params: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Split a flat vector back into tensors shaped like ``params`` (inverse of flattening)."""
    sizes = [param.numel() for param in params]
    if vector.ndim != 1 or vector.numel() != sum(sizes):
        raise ValueError(
            f"vector must be 1-D with {sum(sizes)} entries to match the parameters; "
            f"got shape {tuple(vector.shape)}"
        )
    chunks = torch.split(vector, sizes)
    return [chunk.reshape(param.shape) for chunk, param in zip(chunks, params, strict=True)]
