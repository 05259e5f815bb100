"""Tiny settings of every rllib-meta algorithm, shared by the tests: a training iteration
takes about a second on one core. Tests extend them with what they are about."""

# Meta-MAPG family on the IPD, 8-step games.
META_MAPG = {
    "chain_length": 2,
    "trajectories_per_step": 8,
    "chains_per_iteration": 2,
    "validation_interval": 1,
    "validation_chains": 2,
}
META_MAPG_ENV_CONFIG = {"horizon": 8}

# MeVa on the exact IPD (exploration and a target network on, so both are exercised).
MEVA_IPD = {
    "policy_pairs": 8,
    "policy_lr": 25.0,
    "horizon": 4,
    "stride": 2,
    "strides_per_iteration": 2,
    "num_quantiles": 4,
    "hidden_size": 8,
    "target_inertia": 0.9,
    "exploration_flip_prob": 0.25,
    "seed": 3,
}

# StackelbergMeta: two iterations per phase.
STACKELBERG = {
    "pretraining_iterations": 2,
    "leader_iterations": 2,
    "verification_iterations": 2,
    "follower_episodes_per_iteration": 4,
    "leader_episodes_per_iteration": 6,
    "ppo_epochs": 2,
    "seed": 3,
}
STACKELBERG_ENV_CONFIG = {"game": "prisoners_dilemma", "center": True, "horizon": 10}

# StackelbergAtariTrade: one phase-0 iteration of one 20-step episode, two per trade phase.
STACKELBERG_ATARI_TRADE = {
    "leader": "seller",
    "gameplay_iterations": 1,
    "gameplay_episodes_per_iteration": 1,
    "gameplay_hiddens": [8],
    "gameplay_epochs": 1,
    "value_episodes": 1,
    "pretraining_iterations": 2,
    "leader_iterations": 2,
    "verification_iterations": 2,
    "follower_episodes_per_iteration": 4,
    "leader_episodes_per_iteration": 6,
    "ppo_epochs": 2,
    "seed": 3,
}
STACKELBERG_ATARI_TRADE_ENV_CONFIG = {"max_cycles": 20, "bullet_rate": 0.5}

FOLLOWER_DEMO = {"seed": 3, "follower_episodes": 5, "leader_batch_size": 7}

# MRA on resource occupation with 2 and 3 agents (different N, so mixing MGs would show), 3
# resources; updates start in the first iteration.
MRA = {
    "training_populations": [2, 3],
    "envs_per_population": 3,
    "rollout_steps": 5,
    "inner_steps": 2,
    "replay_batch_size": 16,
    "learning_starts": 15,
    "num_latents": 3,
    "num_resampled_z": 2,
    "hidden_size": 8,
    "key_size": 4,
    "seed": 3,
}
MRA_ENV_CONFIG = {"num_resources": 3}
