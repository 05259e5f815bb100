"""The meta-agent as an RLlib ``TorchRLModule`` (what Learners optimise and checkpoint)."""

import gymnasium as gym
from ray.rllib.core.columns import Columns
from ray.rllib.core.rl_module.torch.torch_rl_module import TorchRLModule

from rllib_meta.algorithms.meta_mapg.agent import MetaAgent
from rllib_meta.algorithms.meta_mapg.distributions import CATEGORICAL, DiagonalGaussian


class MetaAgentRLModule(TorchRLModule):
    """Holds :class:`MetaAgent` (policy, value network, learned inner learning rates).

    ``model_config`` carries ``chain_length``, ``inner_learning_rate`` and ``hidden_size``
    (auto-included from ``MetaMAPGConfig``). The algorithm's EnvRunners and Learner call the
    agent's functional API directly; ``_forward`` serves RLlib's generic paths: action logits
    of a single step from a reset LSTM state.
    """

    def setup(self):
        config = self.model_config
        continuous = isinstance(self.action_space, gym.spaces.Box)
        self.agent = MetaAgent(
            num_states=int(self.observation_space.shape[0]),
            num_actions=int(self.action_space.shape[0] if continuous else self.action_space.n),
            chain_length=int(config["chain_length"]),
            inner_learning_rate=float(config["inner_learning_rate"]),
            hidden=int(config.get("hidden_size", 64)),
            distribution=DiagonalGaussian() if continuous else CATEGORICAL,
        )

    def _forward(self, batch, **kwargs):
        # One step from a reset LSTM state; one-hot matrix-game observations are features too.
        outputs = self.agent.policy(batch[Columns.OBS].float().unsqueeze(1))
        return {Columns.ACTION_DIST_INPUTS: outputs.squeeze(1)}

    def get_inference_action_dist_cls(self):
        from ray.rllib.models.torch.torch_distributions import (
            TorchCategorical,
            TorchDiagGaussian,
        )

        if isinstance(self.action_space, gym.spaces.Box):
            return TorchDiagGaussian
        return TorchCategorical

    get_exploration_action_dist_cls = get_inference_action_dist_cls
    get_train_action_dist_cls = get_inference_action_dist_cls
