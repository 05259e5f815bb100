"""Paper 003, Appendix B (Fig. 3) as an RLlib Algorithm: ``FollowerLearningDemo``.

A leader (a mixed strategy over {C, D}, REINFORCE with Adam) is trained against a tabular
epsilon-greedy Q-learning follower on the single-shot Battle of the Sexes (scaled: (C, C) =
(2, 1), (D, D) = (1, 2), off-diagonal (0, 0)). One training iteration is one leader update: the
EnvRunner runs the follower's inner loop and returns the leader's batch of plays
(:mod:`.env_runner`), the Learner takes one PG step (:mod:`.learner`), the new leader goes back
to the EnvRunner. ``follower_reset`` switches between the follower's Q-table re-initialised
before every leader update and continuous learning: the paper reports that the first converges
to the Stackelberg outcome (C, C) in all four seeds and the second to (D, D) in three and to
neither in one.

What the leader's batch implies (analysis in :mod:`.dynamics`: the follower's best response is
C iff the leader plays C with ``p > 2/3``):

* ``"after_learning"``: the leader is paid by the follower's greedy response after learning.
  Once the follower has learned its best response, reset or not, the leader's value is
  ``1 - p`` below 2/3 and ``2 p`` above, so the gradient pushes ``p`` to 0 from any ``p < 2/3``
  and to 1 above: reset and continuous learning differ only while the reset follower has not
  yet learned its best response within ``follower_episodes``.
* ``"follower_learning"`` (the usual simultaneous-play loop): the leader is paid during the
  follower's learning episodes. A reset follower starts each inner loop from Q = 0 with random
  tie-breaking and exploration, so over short inner loops it plays C about as often as D;
  against a follower playing C with probability ``q`` the leader's gradient favours C iff
  ``2 q > 1 - q``, i.e. ``q > 1/3``, so ``p`` rises until the follower's best response
  flips to C at ``p > 2/3``, and (C, C) is reached. A continuously learning follower
  keeps its best response to the random initial leader (D for any ``p < 2/3``), the leader's
  gradient then favours D, and both settle on (D, D) (the paper's "stuck" follower).
"""

from __future__ import annotations

from typing import Any

from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS

from rllib_meta.algorithms.base.algorithm import MetaAlgorithm
from rllib_meta.algorithms.follower_learning_demo.config import FollowerLearningDemoConfig
from rllib_meta.algorithms.follower_learning_demo.dynamics import leader_value, outcome

RESULTS = "follower_learning_demo"
REPORTED = (
    "leader_p_cooperate",
    "leader_mean_reward",
    "follower_mean_reward",
    "follower_learning_mean_reward",
    "follower_greedy_cooperate",
    "follower_q_c",
    "follower_q_d",
)


class FollowerLearningDemo(MetaAlgorithm):
    """Leader PG against a reset or continuously learning Q-learning follower (paper 003 B)."""

    RESULT_GROUPS = (RESULTS,)

    @classmethod
    def get_default_config(cls) -> FollowerLearningDemoConfig:
        return FollowerLearningDemoConfig(algo_class=cls)

    def training_step(self) -> None:
        # One share: there is one follower, whose Q-table the share carries.
        (batch,) = self.sample_on_runners(lambda runner: runner.sample(), num_shares=1)
        result = self.update_on_learners(lambda learner: learner.update_from_plays(batch))
        self._log(batch, result)

    def _log(self, batch: dict[str, Any], learner_result: dict[str, float]) -> None:
        payoffs = self.env_runner.payoffs
        p, follower_c = batch["leader_p_cooperate"], batch["follower_greedy_cooperate"]
        values = {key: float(batch[key]) for key in REPORTED}
        values["leader_value_vs_greedy_follower"] = leader_value(p, follower_c, payoffs)
        values["outcome_is_stackelberg"] = float(outcome(p, follower_c).startswith("stackelberg"))
        values["outcome_is_follower_nash"] = float(outcome(p, follower_c).startswith("nash"))
        values.update(learner_result)
        self.log_results(RESULTS, values)
        self.log_results(
            (ENV_RUNNER_RESULTS, "agent_episode_returns_mean"),
            {agent: values[f"{agent}_mean_reward"] for agent in ("leader", "follower")},
        )
        self.log_env_steps(int(batch["env_steps"]))
