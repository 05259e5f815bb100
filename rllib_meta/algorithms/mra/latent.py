"""The low-level latent z of MRA (paper 002, section 4.2 and Appendix C).

``z`` is categorical over ``|Z|`` values (default 6, App. E.1), drawn per agent at the start of
an episode (Algorithm 4) and kept as a one-hot ``(..., |Z|)`` vector:

* ``learned``: ``z ~ p_psi(z | m)`` with the game descriptor ``m`` (agents per role, landmark
  count), drawn by the hard Gumbel-softmax so that ``psi`` gets gradients (App. C: "the
  Gumbel-softmax trick can be used for discrete z");
* ``uniform``: uni-MRA (section 7.2), ``z`` uniform whatever the game, nothing to learn;
* ``none``: no latent; the relation network is plain attention (the baselines' relational
  representation).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

LATENTS = ("learned", "uniform", "none")


class LatentPrior(nn.Module):
    """``p_psi(z | m)`` (section 4.2, Algorithm 4): an MLP from the game descriptor ``m`` to
    ``|Z|`` logits.

    ``m`` holds counts (agents per role, landmarks: up to 48), read as ``log(1 + m)`` so the
    inputs stay of order 1 and unseen larger populations extrapolate smoothly.
    """

    def __init__(self, descriptor_width: int, num_latents: int, hidden_size: int = 32):
        super().__init__()
        self.network = nn.Sequential(
            nn.Linear(descriptor_width, hidden_size),
            nn.LeakyReLU(),
            nn.Linear(hidden_size, num_latents),
        )

    def forward(self, game: torch.Tensor) -> torch.Tensor:
        """``game`` ``(..., D)`` -> logits ``(..., |Z|)``."""
        return self.network(torch.log1p(game.clamp_min(0.0)))


def gumbel_softmax_hard(
    logits: torch.Tensor,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Straight-through Gumbel-softmax sample of ``Categorical(logits)`` (Jang et al. 2016;
    paper 002, App. C, for the discrete z).

    Forward: exactly ``one_hot(argmax(logits + G))`` with ``G`` standard Gumbel noise, so
    ``z ~ softmax(logits)``. Backward: the gradient of ``softmax((logits + G) / temperature)``
    (written ``hard + (soft - soft.detach())``, whose value is ``hard`` bit for bit).
    ``generator`` makes the draw reproducible (``torch.nn.functional.gumbel_softmax`` takes none).
    """
    exponential = torch.empty_like(logits).exponential_(generator=generator)
    soft = torch.softmax((logits - exponential.log()) / temperature, dim=-1)
    hard = F.one_hot(soft.argmax(dim=-1), logits.shape[-1]).to(logits.dtype)
    return hard + (soft - soft.detach())


def uniform_latent(
    shape: tuple[int, ...],
    num_latents: int,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """One-hot ``z`` ``(*shape, |Z|)`` drawn uniformly (uni-MRA, section 7.2); no gradient."""
    index = torch.randint(num_latents, shape, generator=generator)
    return F.one_hot(index, num_latents).to(dtype)
