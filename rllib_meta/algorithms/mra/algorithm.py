"""MRA, Meta Representations for Agents (paper 002, Algorithm 1; Algorithm 4 in full), as an
RLlib Algorithm.

One training iteration: every EnvRunner plays ``rollout_steps`` steps of its games of every
training MG (Algorithm 4's rollout lines, all MGs at once), the Learner adds each MG's
transitions to that MG's replay buffer and runs, MG after MG, ``K`` critic and policy steps,
the Reptile outer step (Eq. 6), the mutual-information steps (Eqs. 11, 13) and the target
update (see :mod:`.learner`); the new weights go back to the EnvRunners. Reported per MG
(under ``mra/<label>``, e.g. ``mra/n6``): the mean episode return per agent of the episodes
that ended this iteration (per role too where there are two) and the Learner's losses.
``rllib evaluate`` plays the checkpoints' policies in every training MG, with ``z`` drawn from
``p_psi`` and with each ``z`` fixed (see :mod:`.evaluation`).
"""

from __future__ import annotations

import argparse

import numpy as np
from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS, EPISODE_RETURN_MEAN

from rllib_meta.algorithms.base.algorithm import MetaAlgorithm
from rllib_meta.algorithms.mra.config import MRAConfig
from rllib_meta.algorithms.mra.env_runner import role_slices
from rllib_meta.algorithms.mra.populations import Game, training_games

GROUP = "mra"


class MRA(MetaAlgorithm):
    """MRA and its variants and baselines (the switches of :class:`MRAConfig`)."""

    RESULT_GROUPS = (GROUP,)

    @classmethod
    def get_default_config(cls) -> MRAConfig:
        return MRAConfig(algo_class=cls)

    def setup(self, config) -> None:
        """RLlib's set-up; with ``initial_weights``, the Learner starts from that checkpoint's
        networks and the EnvRunners get them (adaptation, Algorithm 5)."""
        super().setup(config)
        path = self.config.initial_weights
        if path:
            kept = self.learner_group.foreach_learner(
                lambda learner: learner.load_initial_weights(path)
            )
            self.initialised_here = next(iter(kept)).get()
            self.env_runner_group.sync_weights(
                from_worker_or_learner_group=self.learner_group, inference_only=False
            )

    @property
    def games(self) -> list[Game]:
        """The training MGs of the config."""
        if not hasattr(self, "_games"):
            config = self.config
            self._games = training_games(config.env, config.env_config, config.training_populations)
        return self._games

    def training_step(self) -> None:
        samples = self.sample_on_runners(lambda runner: runner.sample())
        games = self.games
        transitions = [
            {
                key: np.concatenate([s["transitions"][game.index][key] for s in samples])
                for key in samples[0]["transitions"][game.index]
            }
            for game in games
        ]
        results = self.update_on_learners(
            lambda learner: learner.update_from_transitions(transitions)
        )
        steps, means = 0, []
        for game in games:
            returns = np.concatenate([s["episode_returns"][game.index] for s in samples])
            metrics = episode_metrics(game, returns)
            self.log_results((GROUP, game.label), {**metrics, **results[game.label]})
            if metrics:
                means.append(metrics["episode_return_mean"])
            steps += len(transitions[game.index]["actions"])
        if means:  # RLlib's key, so that the progress line shows it: the mean over the MGs
            self.log_results(ENV_RUNNER_RESULTS, {EPISODE_RETURN_MEAN: float(np.mean(means))})
        self.log_env_steps(steps)

    @classmethod
    def evaluate_checkpoints(cls, paths: list[str], args: argparse.Namespace) -> int:
        """``rllib evaluate``: per training MG, the mean episode return per agent (95% CI)
        with z drawn from p_psi and with the best fixed z (see :mod:`.evaluation`)."""
        from rllib_meta.algorithms.mra.evaluation import evaluate_checkpoints

        return evaluate_checkpoints(paths, args)


def episode_metrics(game: Game, returns: np.ndarray) -> dict[str, float]:
    """Mean episode return per agent over ``returns`` ``(E, N)`` (and per role where a game
    has several); nothing when no episode ended."""
    if len(returns) == 0:
        return {}
    metrics = {"episode_return_mean": float(returns.mean()), "episodes": float(len(returns))}
    if len(game.task.role_names) > 1:
        for role, agents in zip(game.task.role_names, role_slices(game), strict=True):
            metrics[f"{role}_return_mean"] = float(returns[:, agents].mean())
    return metrics
