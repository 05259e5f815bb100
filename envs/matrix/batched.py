"""Batched torch core of the iterated matrix games: ``B`` games stepped in lockstep.

Same rules as :class:`envs.matrix.iterated.IteratedMatrixGame` (one :class:`MatrixGame` payoff
table, one state convention from :mod:`envs.matrix.games`), but every step is a handful of tensor
ops on the whole batch, for algorithms that sample many trajectories in one process (e.g. the K
trajectories per chain step of Meta-MAPG, paper 001 Algorithm 2). All games share one clock, so an
episode ends for the whole batch at once after ``horizon`` steps.
"""

from __future__ import annotations

import numpy as np
import torch

from envs.matrix.games import (
    START_STATE,
    MatrixGame,
    check_horizon,
    own_first_state_permutation,
    state_place_values,
)


class BatchedIteratedMatrixGame:
    """``batch_size`` copies of an iterated matrix game as tensors.

    Observations are state indices ``(B, n)`` (long); :meth:`observations_one_hot` turns them into
    the one-hot vectors the PettingZoo env returns. Rewards are ``(payoff + reward_offset) *
    reward_scale`` in ``dtype``. Attributes ``t`` (steps taken) and ``state`` (canonical state
    indices, ``(B,)``) are public for inspection.
    """

    def __init__(
        self,
        game: MatrixGame,
        horizon: int,
        batch_size: int,
        reward_offset: float = 0.0,
        reward_scale: float = 1.0,
        own_first_observation: bool = False,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1; got {batch_size!r}")
        if not dtype.is_floating_point:
            raise ValueError(f"dtype must be a floating-point torch dtype; got {dtype}")
        self.game = game
        self.horizon = check_horizon(horizon)
        self.batch_size = batch_size
        self.own_first_observation = bool(own_first_observation)
        self.device = torch.device(device)
        self.dtype = dtype
        self.num_players = game.num_players
        self.num_actions = game.num_actions
        self.num_states = game.num_states

        # Everything the hot path touches is precomputed on the device once.
        rewards = game.transformed_payoffs(reward_offset, reward_scale).reshape(
            -1, self.num_players
        )
        self._reward_table = torch.as_tensor(rewards, dtype=dtype, device=self.device)
        place_values = state_place_values(self.num_actions, self.num_players)
        self._place_values = torch.as_tensor(place_values, device=self.device)
        self._observed_states = torch.as_tensor(self._observed_state_table(), device=self.device)
        self.state = torch.full((batch_size,), START_STATE, dtype=torch.long, device=self.device)
        self.t = 0

    def _observed_state_table(self) -> np.ndarray:
        """``(S, n)``: the state each player observes in each canonical state (row per state)."""
        if self.own_first_observation:
            return own_first_state_permutation(self.num_actions, self.num_players).T.copy()
        return np.repeat(np.arange(self.num_states)[:, None], self.num_players, axis=1)

    def reset(self) -> torch.Tensor:
        """Put every game in the start state; return observed state indices ``(B, n)``."""
        self.state = torch.full_like(self.state, START_STATE)
        self.t = 0
        return self._observed_states[self.state]

    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """Play one joint action per game.

        Args:
            actions: Long tensor ``(B, n)``, ``actions[b, i]`` = player ``i``'s action in game b.

        Returns:
            Observed state indices ``(B, n)``, rewards ``(B, n)`` in ``dtype``, and ``done``
            (True once ``horizon`` steps have been taken).
        """
        if self.t >= self.horizon:
            raise RuntimeError(
                f"step() called after the episode ended (horizon {self.horizon}); call reset()"
            )
        self._check_actions(actions)
        joint = (actions * self._place_values).sum(dim=-1)  # ravel, player 0 most significant
        self.state = joint + 1
        self.t += 1
        rewards = self._reward_table[joint]
        return self._observed_states[self.state], rewards, self.t >= self.horizon

    def observations_one_hot(self, indices: torch.Tensor) -> torch.Tensor:
        """One-hot ``(..., S)`` in ``dtype`` of observed state indices ``(...)``."""
        return torch.nn.functional.one_hot(indices, self.num_states).to(self.dtype)

    def _check_actions(self, actions: torch.Tensor) -> None:
        """Shape/dtype from metadata, then one reduction over the whole tensor for the range."""
        expected = (self.batch_size, self.num_players)
        if actions.dtype != torch.long or tuple(actions.shape) != expected:
            raise ValueError(
                f"actions must be a torch.long tensor of shape {expected}; got "
                f"{actions.dtype} of shape {tuple(actions.shape)}"
            )
        if bool(((actions < 0) | (actions >= self.num_actions)).any()):
            raise ValueError(
                f"actions must lie in [0, {self.num_actions - 1}]; got values in "
                f"[{int(actions.min())}, {int(actions.max())}]"
            )
