"""Learning with learning awareness on differentiable games (paper 004) as RLlib Algorithms:
``MeVa``, ``COLA``, ``LOLA``, ``HOLA`` and ``NaiveLearning``, one ``LearningRuleConfig`` each
with its own default ``rule``.

One training iteration is ``strides_per_iteration`` strides: the EnvRunners advance their
policy pairs ``k`` steps along the rule (MeVa: exploratory trajectory plus on-policy rollout),
the Learner takes one model step on the returned trajectories (MeVa, COLA), and the new weights
go back to the EnvRunners. Reported: both players' mean objective where the strides ended, and
the model loss. ``rllib evaluate`` runs the paper's evaluations (basins of attraction on the
Logistic Game, Fig. 2; the IPD panels of Fig. 3) for the checkpoints' learned rules next to the
model-free rules.
"""

from __future__ import annotations

import argparse

import numpy as np

from rllib_meta.algorithms.base.algorithm import MetaAlgorithm
from rllib_meta.algorithms.meta_value.config import LearningRuleConfig
from rllib_meta.core.rule_fields import MODEL_RULES

POLICY_PAIRS = "policy_pairs"


class LearningRuleAlgorithm(MetaAlgorithm):
    """Shared training loop; the subclasses only choose the default ``rule``."""

    RESULT_GROUPS = (POLICY_PAIRS,)

    default_rule = "meva"

    @classmethod
    def get_default_config(cls) -> LearningRuleConfig:
        return LearningRuleConfig(algo_class=cls).training(rule=cls.default_rule)

    def training_step(self) -> None:
        for _ in range(self.config.strides_per_iteration):
            batch = self._sample_stride()
            if self.config.rule in MODEL_RULES:
                result = self.update_on_learners(
                    lambda learner, batch=batch: learner.update_from_trajectories(batch)
                )
                self.log_results(POLICY_PAIRS, {f"model_{k}": v for k, v in result.items()})
        returns = batch["returns"].mean(axis=0)
        self.log_results(
            POLICY_PAIRS, {f"return_player_{i}": float(value) for i, value in enumerate(returns)}
        )
        config = self.config
        self.log_env_steps(config.strides_per_iteration * config.stride * config.policy_pairs)

    def _sample_stride(self) -> dict[str, np.ndarray]:
        """One stride from every EnvRunner, concatenated along the policy-pair axis."""
        batches = self.sample_on_runners(lambda runner: runner.sample())
        return {key: _concatenate_pairs(key, [b[key] for b in batches]) for key in batches[0]}

    @classmethod
    def evaluate_checkpoints(cls, paths: list[str], args: argparse.Namespace) -> int:
        """``rllib evaluate``: the paper's evaluations for these checkpoints' rules."""
        from rllib_meta.algorithms.meta_value.learning_dynamics import evaluate_checkpoints

        return evaluate_checkpoints(paths, args)

    @classmethod
    def evaluate_options(cls, infos: list) -> dict[str, tuple[str, ...] | None]:
        """The ``rllib evaluate`` options these evaluations read: ``--seed`` only the IPD's
        (its sampled panels); the Logistic Game's basins are exact."""
        games = {info.config.env for info in infos}
        seeded = {"seed": None} if "ipd_exact" in games else {}
        return {"output_dir": None, **seeded}


def _concatenate_pairs(key: str, arrays: list[np.ndarray]) -> np.ndarray:
    """Trajectories are ``(k + 1, B, ...)``; everything else is ``(B, ...)``."""
    axis = 1 if key in ("states", "rewards") else 0
    return np.concatenate(arrays, axis=axis)


class MeVa(LearningRuleAlgorithm):
    """Meta-Value Learning (paper 004, Algorithm 1)."""

    default_rule = "meva"


class COLA(LearningRuleAlgorithm):
    """COLA (Willi et al. 2022; paper 004 App. B): a learned consistent look-ahead update."""

    default_rule = "cola"


class LOLA(LearningRuleAlgorithm):
    """Exact LOLA (paper 004 App. B, no Taylor expansion)."""

    default_rule = "lola"


class HOLA(LearningRuleAlgorithm):
    """Higher-order LOLA (paper 004 App. B), ``hola_order`` levels (default 2)."""

    default_rule = "hola"


class NaiveLearning(LearningRuleAlgorithm):
    """Naive learning: simultaneous gradient ascent (paper 004, Eq. 1)."""

    default_rule = "naive"
