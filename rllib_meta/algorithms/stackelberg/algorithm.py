"""Contextual-policy Stackelberg learning (paper 003, Algorithm 1) as an RLlib Algorithm.

The training iterations run the paper's phases in order: ``pretraining_iterations`` of the
follower against random deterministic leaders (phase 1, "Pre-Training Loop"),
``leader_iterations`` of the leader against the frozen follower (phase 2, "Main Training
Loop"), then ``verification_iterations`` of the follower against the frozen leader (phase 3,
App. C "Equilibrium Verification"); further iterations continue the last phase. Every
iteration also reports exact checks (:mod:`.verification`): the follower's regret against each
of the 32 deterministic leaders, the greedy pair's returns and the game's Stackelberg optimum,
and the environment steps of each phase, so sample efficiency is visible.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import torch

import envs
from envs.matrix.stackelberg import stackelberg_optimum
from rllib_meta.algorithms.base.algorithm import MetaAlgorithm
from rllib_meta.algorithms.stackelberg.config import StackelbergConfig
from rllib_meta.algorithms.stackelberg.env_runner import (
    LEADER_TRAINING,
    PHASES,
    PRETRAINING,
    VERIFICATION,
)
from rllib_meta.algorithms.stackelberg.verification import follower_regrets, leader_report

METRICS = "stackelberg"
VERIFICATION_START, LAST_RETURNS = "verification_start", "last_returns"
STEPS_DONE = "algorithm_steps_done"
LEADER_STEPS, FIRST_SEEN = "leader_env_steps", "leader_return_first_seen"


class StackelbergMeta(MetaAlgorithm):
    """Phases 1-3 of Algorithm 1 with PG / PPO / DQN leaders (see the module docstring)."""

    RESULT_GROUPS = (METRICS,)

    # The method of each phase, and its number in the report (Algorithm 1's order).
    PHASE_METHODS = {
        PRETRAINING: "pretrain_follower",
        LEADER_TRAINING: "train_leader",
        VERIFICATION: "verify_follower",
    }
    PHASE_NUMBERS = {phase: float(PHASES.index(phase) + 1) for phase in PHASES}

    @classmethod
    def get_default_config(cls) -> StackelbergConfig:
        return StackelbergConfig(algo_class=cls)

    def setup(self, config) -> None:
        super().setup(config)
        # The EnvRunners built their own randomly initialised tables: start from the Learner's.
        self.env_runner_group.sync_weights(
            from_worker_or_learner_group=self.learner_group, inference_only=False
        )
        # The greedy pair's exact returns after the last iteration, and when phase 3 began
        # (the changes since then are the equilibrium check).
        self.last_returns: dict[str, float] = {}
        self.verification_start: dict[str, float] | None = None
        self.steps_done = 0  # algorithm steps (iterations of Algorithm 1's loops) so far
        # Phase 2's sample efficiency at the resolution of steps, whatever the reports: the
        # leader-training env steps so far, and when each greedy leader return was first seen.
        self.leader_steps = 0
        self.leader_return_first_seen: dict[float, int] = {}
        self.setup_exact_checks()

    def setup_exact_checks(self) -> None:
        """What the exact checks need: the game's payoffs, horizon and Stackelberg optimum."""
        env = envs.make(self.config.env, **dict(self.config.env_config))
        self.payoffs = torch.tensor(np.array(env.game.payoffs), dtype=torch.float64)
        self.horizon = env.horizon
        self.optimum = stackelberg_optimum(
            self.payoffs, self.horizon, follower=self.config.follower_kind
        )
        self._regrets: tuple[torch.Tensor, dict[str, float]] | None = None

    def current_phase(self) -> str:
        return self.phase_at(self.steps_done)

    def phase_at(self, iteration: int) -> str:
        """The phase of Algorithm 1 that algorithm step ``iteration`` (from 0) runs."""
        config = self.config
        if iteration < config.pretraining_iterations:
            return PRETRAINING
        leader_end = config.pretraining_iterations + config.leader_iterations
        if iteration < leader_end or config.verification_iterations == 0:
            return LEADER_TRAINING
        return VERIFICATION

    def training_step(self) -> None:
        """``iterations_per_report`` algorithm steps; the result reports the last one.

        The exact checks are computed after the last step, at every phase boundary (phase 3's
        changes are measured from the returns at its start) and at every phase-2 step (the
        leader-training steps until the greedy leader first reached its current return,
        ``leader_steps_to_current_return``), so the report equals the one that reporting
        after every step would end with; the environment steps of all steps are counted.
        """
        count = self.config.iterations_per_report
        for index in range(count):
            self.algorithm_step(report=index == count - 1)

    def algorithm_step(self, report: bool) -> None:
        """One iteration of the current phase's loop of Algorithm 1."""
        phase = self.current_phase()
        batch, result = getattr(self, self.PHASE_METHODS[phase])()
        self.steps_done += 1
        steps = int(batch["env_steps"])
        self.metrics.log_value((METRICS, f"env_steps_{phase}"), steps, reduce="lifetime_sum")
        self.log_env_steps(steps)
        if phase == LEADER_TRAINING:
            self.leader_steps += steps
        elif not report and self.current_phase() == phase:
            return
        exact = self._exact(phase)
        if report:
            returns = batch["payoff_returns"].mean(axis=0).tolist()
            self.log_results(
                METRICS,
                {
                    "phase": self.PHASE_NUMBERS[phase],
                    **result,
                    **exact,
                    "sampled_leader_return": returns[0],
                    "sampled_follower_return": returns[1],
                },
            )

    # -- the phases of Algorithm 1 ---------------------------------------------------------

    def pretrain_follower(self) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """Phase 1 ("Pre-Training Loop"): the follower learns against random leaders."""
        batch = self._sample(PRETRAINING)
        return batch, self.update_on_learners(lambda learner: learner.update_follower(batch))

    def train_leader(self) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """Phase 2 ("Main Training Loop"): the leader learns against the frozen follower."""
        batch = self._sample(LEADER_TRAINING)
        return batch, self.update_on_learners(lambda learner: learner.update_leader(batch))

    def verify_follower(self) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """Phase 3 (App. C, "Equilibrium Verification"): the follower learns again against
        the frozen greedy leader; the changes in returns since the phase began are the check."""
        batch = self._sample(VERIFICATION)
        return batch, self.update_on_learners(lambda learner: learner.update_follower(batch))

    def _sample(self, phase: str) -> dict[str, np.ndarray]:
        """One iteration's episodes of ``phase`` from every EnvRunner, concatenated."""
        arguments = self.sample_arguments(phase)
        batches = self.sample_on_runners(lambda runner: runner.sample(phase=phase, **arguments))
        merged = {
            key: np.concatenate([b[key] for b in batches])
            for key in batches[0]
            if key != "env_steps"
        }
        merged["env_steps"] = np.asarray(sum(int(b["env_steps"]) for b in batches))
        return merged

    def sample_arguments(self, phase: str) -> dict[str, Any]:
        """Keyword arguments of the EnvRunners' ``sample`` besides the phase (none here)."""
        return {}

    def _exact(self, phase: str) -> dict[str, float]:
        """The exact checks after this iteration's update and, in phase 3, the changes of the
        greedy pair's returns since phase 3 began."""
        report = self.exact_report()
        if phase == VERIFICATION:
            if self.verification_start is None:
                self.verification_start = self.last_returns
            for side in ("leader", "follower"):
                key = f"{side}_return"
                report[f"verification_{side}_change"] = report[key] - self.verification_start[key]
        if phase == LEADER_TRAINING:
            leader = report.get("leader_return", report.get("leader_return_vs_best_response"))
            first_seen = self.leader_return_first_seen.setdefault(leader, self.leader_steps)
            report["leader_steps_to_current_return"] = float(first_seen)
        self.last_returns = {k: v for k, v in report.items() if k.endswith("_return")}
        return report

    def exact_report(self) -> dict[str, float]:
        """The exact checks of the greedy policies: their returns next to the optimum and the
        follower's regrets; must hold ``leader_return`` and ``follower_return``."""
        (tables,) = self.learner_group.foreach_learner(lambda learner: learner.greedy_tables())
        leader, follower = (torch.as_tensor(t) for t in tables.get())
        contextual = self.config.follower_oracle == "contextual"
        follower = follower if contextual else None
        report = leader_report(self.payoffs, leader, follower, self.horizon, self.optimum)
        if contextual:
            report.update(self._follower_regrets(follower))
        return report

    def _follower_regrets(self, follower: torch.Tensor) -> dict[str, float]:
        """:func:`follower_regrets`, recomputed only when the follower's greedy table changed
        (never during phase 2)."""
        if self._regrets is None or not torch.equal(self._regrets[0], follower):
            self._regrets = (follower, follower_regrets(self.payoffs, follower, self.horizon))
        return dict(self._regrets[1])

    @classmethod
    def evaluate_checkpoints(cls, paths: list[str], args: argparse.Namespace) -> int:
        """``rllib evaluate``: the exact verification of each checkpoint's greedy pair."""
        from rllib_meta.algorithms.stackelberg.verification import evaluate_checkpoints

        return evaluate_checkpoints(paths, args)

    @classmethod
    def evaluate_options(cls, infos: list) -> dict[str, tuple[str, ...] | None]:
        """The exact verification reads only ``--output-dir`` (greedy pairs, no sampling)."""
        return {"output_dir": None}

    # -- checkpoints -----------------------------------------------------------------------

    def get_state(self, *args, **kwargs) -> dict[str, Any]:
        state = super().get_state(*args, **kwargs)
        state[VERIFICATION_START] = self.verification_start
        state[LAST_RETURNS] = self.last_returns
        state[STEPS_DONE] = self.steps_done
        state[LEADER_STEPS] = self.leader_steps
        state[FIRST_SEEN] = dict(self.leader_return_first_seen)
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        self.verification_start = state.get(VERIFICATION_START, self.verification_start)
        self.last_returns = state.get(LAST_RETURNS, self.last_returns)
        # Checkpoints written before iterations_per_report: one step per iteration.
        self.steps_done = int(state.get(STEPS_DONE, state.get("training_iteration", 0)))
        self.leader_steps = int(state.get(LEADER_STEPS, self.leader_steps))
        self.leader_return_first_seen = dict(state.get(FIRST_SEEN, self.leader_return_first_seen))
