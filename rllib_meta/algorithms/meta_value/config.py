"""``LearningRuleConfig``: settings of MeVa, COLA, LOLA, HOLA and naive learning (paper 004).

Defaults are the paper's Logistic Game setting (section 5.1, App. D): 128 policy pairs, policy
learning rate ``alpha = 1``, ``T = k = 50``, Adam 1e-3, 16 quantiles, 64 units, lambda 0.9
(the authors' final notebook; the paper's text says 0), no target network
(``target_inertia = 0``: the target is the current model), no exploration. The IPD setting
(App. E) is in ``tuned_examples/meva_ipd.yaml``.
"""

import envs
from rllib_meta.algorithms.base.config import Components, MetaAlgorithmConfig
from rllib_meta.algorithms.base.settings import (
    Setting,
    choice,
    fraction,
    integer,
    number,
    optional,
    positive,
)
from rllib_meta.core.rule_fields import MODEL_RULES, RULES


class LearningRuleConfig(MetaAlgorithmConfig):
    """Configuration of the learning-rule algorithms (:mod:`.algorithm`)."""

    COMPONENTS = Components(
        "MeVa", "LearningRuleLearner", "LearningRuleModule", "PolicyPairEnvRunner"
    )
    MODEL_SETTINGS = ("rule", "hidden_size", "num_quantiles")
    SUPPORTED_ENVS = ("logistic_game", "ipd_exact", "zero_sum_bilinear")
    SINGLE_LEARNER_REASON = "the learning-rule models are small and train on one Learner"
    # The model's optimiser: AdamW with ``lr`` and ``weight_decay`` (0 is Adam).
    RLLIB_SETTINGS = {"lr": Setting(1e-3, positive())}
    SETTINGS = {
        "rule": Setting("meva", choice(*RULES), "naive | lola | hola | cola | meva"),
        # The optimisation trajectories (Algorithm 1): B policy pairs, each restarted from the
        # game's initial distribution every T steps, sampled k steps (one stride) at a time.
        "policy_pairs": Setting(128, integer(1), "B, policy pairs"),
        "policy_lr": Setting(1.0, positive(), "alpha of Algorithm 1, the policies' step size"),
        "horizon": Setting(50, integer(1), "T, steps before the pairs restart"),
        "stride": Setting(50, integer(1), "k, steps per sample and model update"),
        "strides_per_iteration": Setting(
            1, integer(1), "strides per training iteration (T / k is one outer loop)"
        ),
        # LOLA / HOLA look-ahead (App. B); for COLA the upper end of U[0, lookahead_rate].
        "lookahead_rate": Setting(1.0, number(0.0), "LOLA/HOLA's alpha, COLA's largest alpha"),
        "hola_order": Setting(2, integer(1), "HOLA's levels"),
        # MeVa (sections 3-4).
        "meta_gamma": Setting(
            None, optional(fraction()), "MeVa's gamma (None: Beta(1/2, 1/2) draws, section 4.2)"
        ),
        "num_quantiles": Setting(16, integer(1), "M, quantiles of the meta-value model"),
        "hidden_size": Setting(64, integer(1), "units of the model's hidden layers"),
        "td_lambda": Setting(0.9, fraction(), "lambda of the lambda-returns"),
        "target_inertia": Setting(0.0, fraction(), "rho, the target model's Polyak inertia"),
        "exploration_flip_prob": Setting(
            0.0, fraction(), "probability of a sign flip in the exploration (section 4.3)"
        ),
        "weight_decay": Setting(0.0, number(0.0), "AdamW's weight decay"),
    }

    def validate(self) -> None:
        super().validate()
        if self.policy_pairs < max(self.num_env_runners, 1):
            raise ValueError(
                f"policy_pairs={self.policy_pairs} is smaller than num_env_runners="
                f"{self.num_env_runners}: every EnvRunner needs at least one policy pair."
            )
        if self.rule in MODEL_RULES and not envs.make(self.env, **self.env_config).game.symmetric:
            raise ValueError(
                f"rule {self.rule!r} shares one model between both players, which needs a "
                f"symmetric game (f_1(a, b) = f_2(b, a)); {self.env!r} is not."
            )
