"""``MetaAlgorithm``: the RLlib ``Algorithm`` plumbing every rllib-meta algorithm shares.

A training step of these algorithms is: sample on the EnvRunners by the algorithm's own
method, update on the Learner(s) by the algorithm's own method, send the new weights back to
the EnvRunners, report. The dispatch of the sampling work to the runners (surviving failed
ones), the update-then-sync and the metric logging are written here once.

Sampling survives EnvRunner failures as RLlib's own algorithms do (``restart_failed_env_runners``
or ``ignore_env_runner_failures``: RLlib marks a failed runner unhealthy, restarts it and, before
the next ``training_step``, restores it), and unlike them loses no data: a call's work is a
fixed number of shares, each share's random state lives with the Algorithm, and the share of a
runner that fails is sampled again, from the same state, by a healthy runner (or the local
one). So every iteration trains on its full meta-batch, and a seeded run does not depend on
which runner sampled which share.
"""

import copy
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from ray.rllib.algorithms.algorithm import Algorithm
from ray.rllib.env.env_runner import EnvRunner
from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME

from rllib_meta.algorithms.base.env_runner import Share
from rllib_meta.evaluation.checkpoints import MANIFEST_FILE, MANIFEST_KEY, write_manifest

Sample = TypeVar("Sample")
ShareState = dict[str, Any]

# Metrics of the dispatch (lifetime totals, under this key of every training result).
FAULTS = "env_runner_faults"
# Shares not sampled by their home runner (it failed during the call, or was out of service).
SHARES_REDISPATCHED = "shares_redispatched"
RUNNER_FAILURES = "runner_failures"  # remote sampling calls that failed
SHARE_STATES = "env_runner_share_states"  # the checkpointed share states
# Updates the Learners skipped for a non-finite loss or gradient (FunctionalLearner).
LEARNER_FAULTS = "learner_faults"
NON_FINITE_SKIPPED = "non_finite_updates_skipped"

logger = logging.getLogger(__name__)


