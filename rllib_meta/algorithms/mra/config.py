"""``MRAConfig``: the settings of MRA (paper 002, Algorithm 4 and App. E.1).

Defaults are the paper's (App. E.1, /shared/reference.md section 5): ``|Z| = 6``, option
architecture (z selects a head), ``K = 10`` policy/critic steps per MG update, Reptile
``alpha = 1``, ``n = 5`` resampled latents for Eq. 11, 12 parallel games per training MG,
replay 1e6 per MG, batch 1024, Adam 3e-4, gamma 0.95, trained on resource occupation with 6, 9
and 12 agents. Not given by the paper, chosen here: ``reward_scale`` 100 (entropy temperature
``1 / reward_scale``, MAAC's default, whose critic the paper follows), ``tau`` 0.005, the
gradient clip 10, one pass over the MGs per iteration after one 20-step episode per game.

Switches for the paper's variants and baselines (section 7): ``latent: uniform`` (uni-MRA),
``latent: none`` (plain attention: with ``reptile`` the Reptile baseline, without it joint
training), ``mutual_information: false``, ``reptile: false``, one entry in
``training_populations`` (the single-MG baseline), ``architecture: concat | bilinear``
(App. E.3), ``initial_weights`` with ``adapt_relation`` (adaptation from an MRA checkpoint
in an unseen game, Algorithm 5: typically with ``reptile: false``, ``mutual_information:
false``), ``actor_critic: maddpg`` (the MADDPG baseline with the relational critic:
MADDPG's critic target and actor loss on the same attention critic, with ``latent: none``,
``reptile: false``, ``mutual_information: false``).
"""

from typing import Any

from rllib_meta.algorithms.base.config import Components, MetaAlgorithmConfig
from rllib_meta.algorithms.base.settings import (
    Setting,
    boolean,
    choice,
    fraction,
    integer,
    number,
    optional,
    positive,
)
from rllib_meta.algorithms.mra.latent import LATENTS
from rllib_meta.algorithms.mra.networks import ARCHITECTURES
from rllib_meta.algorithms.mra.populations import POPULATION_KEYS, training_games


def text():
    """A string (a path; empty for none)."""

    def check_text(name: str, value: Any) -> None:
        if not isinstance(value, str):
            raise ValueError(f"{name} must be a string (a path, or empty), got {value!r}.")

    return check_text


