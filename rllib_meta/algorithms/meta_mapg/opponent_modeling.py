"""Opponent modeling for decentralized meta-training (paper 001, App. B, Algorithms 3-4).

The meta-agent does not see its peers' parameters; it infers them from their actions by
maximum likelihood (Eq. 15, after Foerster et al. 2018a). For the tabular peers of the matrix
games the maximiser of sum_t log pi(a_t | s_t; phi) is closed-form: the log of the empirical
action frequencies per state, which Algorithm 4's gradient ascent converges to. A symmetric
Dirichlet prior (``prior_count`` pseudo-counts per action) keeps unvisited states uniform and
the logits finite.
"""

import torch


def infer_tabular_logits(
    states: torch.Tensor,
    actions: torch.Tensor,
    num_states: int,
    num_actions: int,
    prior_count: float = 0.5,
) -> torch.Tensor:
    """MAP estimate of a tabular softmax policy from ``(states, actions)`` of any equal shape:
    ``(S, A)`` log-probabilities (valid logits)."""
    index = states.reshape(-1).long() * num_actions + actions.reshape(-1).long()
    counts = torch.bincount(index, minlength=num_states * num_actions).reshape(
        num_states, num_actions
    )
    smoothed = counts.to(torch.float32) + prior_count
    return torch.log(smoothed / smoothed.sum(-1, keepdim=True))
