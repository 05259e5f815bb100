"""The leader's and the follower's linear, bias-free models (paper 003, App. C: "we use linear
models") as one RLlib ``TorchRLModule``.

On one-hot observations a bias-free linear layer is a lookup table: row ``o`` of its weight
matrix is the output for observation ``o``. The module stores the tables as ``nn.Linear``
weights (so RLlib checkpoints and syncs them like any model) and reads rows by index instead
of multiplying one-hot vectors.

* Leader: input = one-hot of the memory-one state (5), output = 2 logits (PG, PPO) or 2
  action values (DQN). Queried in state ``s`` it answers ``omega_s``.
* Follower: input = one-hot of the pair (state, context), ``5 x 32`` entries, output = 2
  logits. The context omega (the leader's 5 answers) is one of 32 deterministic memory-one
  policies. Why the joint one-hot and not the concatenation ``[one-hot(state), omega]`` the
  paper describes: the follower's payoff at a step depends on the leader's action there,
  ``omega[state]``, a product of the two inputs, which no linear function of their
  concatenation can express; over the joint one-hot a linear model can represent the best
  response to every leader. With ``follower_observes_time`` (not the paper's follower) the
  input is the one-hot triple (step, state, context), ``horizon x 5 x 32`` entries: a follower
  that can play a different action at each step, whose best response is the time-aware one
  (``experiments/stackelberg_follower_landscape.py`` shows why the stationary one keeps a
  regret).
"""

from __future__ import annotations

import torch
from ray.rllib.core.rl_module.torch.torch_rl_module import TorchRLModule

from envs.matrix.stackelberg import NUM_ACTIONS, NUM_POLICIES, NUM_STATES

# The context omega is one of the deterministic memory-one leader policies.
NUM_CONTEXTS = NUM_POLICIES


class StackelbergModule(TorchRLModule):
    """``leader`` (5 -> 2) and ``follower`` (160 -> 2) tables with torch's default (seeded)
    initialisation of ``nn.Linear``, so the initial greedy policies are random: a zero table
    would start every leader at "always C", which is already the optimum of six of the 12
    games. Read by the Stackelberg EnvRunner and Learner directly; RLlib's generic episode
    sampling is not used."""

    def setup(self):
        # Steps the follower tells apart: the horizon when it observes the time step, else 1.
        self.follower_steps = int(self.model_config.get("follower_steps", 1))
        self.leader = torch.nn.Linear(NUM_STATES, NUM_ACTIONS, bias=False)
        self.follower = torch.nn.Linear(
            self.follower_steps * NUM_STATES * NUM_CONTEXTS, NUM_ACTIONS, bias=False
        )

    def _forward(self, batch, **kwargs):
        raise NotImplementedError(
            "StackelbergModule is read by the Stackelberg EnvRunner and Learner, not by RLlib's "
            "generic sampling path."
        )

    # -- leader ---------------------------------------------------------------------------

    def leader_scores(self) -> torch.Tensor:
        """``(5, 2)``: the leader's logits (PG, PPO) or action values (DQN) per state."""
        return self.leader.weight.T

    def leader_log_probs(self, answers: torch.Tensor) -> torch.Tensor:
        """``log pi_L(omega)`` of answer tables ``(B, 5)``: the sum over the 5 queried states
        (the answers are drawn independently per state)."""
        log_pi = torch.log_softmax(self.leader_scores(), dim=-1)  # (5, 2)
        return log_pi.gather(-1, answers.T).T.sum(dim=-1)

    def leader_greedy(self) -> torch.Tensor:
        """The leader's greedy memory-one policy, ``(5,)`` long (ties: action 0)."""
        return self.leader_scores().argmax(dim=-1)

    # -- follower -------------------------------------------------------------------------

    @property
    def follower_observes_time(self) -> bool:
        return self.follower_steps > 1

    def follower_logits(
        self, states: torch.Tensor, contexts: torch.Tensor, steps: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``(..., 2)`` at canonical ``states`` under contexts given as policy indices, at time
        ``steps`` (same shape; read only when the follower observes the time step)."""
        rows = states * NUM_CONTEXTS + contexts
        if self.follower_observes_time:
            if steps is None:
                raise ValueError("a follower that observes the time step needs the steps")
            rows = rows + steps * (NUM_STATES * NUM_CONTEXTS)
        return self.follower.weight.T[rows]

    def follower_greedy_table(self) -> torch.Tensor:
        """The follower's greedy action in each state against each of the 32 deterministic
        leaders (row = the leader's policy index), long: ``(32, 5)``, or ``(32, horizon, 5)``
        (row ``t`` at step ``t``) when it observes the time step."""
        table = self.follower.weight.T.reshape(
            self.follower_steps, NUM_STATES, NUM_CONTEXTS, NUM_ACTIONS
        )
        greedy = table.argmax(dim=-1).permute(2, 0, 1).contiguous()  # (32, steps, 5)
        return greedy if self.follower_observes_time else greedy[:, 0]
