"""``StackelbergEnvRunner``: plays the batches of Algorithm 1 (paper 003) on the batched matrix
game, every episode of a batch in lockstep.

Every episode starts with the context query: the leader's answers omega (its action in each of
the 5 memory-one states) form the follower's context, and the leader then plays by them
(``a_L = omega[s_t]``): it commits to the policy it announced, so the context is truthful.
Where the answers come from is what distinguishes the phases:

* pre-training (phase 1): a uniformly random deterministic leader per episode (Alg. 1, "sample
  a random leader policy"); the follower samples from its policy (it is the learner);
* leader training (phase 2): answers drawn from the leader's policy (PG, PPO: one draw per
  state; DQN: the greedy answers of parameter-noise-perturbed action values); the frozen
  follower plays greedily (App. C: "disable exploration ... vice versa");
* verification (phase 3): the leader's greedy answers; the follower learns again.

With ``follower_oracle="q_learning"`` (the PPO + Q-learning baseline of Brero et al. 2022) the
follower of each phase-2 episode is a tabular Q-learner that plays ``q_learning_episodes``
epsilon-greedy episodes against the committed leader from a zero table, then one greedy
episode, which alone pays the leader.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from envs.matrix.batched import BatchedIteratedMatrixGame
from envs.matrix.stackelberg import FOLLOWER, LEADER, memory_one_policies, policy_index
from rllib_meta.algorithms.base.env_runner import SamplingEnvRunner
from rllib_meta.algorithms.stackelberg.rl_module import NUM_CONTEXTS

PRETRAINING, LEADER_TRAINING, VERIFICATION = "pretraining", "leader_training", "verification"
PHASES = (PRETRAINING, LEADER_TRAINING, VERIFICATION)
NOISE_STD = "parameter_noise_std"
# Parameter-noise adaptation (Plappert et al. 2018): scale the std by this factor per batch.
NOISE_ADAPTATION = 1.01

# The follower's actions in the current canonical states of the batch at a time step.
FollowerActions = Callable[[torch.Tensor, int], torch.Tensor]


class StackelbergEnvRunner(SamplingEnvRunner):
    """Samples the episodes of one training iteration of the current phase."""

    RANDOM_GENERATORS = ("generator",)

    def __init__(self, *, config, **kwargs):
        super().__init__(config=config, **kwargs)
        self.game = self.env.game
        self.horizon = self.env.horizon
        self.generator = torch.Generator().manual_seed(self.seed)
        self.noise_std = float(config.parameter_noise_initial_std)
        self.policies = memory_one_policies()
        self._raw_rewards = torch.tensor(np.array(self.game.payoffs), dtype=torch.float32).flatten(
            0, 1
        )
        self._games: dict[int, BatchedIteratedMatrixGame] = {}

    # -- RLlib sampling entry point --------------------------------------------------------

    @torch.no_grad()
    def sample(self, *, phase: str, **kwargs) -> dict[str, np.ndarray]:
        """The episodes of one iteration of ``phase`` (the share ``self.share`` of them)."""
        config = self.config
        if phase == LEADER_TRAINING:
            count = self._share(config.leader_episodes_per_iteration)
            answers = self._leader_answers(count)
            if config.follower_oracle == "q_learning":
                return self._q_learning_episodes(answers)
            return self._play(answers, self._greedy_follower(answers))
        count = self._share(config.follower_episodes_per_iteration)
        if phase == PRETRAINING:
            choice = torch.randint(NUM_CONTEXTS, (count,), generator=self.generator)
            answers = self.policies[choice]
        else:
            answers = self.module.leader_greedy().expand(count, -1)
        return self._play(answers, self._sampling_follower(answers))

    def _share(self, total: int) -> int:
        return self.share.of(total)

    # -- the leader's answers (the context query) ------------------------------------------

    def _leader_answers(self, count: int) -> torch.Tensor:
        """``(count, 5)`` answer tables drawn from the leader being trained."""
        scores = self.module.leader_scores()  # (5, 2)
        if self.config.leader_learner == "dqn":
            return self._perturbed_greedy_answers(scores, count)
        p_second = torch.softmax(scores, dim=-1)[:, 1]
        return (torch.rand(count, scores.shape[0], generator=self.generator) < p_second).long()

    def _perturbed_greedy_answers(self, values: torch.Tensor, count: int) -> torch.Tensor:
        """DQN's parameter-noise exploration (Plappert et al. 2018; Table 1): per episode the
        greedy answers of ``Q + N(0, std^2)``; ``std`` shrinks when the noise changes more than
        ``parameter_noise_target`` of the answers, and grows otherwise."""
        noise = torch.randn(count, *values.shape, generator=self.generator)
        answers = (values + self.noise_std * noise).argmax(dim=-1)
        changed = (answers != values.argmax(dim=-1)).float().mean()
        if changed > self.config.parameter_noise_target:
            self.noise_std /= NOISE_ADAPTATION
        else:
            self.noise_std *= NOISE_ADAPTATION
        return answers

    # -- the follower ----------------------------------------------------------------------

    def _sampling_follower(self, answers: torch.Tensor) -> FollowerActions:
        contexts = policy_index(answers)

        def act(states: torch.Tensor, step: int) -> torch.Tensor:
            logits = self.module.follower_logits(states, contexts, torch.full_like(states, step))
            return self._draw(torch.softmax(logits, dim=-1)[:, 1])

        return act

    def _greedy_follower(self, answers: torch.Tensor) -> FollowerActions:
        contexts = policy_index(answers)

        def act(states: torch.Tensor, step: int) -> torch.Tensor:
            steps = torch.full_like(states, step)
            return self.module.follower_logits(states, contexts, steps).argmax(dim=-1)

        return act

    def _draw(self, p_second: torch.Tensor) -> torch.Tensor:
        return (torch.rand(p_second.shape, generator=self.generator) < p_second).long()

    # -- episodes --------------------------------------------------------------------------

    def _batched_game(self, count: int) -> BatchedIteratedMatrixGame:
        if count not in self._games:
            self._games[count] = BatchedIteratedMatrixGame(
                self.game,
                self.horizon,
                count,
                reward_offset=self.env.reward_offset,
                reward_scale=self.env.reward_scale,
            )
        return self._games[count]

    def _play(
        self, answers: torch.Tensor, follower: FollowerActions, learning_steps: int = 0
    ) -> dict[str, np.ndarray]:
        """One episode per answer table, the leader committed to its answers."""
        game = self._batched_game(answers.shape[0])
        game.reset()
        states, actions, rewards = [], [], []
        for step in range(self.horizon):
            state = game.state
            leader_action = answers.gather(1, state.unsqueeze(1)).squeeze(1)
            joint = torch.stack([leader_action, follower(state, step)], dim=1)
            _, reward, _ = game.step(joint)
            states.append(state)
            actions.append(joint)
            rewards.append(reward)
        actions = torch.stack(actions, dim=1)  # (B, H, 2)
        env_steps = answers.shape[0] * self.horizon + learning_steps
        self.num_env_steps_sampled_lifetime += env_steps
        return {
            "answers": answers.numpy(),
            "states": torch.stack(states, dim=1).numpy(),
            "actions": actions.numpy(),
            "rewards": torch.stack(rewards, dim=1).numpy(),
            "payoff_returns": self._payoff_returns(actions).numpy(),
            "env_steps": np.asarray(env_steps),
        }

    def _payoff_returns(self, actions: torch.Tensor) -> torch.Tensor:
        """Both players' episode returns on the game's own payoff scale (1..4 per step)."""
        joint = actions[..., LEADER] * self.game.num_actions + actions[..., FOLLOWER]
        return self._raw_rewards[joint].sum(dim=1)

    def _q_learning_episodes(self, answers: torch.Tensor) -> dict[str, np.ndarray]:
        """Brero et al.'s follower oracle: Q-learning from scratch against each committed
        leader, then one greedy episode that pays the leader."""
        config = self.config
        q_values = self._learn_q_values(answers)
        rows = torch.arange(answers.shape[0])
        learning_steps = config.q_learning_episodes * answers.shape[0] * self.horizon
        return self._play(
            answers,
            lambda states, _: _argmax_random_ties(q_values[rows, states], self.generator),
            learning_steps=learning_steps,
        )

    def _learn_q_values(self, answers: torch.Tensor) -> torch.Tensor:
        """Tabular epsilon-greedy Q-learning (Watkins 1992) on the memory-one states, one table
        per episode of the batch: ``Q(s, a) += alpha (r + gamma_q max Q(s', .) - Q(s, a))``, no
        bootstrap after the last step. ``(B, 5, 2)``."""
        config = self.config
        count = answers.shape[0]
        game = self._batched_game(count)
        rows = torch.arange(count)
        q_values = torch.zeros(count, game.num_states, game.num_actions)
        for _ in range(config.q_learning_episodes):
            game.reset()
            for _ in range(self.horizon):
                state = game.state
                greedy = _argmax_random_ties(q_values[rows, state], self.generator)
                explore = torch.rand(count, generator=self.generator) < config.q_learning_epsilon
                random_action = torch.randint(game.num_actions, (count,), generator=self.generator)
                action = torch.where(explore, random_action, greedy)
                leader_action = answers.gather(1, state.unsqueeze(1)).squeeze(1)
                next_state, reward, done = game.step(torch.stack([leader_action, action], dim=1))
                future = (
                    0.0
                    if done
                    else config.q_learning_gamma * q_values[rows, next_state[:, 0]].amax(-1)
                )
                target = reward[:, FOLLOWER] + future
                current = q_values[rows, state, action]
                q_values[rows, state, action] = current + config.q_learning_rate * (
                    target - current
                )
        return q_values

    # -- checkpoints -----------------------------------------------------------------------

    def sampler_state(self) -> dict[str, Any]:
        return {NOISE_STD: self.noise_std}

    def load_sampler_state(self, state: dict[str, Any]) -> None:
        self.noise_std = float(state[NOISE_STD])


def _argmax_random_ties(values: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Greedy action per row, ties broken uniformly at random (a fresh Q-table is all ties)."""
    best = values == values.amax(dim=-1, keepdim=True)
    scores = torch.rand(values.shape, generator=generator) * best
    return scores.argmax(dim=-1)