class MetaAlgorithm(Algorithm):
    """Base of the rllib-meta algorithms (see the module docstring)."""

    # The result groups this algorithm reports under (log_results refuses others), beside
    # RLlib's env_runners and the base's fault counters: what stop criteria may name.
    RESULT_GROUPS: tuple[str, ...] = ()
    _share_states: list[ShareState] | None = None

    @classmethod
    def result_groups(cls) -> tuple[str, ...]:
        """Every group a result of this algorithm may hold below the top level."""
        return (*cls.RESULT_GROUPS, ENV_RUNNER_RESULTS, FAULTS, LEARNER_FAULTS)

    def setup(self, config) -> None:
        super().setup(config)
        self._share_states = self._home_share_states()

    # -- sampling --------------------------------------------------------------------------

    def sample_on_runners(
        self, sample: Callable[[EnvRunner], Sample], num_shares: int | None = None
    ) -> list[Sample]:
        """``sample(runner)`` once per share of this call's work; the results in share order.

        The contract, for a new algorithm: ``sample`` samples the share ``runner.share``
        (a :class:`~rllib_meta.algorithms.base.env_runner.Share`; its size of ``total``
        items is ``runner.share.of(total)``), and the runner keeps everything a share carries
        from one call to the next in its ``RANDOM_GENERATORS`` and ``sampler_state()``
        (``SamplingEnvRunner``): any runner may be given any share.

        Without remote EnvRunners (``num_env_runners = 0``) the local runner samples the one
        share. Otherwise there are ``num_shares`` shares (default: one per remote runner; at
        most that many), share ``k`` sampled by remote runner ``k + 1`` while it is healthy.
        A share whose runner fails (the call raises; RLlib marks the runner unhealthy when
        failures are tolerated, else the error ends the step as in RLlib) is sampled again,
        from the share's state before the failed call, by a healthy remote runner, or by the
        local one when none is left (as is a share whose runner is out of service, until
        RLlib has restored it); the failed calls and the shares sampled away from their home
        runner are counted in the ``env_runner_faults`` metrics.
        """
        group = self.env_runner_group
        num_runners = group.num_remote_env_runners()
        if num_runners == 0:
            self._log_faults(0, 0)  # every result reports the counters, failures or not
            self.env_runner.share = Share(0, 1)
            return [sample(self.env_runner)]
        count = num_runners if num_shares is None else num_shares
        if not 1 <= count <= num_runners:
            raise ValueError(
                f"num_shares={count}: must be in [1, {num_runners}] (the remote EnvRunners)."
            )
        results: dict[int, Sample] = {}
        sampled_by: dict[int, int] = {}  # share -> the runner that sampled it (0: local)
        pending, home, failures = list(range(count)), True, 0
        for _ in range(num_runners + 1):  # each failing round takes a runner out of service
            healthy = group.healthy_env_runner_ids()
            if not pending or not healthy:
                break
            plan = _assign(pending, healthy, home)
            self._run_remote(plan, count, sample, results)
            lost = [index for index in pending if index not in results]
            for runner, shares in plan.items():
                sampled_by.update((index, runner) for index in shares if index in results)
            if lost:
                failed = [runner for runner, shares in plan.items() if set(shares) & set(lost)]
                failures += len(failed)
                logger.warning(
                    "EnvRunner(s) %s failed while sampling share(s) %s of %d; sampling them "
                    "again on the healthy runners.",
                    failed,
                    lost,
                    count,
                )
            pending, home = lost, False
        if pending:
            logger.warning("No healthy remote EnvRunner: the local one samples shares %s.", pending)
            self._run_local(pending, count, sample, results)
            sampled_by.update((index, 0) for index in pending)
        away = sum(runner != index + 1 for index, runner in sampled_by.items())
        self._log_faults(away, failures)
        return [results[index] for index in range(count)]

    def _run_remote(
        self,
        plan: dict[int, list[int]],
        count: int,
        sample: Callable[[EnvRunner], Sample],
        results: dict[int, Sample],
    ) -> None:
        """Sample ``plan`` (runner id -> share indices) on the remote runners; store what
        came back (a failed runner returns nothing: RLlib drops its result)."""
        states = self._share_states
        funcs = [
            _share_runs([(Share(i, count), states[i]) for i in shares], sample)
            for shares in plan.values()
        ]
        returned = self.env_runner_group.foreach_env_runner(
            funcs, remote_worker_ids=list(plan), local_env_runner=False
        )
        for runs in returned:
            for index, result, state in runs:
                results[index], states[index] = result, state

    def _run_local(
        self,
        pending: list[int],
        count: int,
        sample: Callable[[EnvRunner], Sample],
        results: dict[int, Sample],
    ) -> None:
        """Sample ``pending`` shares on the local runner, keeping its own state (which,
        for example, Meta-MAPG's meta-validation draws from) as it was."""
        runner = self.env_runner
        own, own_share = runner.share_state(), runner.share
        try:
            for index, result, state in _share_runs(
                [(Share(i, count), self._share_states[i]) for i in pending], sample
            )(runner):
                results[index], self._share_states[index] = result, state
        finally:
            runner.load_share_state(own)
            runner.share = own_share

    def _home_share_states(self) -> list[ShareState] | None:
        """Every remote runner's own state, in worker order: share ``k`` starts where runner
        ``k + 1`` was built (so a run samples what it sampled before shares existed)."""
        if self.env_runner_group.num_remote_env_runners() == 0:
            return None
        states = self.env_runner_group.foreach_env_runner(
            lambda runner: (runner.worker_index, runner.share_state()), local_env_runner=False
        )
        return [state for _, state in sorted(states, key=lambda item: item[0])]

    def _log_faults(self, redispatched: int, failures: int) -> None:
        for key, value in ((SHARES_REDISPATCHED, redispatched), (RUNNER_FAILURES, failures)):
            self.metrics.log_value((FAULTS, key), value, reduce="lifetime_sum")

    @property
    def num_sampling_runners(self) -> int:
        """How many remote runners :meth:`sample_on_runners` uses (0: the local one alone)."""
        return self.env_runner_group.num_remote_env_runners()

    # -- learning and reporting ------------------------------------------------------------

    def update_on_learners(self, update: Callable[[Any], dict[str, float]]) -> dict[str, float]:
        """``update(learner)`` on every Learner, then the new weights to every EnvRunner.
        Returns the first Learner's result (with several Learners, all take the same step);
        the optimizer steps it skipped for a non-finite loss or gradient are counted in
        ``learner_faults/non_finite_updates_skipped``."""

        def counted(learner) -> tuple[dict[str, float], int]:
            before = learner.num_non_finite_updates_skipped
            result = update(learner)
            return result, learner.num_non_finite_updates_skipped - before

        results = self.learner_group.foreach_learner(counted)
        self.env_runner_group.sync_weights(
            from_worker_or_learner_group=self.learner_group, inference_only=False
        )
        result, skipped = next(iter(results)).get()
        self.metrics.log_value((LEARNER_FAULTS, NON_FINITE_SKIPPED), skipped, reduce="lifetime_sum")
        return result

    def log_results(self, group: str | tuple[str, ...], results: Mapping[str, float]) -> None:
        """Report every value of ``results`` under ``group`` (a key or a key path), as this
        iteration's value."""
        path = group if isinstance(group, tuple) else (group,)
        if path[0] not in self.result_groups():
            raise ValueError(
                f"{type(self).__name__} reports under {path[0]!r}, which its RESULT_GROUPS "
                f"{self.RESULT_GROUPS} do not declare (stop criteria are checked against them)"
            )
        for key, value in results.items():
            self.metrics.log_value((*path, key), value, reduce="mean", window=1)

    def log_env_steps(self, steps: int) -> None:
        """Count ``steps`` environment steps into RLlib's lifetime total."""
        self.metrics.log_value(
            (ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME), steps, reduce="lifetime_sum"
        )

    # -- checkpoints -----------------------------------------------------------------------

    def get_metadata(self) -> dict:
        """RLlib's metadata (written first by a save), announcing the manifest written last:
        a checkpoint that announces it and lacks it is incomplete."""
        return {**super().get_metadata(), MANIFEST_KEY: MANIFEST_FILE}

    def save_to_path(self, path=None, *, state=None, filesystem=None, use_msgpack=False) -> str:
        """RLlib's save, then the manifest of every file written (sizes and SHA-256s), last,
        so that ``rllib evaluate`` and trial folders can tell a complete checkpoint from a
        damaged one (``rllib_meta.evaluation.checkpoints``). On a remote filesystem the
        manifest is left out (the checkpoint is then checked by RLlib's layout alone)."""
        saved = super().save_to_path(
            path, state=state, filesystem=filesystem, use_msgpack=use_msgpack
        )
        if Path(saved).is_dir():
            write_manifest(saved)
        else:
            logger.warning("Checkpoint %s is not on this machine: no manifest written.", saved)
        return saved

    def get_state(self, components=None, *, not_components=None, **kwargs) -> dict:
        state = super().get_state(components, not_components=not_components, **kwargs)
        if self._share_states is not None:  # the remote runners' shares (the local runner's
            # own state is RLlib's env_runner part); a copy: sampling replaces them
            state[SHARE_STATES] = copy.deepcopy(self._share_states)
        return state

    def set_state(self, state: dict) -> None:
        super().set_state(state)
        saved = state.get(SHARE_STATES)
        if saved is None or self._share_states is None:
            return
        if len(saved) != len(self._share_states):
            logger.warning(
                "The checkpoint holds %d EnvRunner shares, this run has %d remote runners: "
                "the shares start afresh.",
                len(saved),
                len(self._share_states),
            )
            return
        self._share_states = copy.deepcopy(list(saved))


def _assign(pending: list[int], healthy: list[int], home: bool) -> dict[int, list[int]]:
    """Runner id -> the shares it samples: share ``k`` on runner ``k + 1`` when that runner
    is healthy and ``home``, the others dealt round-robin over the healthy runners."""
    plan: dict[int, list[int]] = {}
    strays = []
    for index in pending:
        if home and index + 1 in healthy:
            plan.setdefault(index + 1, []).append(index)
        else:
            strays.append(index)
    for position, index in enumerate(strays):
        plan.setdefault(healthy[position % len(healthy)], []).append(index)
    return plan


def _share_runs(
    shares: list[tuple[Share, ShareState | None]], sample: Callable[[EnvRunner], Sample]
) -> Callable[[EnvRunner], list[tuple[int, Sample, ShareState]]]:
    """What a runner runs for its ``shares``: each sampled from its state, in turn."""

    def run(runner) -> list[tuple[int, Sample, ShareState]]:
        runs = []
        for share, state in shares:
            result, new_state = runner.sample_share(share, state, sample)
            runs.append((share.index, result, new_state))
        return runs

    return run
