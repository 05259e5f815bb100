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
from ray.rllib.algorithms.algorithm import Algorithm
from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME

from rllib_meta.algorithms.meta_mapg.config import MetaMAPGConfig
from rllib_meta.algorithms.meta_mapg.meta_test import auc

VALIDATION = "validation"


class MetaMAPG(Algorithm):
    """Meta-MAPG (Eq. 6): own-learning and peer-learning terms through both agents' inner
    updates. ``MetaPG``, ``REINFORCE`` and the ablations are configurations of it."""

    _best_validation_auc = -math.inf
    _last_validation: dict | None = None

    @classmethod
    def get_default_config(cls) -> MetaMAPGConfig:
        return MetaMAPGConfig(algo_class=cls)

    # -- training --------------------------------------------------------------------------

    def training_step(self) -> None:
        records = self._sample_training_chains()
        (result,) = self.learner_group.foreach_learner(
            lambda learner, chains=records: learner.update_from_chains(chains)
        )
        self.env_runner_group.sync_weights(
            from_worker_or_learner_group=self.learner_group, inference_only=False
        )
        self._log_learner_results(result.get())
        steps = len(records) * self.env_runner.env_steps_per_chain
        self.metrics.log_value(
            (ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME), steps, reduce="lifetime_sum"
        )
        # Meta-validate after the first iteration and after every `interval`-th, so that a
        # checkpoint taken every `interval` iterations holds the parameters just validated.
        interval = self.config.validation_interval
        if interval and (self.iteration == 0 or (self.iteration + 1) % interval == 0):
            self._last_validation = self._validate()
        if self._last_validation is not None:
            for key, value in self._last_validation.items():
                self.metrics.log_value((VALIDATION, key), value, reduce="mean", window=1)

    def _sample_training_chains(self) -> list[dict]:
        total = self.config.chains_per_iteration
        split = self.config.train_split
        if self.env_runner_group.num_remote_env_runners() == 0:
            return self.env_runner.sample_chains(total, split)
        runners = self.env_runner_group.num_remote_env_runners()
        shares = [total // runners + (i < total % runners) for i in range(runners)]
        per_runner = self.env_runner_group.foreach_env_runner(
            lambda runner, shares=shares: runner.sample_chains(
                shares[runner.worker_index - 1], split
            ),
            local_env_runner=False,
        )
        return [record for records in per_runner for record in records]

    def _log_learner_results(self, results: dict) -> None:
        rates = results.pop("inner_learning_rates")
        for key, value in results.items():
            self.metrics.log_value(("meta_learner", key), value, reduce="mean", window=1)
        for step, rate in enumerate(rates):
            self.metrics.log_value(
                ("meta_learner", f"inner_learning_rate_{step}"), rate, reduce="mean", window=1
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
