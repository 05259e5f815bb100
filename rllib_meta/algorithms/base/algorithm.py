"""``MetaAlgorithm``: the RLlib ``Algorithm`` plumbing every rllib-meta algorithm shares.

A training step of these algorithms is: sample on the EnvRunners by the algorithm's own
method, update on the Learner(s) by the algorithm's own method, send the new weights back to
the EnvRunners, report. The dispatch to every runner, the update-then-sync and the metric
logging are written here once.
"""

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from ray.rllib.algorithms.algorithm import Algorithm
from ray.rllib.env.env_runner import EnvRunner
from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME

Sample = TypeVar("Sample")


class MetaAlgorithm(Algorithm):
    """Base of the rllib-meta algorithms (see the module docstring)."""

    def sample_on_runners(self, sample: Callable[[EnvRunner], Sample]) -> list[Sample]:
        """``sample(runner)`` on every remote EnvRunner, in worker order, or on the local
        runner when there are none (``num_env_runners = 0``)."""
        if self.env_runner_group.num_remote_env_runners() == 0:
            return [sample(self.env_runner)]
        return self.env_runner_group.foreach_env_runner(sample, local_env_runner=False)

    @property
    def num_sampling_runners(self) -> int:
        """How many runners :meth:`sample_on_runners` uses (0: the local one alone)."""
        return self.env_runner_group.num_remote_env_runners()

    def update_on_learners(self, update: Callable[[Any], dict[str, float]]) -> dict[str, float]:
        """``update(learner)`` on every Learner, then the new weights to every EnvRunner.
        Returns the first Learner's result (with several Learners, all take the same step)."""
        results = self.learner_group.foreach_learner(update)
        self.env_runner_group.sync_weights(
            from_worker_or_learner_group=self.learner_group, inference_only=False
        )
        return next(iter(results)).get()

    def log_results(self, group: str | tuple[str, ...], results: Mapping[str, float]) -> None:
        """Report every value of ``results`` under ``group`` (a key or a key path), as this
        iteration's value."""
        path = group if isinstance(group, tuple) else (group,)
        for key, value in results.items():
            self.metrics.log_value((*path, key), value, reduce="mean", window=1)

    def log_env_steps(self, steps: int) -> None:
        """Count ``steps`` environment steps into RLlib's lifetime total."""
        self.metrics.log_value(
            (ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME), steps, reduce="lifetime_sum"
        )