class MRAConfig(MetaAlgorithmConfig):
    """Configuration of :class:`~rllib_meta.algorithms.mra.algorithm.MRA`."""

    COMPONENTS = Components("MRA", "MRALearner", "MRAModule", "ParticleEnvRunner")
    MODEL_SETTINGS = (
        "num_latents",
        "latent",
        "architecture",
        "hidden_size",
        "key_size",
        "gumbel_temperature",
    )
    SUPPORTED_ENVS = tuple(POPULATION_KEYS)
    SINGLE_LEARNER_REASON = (
        "the per-MG replay buffers live on the Learner and the Reptile steps run MG after MG"
    )
    RLLIB_SETTINGS = {
        "lr": Setting(3e-4, positive(), "the policy's (theta's) Adam learning rate (App. E.1)"),
        "gamma": Setting(0.95, fraction(), "discount (App. E.1)"),
        "grad_clip": Setting(10.0, optional(positive()), "global-norm clip of every step"),
    }
    SETTINGS = {
        "training_populations": Setting(
            [6, 9, 12],
            None,  # checked against the env in validate()
            "the training MGs: agent counts, or [pacman, ghosts] pairs; one entry = single-MG",
        ),
        "transfer_populations": Setting(
            [], None, "unseen populations `rllib evaluate` adds (zero-shot transfer, Fig. 5)"
        ),
        "envs_per_population": Setting(12, integer(1), "parallel games per MG (App. E.1: 12)"),
        "rollout_steps": Setting(20, integer(1), "steps of every game per iteration"),
        "updates_per_iteration": Setting(1, integer(1), "passes over the MGs per iteration"),
        "latent": Setting("learned", choice(*LATENTS), "z ~ p_psi(z | m), uniform, or none"),
        "num_latents": Setting(6, integer(1), "|Z|, the heads of the relation network"),
        "architecture": Setting(
            "option", choice(*ARCHITECTURES), "how z shapes g (App. E.3): option|concat|bilinear"
        ),
        "actor_critic": Setting(
            "sac",
            choice("sac", "maddpg"),
            "sac: soft actor-critic (section 6.1); maddpg: the MADDPG baseline's updates",
        ),
        "initial_weights": Setting(
            "",
            text(),
            "an MRA checkpoint, trial or experiment directory whose networks start this run "
            "(adaptation, Algorithm 5; weights of a different shape stay as initialised); "
            "empty: none",
        ),
        "adapt_relation": Setting(
            False, boolean(), "Eq. 10: the policy step also moves phi (adaptation, Algorithm 5)"
        ),
        "reptile": Setting(True, boolean(), "the Reptile outer step of Eq. 6 on theta"),
        "reptile_step_size": Setting(
            1.0, number(0.0, 1.0, low_open=True), "Reptile's alpha (App. E.1: 1)"
        ),
        "inner_steps": Setting(10, integer(1), "K, policy/critic steps per MG update"),
        "mutual_information": Setting(True, boolean(), "the Eq. 11 and Eq. 13 updates"),
        "num_resampled_z": Setting(5, integer(1), "n, resampled latents of Eq. 11"),
        "replay_buffer_size": Setting(1_000_000, integer(1), "transitions kept per MG"),
        "learning_starts": Setting(1024, integer(0), "transitions per MG before updates"),
        "replay_batch_size": Setting(1024, integer(1), "transitions per minibatch"),
        "tau": Setting(0.005, number(0.0, 1.0, low_open=True), "Polyak step of the targets"),
        "reward_scale": Setting(100.0, positive(), "entropy temperature is 1 / reward_scale"),
        "critic_lr": Setting(3e-4, positive(), "zeta's Adam learning rate"),
        "relation_lr": Setting(3e-4, positive(), "phi's Adam learning rate (Eq. 11)"),
        "prior_lr": Setting(3e-4, positive(), "psi's and xi's Adam learning rate (Eq. 13)"),
        "hidden_size": Setting(64, integer(1), "width of every hidden layer"),
        "key_size": Setting(32, integer(1), "width of each attention head's queries"),
        "gumbel_temperature": Setting(1.0, positive(), "of the straight-through draw of z"),
    }

    def __init__(self, algo_class: type | None = None):
        super().__init__(algo_class=algo_class)
        self.env = "resource_occupation"

    @property
    def _model_config_auto_includes(self) -> dict[str, Any]:
        games = training_games(self.env, self.env_config, self.training_populations)
        return {
            **super()._model_config_auto_includes,
            "role_names": list(games[0].task.role_names),
            "num_games": len(games),
        }

    def validate(self) -> None:
        super().validate()
        training_games(self.env, self.env_config, self.training_populations)
        if self.transfer_populations:
            training_games(
                self.env, self.env_config, self.transfer_populations, "transfer_populations"
            )
        if self.envs_per_population < max(self.num_env_runners, 1):
            raise ValueError(
                f"envs_per_population={self.envs_per_population} is smaller than "
                f"num_env_runners={self.num_env_runners}: every EnvRunner needs a game of "
                "every MG."
            )
        if self.latent == "none" and self.architecture != "option":
            raise ValueError(
                f"architecture={self.architecture!r} conditions the tokens on z, which latent "
                "'none' does not have; use architecture 'option' (plain attention)."
            )
        if self.replay_batch_size > self.replay_buffer_size:
            raise ValueError(
                f"replay_batch_size={self.replay_batch_size} is larger than "
                f"replay_buffer_size={self.replay_buffer_size}."
            )
