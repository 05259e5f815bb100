"""Contextual Stackelberg learning on the Atari bilateral trade (paper 003 section 4, Fig. 2).

``leader: seller | buyer`` commits to a trade policy; the other player best-responds. The
training iterations run, in order:

0. ``gameplay_iterations`` of phase 0 (this implementation's, the paper does not say how its
   ships learned to play): both ships learn to shoot in the real env (PPO on their ship heads
   from the observation, only their own kill rewards; a bullet is fired only when held), with
   the trade head fixed (:class:`~.env_runner.GameplayTrade`: free hand-overs at price 0, so
   both ships hold bullets). Then the ships are frozen and ``value_episodes`` real episodes
   measure each player's mean kill reward per fired bullet, ``v_seller`` and ``v_buyer``
   (unless ``bullet_values`` gives them).
1. - 3. Algorithm 1's phases, :class:`StackelbergMeta`'s own methods (``pretrain_follower``,
   ``train_leader``, ``verify_follower``) on trade episodes of one bullet each, played on the
   per-bullet values (:mod:`.trade_game`): the follower's contextual trade policy pre-trained
   against uniformly random deterministic leaders, its context the leader's answers to the
   query of its trade policy (seller leads: the action it would take, keep or a price; buyer
   leads: accept or reject at each of the 5 prices); the leader trained against the frozen
   follower; the follower trained again against the frozen leader, the returns' changes being
   the equilibrium check (App. C).

Every trade iteration reports the exact check: the greedy pair's per-bullet values against the
leader's optimum (:func:`envs.atari.stackelberg.optimal_trade`) and the follower's regret
against every deterministic leader. ``rllib evaluate`` re-measures the values from the frozen
ships and plays the learned pair in the real env (:mod:`.evaluation`).

Deviation, written down: the trade episodes do not run the emulator; once the ships are frozen
a bullet's worth to each player is the measured number, which is what both equilibria of the
paper are defined by, and the real-env check in ``rllib evaluate`` tests that the learned pair
realises it.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from typing import Any

import numpy as np
import torch

from envs.atari.stackelberg import optimal_trade
from rllib_meta.algorithms.stackelberg.algorithm import METRICS, StackelbergMeta
from rllib_meta.algorithms.stackelberg.atari_trade.config import StackelbergAtariTradeConfig
from rllib_meta.algorithms.stackelberg.atari_trade.env_runner import GAMEPLAY, EpisodeTotals
from rllib_meta.algorithms.stackelberg.atari_trade.trade_game import (
    context_of,
    outcome_table,
    pair_outcome,
    role_values,
)

BULLET_VALUES, VALUE_MEASUREMENT = "bullet_values", "value_measurement"


class StackelbergAtariTrade(StackelbergMeta):
    """Phase 0 (the ships) and Algorithm 1's phases on the trade (see the module docstring)."""

    PHASE_METHODS = {GAMEPLAY: "learn_gameplay", **StackelbergMeta.PHASE_METHODS}
    PHASE_NUMBERS = {GAMEPLAY: 0.0, **StackelbergMeta.PHASE_NUMBERS}

    @classmethod
    def get_default_config(cls) -> StackelbergAtariTradeConfig:
        return StackelbergAtariTradeConfig(algo_class=cls)

    def setup_exact_checks(self) -> None:
        values = self.config.bullet_values
        self.bullet_values: tuple[float, float] | None = (
            (float(values[0]), float(values[1])) if values is not None else None
        )
        self.value_measurement: dict[str, Any] = {}
        self._last_batch: dict[str, np.ndarray] = {}

    def phase_at(self, iteration: int) -> str:
        if iteration < self.config.gameplay_iterations:
            return GAMEPLAY
        return super().phase_at(iteration - self.config.gameplay_iterations)

    def training_step(self) -> None:
        super().training_step()
        self.log_results(METRICS, self._batch_report(self._last_batch))

    # -- phase 0 and the values ------------------------------------------------------------

    def learn_gameplay(self) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """Phase 0: real episodes, then one PPO round of both ship heads."""
        batch = self._sample(GAMEPLAY)
        return batch, self.update_on_learners(lambda learner: learner.update_gameplay(batch))

    def sample_arguments(self, phase: str) -> dict[str, Any]:
        if phase == GAMEPLAY:
            return {}
        if self.bullet_values is None:
            self.measure_bullet_values()
        return {"bullet_values": self.bullet_values}

    def measure_bullet_values(self) -> tuple[float, float]:
        """``v = kill rewards / shots`` per player over ``value_episodes`` real episodes of
        the frozen ships with phase 0's trade rule (0 for a player that never fired)."""
        episodes = self.config.value_episodes
        totals = EpisodeTotals()
        for part in self.sample_on_runners(lambda runner: runner.measure(episodes)):
            totals.add(part)
        self.bullet_values = per_bullet_values(totals)
        self.value_measurement = dataclasses.asdict(totals)
        self.log_env_steps(totals.env_steps)
        return self.bullet_values

    def _sample(self, phase: str) -> dict[str, np.ndarray]:
        self._last_batch = super()._sample(phase)
        return self._last_batch

    # -- reports ---------------------------------------------------------------------------

    def exact_report(self) -> dict[str, float]:
        """The greedy trade pair on the per-bullet values next to the leader's optimum, and the
        follower's regret against every deterministic leader (empty before the values)."""
        if self.bullet_values is None:
            return {}
        (tables,) = self.learner_group.foreach_learner(lambda learner: learner.greedy_tables())
        answers, follower = (torch.as_tensor(t) for t in tables.get())
        return trade_report(
            self.config.leader, answers, follower, self.bullet_values, self.config.ties
        )

    def _batch_report(self, batch: dict[str, np.ndarray]) -> dict[str, float]:
        """What this iteration's batch shows, by player (for the Fig. 2-style curves)."""
        if "seller_buyer_returns" in batch:  # phase 0's real episodes
            returns, shots = batch["seller_buyer_returns"], batch["seller_buyer_shots"]
            return {
                "gameplay_seller_return": float(returns[:, 0].mean()),
                "gameplay_buyer_return": float(returns[:, 1].mean()),
                "gameplay_seller_shots": float(shots[:, 0].mean()),
                "gameplay_buyer_shots": float(shots[:, 1].mean()),
                "gameplay_episode_length": float(batch["episode_lengths"].mean()),
            }
        values = batch["payoff_returns"]
        seller, buyer = (0, 1) if self.config.leader == "seller" else (1, 0)
        prices = batch["prices"]
        traded = ~np.isnan(prices)
        return {
            "sampled_seller_value": float(values[:, seller].mean()),
            "sampled_buyer_value": float(values[:, buyer].mean()),
            "sampled_trade_rate": float(traded.mean()),
            "sampled_price": float(prices[traded].mean()) if traded.any() else math.nan,
        }

    @classmethod
    def evaluate_checkpoints(cls, paths: list[str], args: argparse.Namespace) -> int:
        """``rllib evaluate``: the equilibrium table, the real-env check and the plot."""
        from rllib_meta.algorithms.stackelberg.atari_trade.evaluation import (
            evaluate_checkpoints,
        )

        return evaluate_checkpoints(paths, args)

    @classmethod
    def evaluate_options(cls, infos: list) -> dict[str, tuple[str, ...] | None]:
        """The re-measurement of the per-bullet values plays ``--episodes`` real episodes
        seeded from ``--seed``; the table and the plot go to ``--output-dir``."""
        return {"episodes": None, "seed": None, "output_dir": None}

    # -- checkpoints -----------------------------------------------------------------------

    def get_state(self, *args, **kwargs) -> dict[str, Any]:
        state = super().get_state(*args, **kwargs)
        state[BULLET_VALUES] = self.bullet_values
        state[VALUE_MEASUREMENT] = self.value_measurement
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        self.bullet_values = state.get(BULLET_VALUES, self.bullet_values)
        self.value_measurement = state.get(VALUE_MEASUREMENT, self.value_measurement)


