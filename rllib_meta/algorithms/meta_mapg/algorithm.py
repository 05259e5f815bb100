"""Meta-MAPG and its baselines as RLlib Algorithms (paper 001, Algorithms 1-2): ``MetaMAPG``,
``MetaPG``, ``LOLADiCE`` and ``REINFORCE``.

One training iteration: EnvRunners sample ``chains_per_iteration`` Markov chains against
training personas (no graph), the Learner replays them with ``create_graph=True`` and takes
one meta-gradient step, and the new ``phi_0`` goes back to the EnvRunners. Every
``validation_interval`` iterations the meta-agent is meta-tested on the validation personas
(model selection, App. D); ``rllib evaluate`` meta-tests checkpoints on the test personas.
"""

import argparse
import math

import numpy as np

from rllib_meta.algorithms.base.algorithm import MetaAlgorithm
from rllib_meta.algorithms.meta_mapg.config import MetaMAPGConfig
from rllib_meta.algorithms.meta_mapg.meta_test import auc

VALIDATION = "validation"
META_LEARNER = "meta_learner"


class MetaMAPG(MetaAlgorithm):
    """Meta-MAPG (Eq. 6): own-learning and peer-learning terms through both agents' inner
    updates. ``MetaPG``, ``REINFORCE`` and the ablations are configurations of it."""

    RESULT_GROUPS = (META_LEARNER, VALIDATION)

    _best_validation_auc = -math.inf
    _last_validation: dict | None = None

    @classmethod
    def get_default_config(cls) -> MetaMAPGConfig:
        return MetaMAPGConfig(algo_class=cls)

    # -- training --------------------------------------------------------------------------

    def training_step(self) -> None:
        records = self._sample_training_chains()
        result = self.update_on_learners(lambda learner: learner.update_from_chains(records))
        self._log_learner_results(result)
        self.log_env_steps(len(records) * self.env_runner.env_steps_per_chain)
        # Meta-validate after the first iteration and after every `interval`-th, so that a
        # checkpoint taken every `interval` iterations holds the parameters just validated.
        interval = self.config.validation_interval
        if interval and (self.iteration == 0 or (self.iteration + 1) % interval == 0):
            self._last_validation = self._validate()
        if self._last_validation is not None:
            self.log_results(VALIDATION, self._last_validation)

    def _sample_training_chains(self) -> list[dict]:
        """``chains_per_iteration`` chains, split into shares over the sampling EnvRunners."""
        total, split = self.config.chains_per_iteration, self.config.train_split
        per_share = self.sample_on_runners(
            lambda runner: runner.sample_chains(runner.share.of(total), split)
        )
        return [record for records in per_share for record in records]

    def _log_learner_results(self, results: dict) -> None:
        rates = results.pop("inner_learning_rates")
        self.log_results(META_LEARNER, results)
        self.log_results(
            "meta_learner", {f"inner_learning_rate_{step}": rate for step, rate in enumerate(rates)}
        )

    def _validate(self) -> dict[str, float]:
        """Meta-validation (Algorithm 2 on the validation personas)."""
        result = self.env_runner.meta_test(
            self.config.validation_split, self.config.validation_chains
        )
        curve = result["rewards"][:, :, 0].mean(0)  # meta-agent, per joint policy
        score = float(auc(curve))
        self._best_validation_auc = max(self._best_validation_auc, score)
        metrics = {f"agent_reward_step_{step}": float(v) for step, v in enumerate(curve)}
        return {**metrics, "auc": score, "best_auc": self._best_validation_auc}

    def get_state(self, components=None, *, not_components=None, **kwargs) -> dict:
        state = super().get_state(components, not_components=not_components, **kwargs)
        state[VALIDATION] = {"last": self._last_validation, "best_auc": self._best_validation_auc}
        return state

    def set_state(self, state: dict) -> None:
        super().set_state(state)
        if VALIDATION in state:  # so a resumed run keeps reporting and selecting as before
            self._last_validation = state[VALIDATION]["last"]
            self._best_validation_auc = state[VALIDATION]["best_auc"]

    # -- meta-testing (rllib evaluate) -----------------------------------------------------

    def meta_test(self, split: str = "test") -> dict[str, np.ndarray]:
        """Algorithm 2 on ``split`` with the current ``phi_0``: see ``MetaMAPGEnvRunner``."""
        return self.env_runner.meta_test(split)

    @classmethod
    def evaluate_checkpoints(cls, paths: list[str], args: argparse.Namespace) -> int:
        """``rllib evaluate``: meta-testing on the test personas (see ``meta_test.py``)."""
        from rllib_meta.algorithms.meta_mapg.meta_test import evaluate_checkpoints

        return evaluate_checkpoints(paths, args)

    @classmethod
    def evaluate_options(cls, infos: list) -> dict[str, tuple[str, ...] | None]:
        """The ``rllib evaluate`` options meta-testing reads, and the allowed splits."""
        from rllib_meta.algorithms.meta_mapg.meta_test import evaluate_options

        return evaluate_options(infos)


class MetaPG(MetaMAPG):
    """Meta-PG (Al-Shedivat et al. 2018, as improved in paper 001 App. D.1): Meta-MAPG
    without the peer-learning term."""

    @classmethod
    def get_default_config(cls) -> MetaMAPGConfig:
        return MetaMAPGConfig(algo_class=cls).training(peer_learning=False)


class REINFORCE(MetaMAPG):
    """REINFORCE baseline (paper 001, Section 5): a plain policy-gradient meta-agent that
    models neither its own nor its peers' learning."""

    @classmethod
    def get_default_config(cls) -> MetaMAPGConfig:
        return MetaMAPGConfig(algo_class=cls).training(
            meta_gradient="reinforce", own_learning=False, peer_learning=False
        )


class LOLADiCE(MetaMAPG):
    """LOLA-DiCE baseline (Foerster et al. 2018c; paper 001 Section 5 and App. D.2): the
    meta-agent adapts along the chain with LOLA-DiCE steps (``lookahead`` look-ahead steps of
    its peers' updates) and learns its initial policy with the same objective on its first
    trajectories: it shapes its peers' learning but does not model its own, and is not trained
    through the chain. Paper 001 App. I Table 4: look-ahead 1 (also 3, 5)."""

    @classmethod
    def get_default_config(cls) -> MetaMAPGConfig:
        return MetaMAPGConfig(algo_class=cls).training(
            meta_gradient="lola",
            lookahead=1,
            own_learning=False,
            peer_learning=False,
            learn_inner_learning_rates=False,
        )