def per_bullet_values(totals: EpisodeTotals) -> tuple[float, float]:
    """Each player's kill reward per fired bullet (0 for one that never fired)."""
    return tuple(
        totals.kill_rewards[i] / totals.shots[i] if totals.shots[i] else 0.0 for i in (0, 1)
    )


def trade_report(
    leader: str,
    answers: torch.Tensor,
    follower_table: torch.Tensor,
    values: tuple[float, float],
    ties: str = "pessimistic",
) -> dict[str, float]:
    """The exact check of a greedy trade pair: the leader's answers ``(queries,)`` and the
    follower's greedy action per context ``(contexts,)`` on the per-bullet ``values``."""
    v_seller, v_buyer = values
    context = int(context_of(leader, answers))
    response = int(follower_table[context])
    outcome = pair_outcome(leader, answers, response, v_seller, v_buyer)
    optimum = optimal_trade(leader, v_seller, v_buyer, ties)
    leader_value, follower_value = role_values(leader, outcome)
    optimum_leader, optimum_follower = role_values(leader, optimum)
    follower_values = outcome_table(leader, v_seller, v_buyer)[..., 1]
    chosen = follower_values.gather(-1, follower_table.long().unsqueeze(-1))[:, 0]
    regret = follower_values.amax(dim=-1) - chosen
    nan = math.nan
    return {
        "v_seller": v_seller,
        "v_buyer": v_buyer,
        "leader_context": float(context),
        "follower_response": float(response),
        "leader_return": leader_value,
        "follower_return": follower_value,
        "seller_return": outcome.seller_value,
        "buyer_return": outcome.buyer_value,
        "seller_gain": outcome.seller_gain,
        "buyer_gain": outcome.buyer_gain,
        "trade_price": outcome.price if outcome.traded else nan,
        "optimum_price": optimum.price if optimum.traded else nan,
        "optimum_leader_return": optimum_leader,
        "optimum_follower_return": optimum_follower,
        "leader_gap": optimum_leader - leader_value,
        "follower_regret_mean": float(regret.mean()),
        "follower_regret_max": float(regret.max()),
    }
