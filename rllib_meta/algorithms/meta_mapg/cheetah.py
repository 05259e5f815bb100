"""Chains of 2-agent HalfCheetah (paper 001 Sec. 5, Fig. 2d; App. E.3): the meta-agent (the
back leg, ``player_0``) and a teammate from the pre-trained population (the front leg,
``player_1``) on K cheetahs stepped at once.

A chain step's K trajectories are one episode of every cheetah of
:class:`~envs.mujoco.batched.BatchedHalfCheetah` (HalfCheetah-v5's rules, equal to the
``halfcheetah_2x3`` env step for step): each time step is one forward pass of the meta-agent's
LSTM Gaussian policy and one of the teammate's, both over the K observations (the full
17-value state, which both players observe), then one physics step of the K cheetahs. Between
batches both agents take their inner step (Eq. 4) through :func:`sampling.play_chain`, the
same function the matrix games use: the teammate is a
:class:`~rllib_meta.algorithms.meta_mapg.peers.NetworkPeers` of the population's network with
a checkpoint's parameters, adapting by the DiCE policy gradient with the linear feature
baseline (App. E.3: "the teammate agent j updates its policy based on the policy gradient
with the linear feature baseline as in IPD and RPS").

Actions are drawn from the Gaussian as given (not clipped): MuJoCo clamps the controls to
``[-1, 1]`` and the control cost is of the drawn action, as in HalfCheetah-v5 and the
MaMuJoCo env. Both players receive the one shared reward.
"""

from __future__ import annotations

import numpy as np
import torch

from rllib_meta.algorithms.meta_mapg.chain import Params
from rllib_meta.algorithms.meta_mapg.distributions import DiagonalGaussian
from rllib_meta.algorithms.meta_mapg.networks import LSTMNet
from rllib_meta.algorithms.meta_mapg.objectives import InnerLoop, TrajectoryBatch
from rllib_meta.algorithms.meta_mapg.peers import NetworkPeers
from rllib_meta.algorithms.meta_mapg.sampling import ChainSample, play_chain

NUM_PLAYERS = 2  # back leg (the meta-agent), front leg (the teammate)


def gaussian_actions(
    outputs: torch.Tensor, distribution: DiagonalGaussian, generator: torch.Generator
) -> torch.Tensor:
    """One draw of ``N(mu, sigma^2)`` per row of ``outputs = [mu, log sigma]`` (the log-std
    clamped as :class:`DiagonalGaussian` scores it), without gradient."""
    mean, log_std = outputs.detach().chunk(2, -1)
    log_std = log_std.clamp(distribution.min_log_std, distribution.max_log_std)
    noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype)
    return mean + log_std.exp() * noise


def sample_cheetah_trajectories(
    policy: LSTMNet,
    agent_params: Params,
    teammate: LSTMNet,
    teammate_params: Params,
    core,
    generator: torch.Generator,
) -> tuple[TrajectoryBatch, torch.Tensor]:
    """K = ``core.batch_size`` episodes of the meta-agent (``policy`` under ``agent_params``,
    back leg) with the teammate (``teammate`` under ``teammate_params``, front leg) on
    ``core`` (a ``BatchedHalfCheetah``, reset here from its own reset generator).

    Returns the batch (states ``(K, H, 17)`` float32, actions ``(2, K, H, 3)``, rewards
    ``(2, K, H)``, the shared reward twice) and the meta-agent's policy outputs ``(K, H, 6)``,
    with their graph to ``agent_params`` when those require gradients (its inner update uses
    exactly these log-probabilities).
    """
    agent_step = policy.stepper(agent_params)
    teammate_step = teammate.stepper({n: p.detach() for n, p in teammate_params.items()})
    agent_state = policy.initial_state(core.batch_size)
    teammate_state = teammate.initial_state(core.batch_size)
    observation = core.reset()
    states, actions, rewards, agent_outputs = [], [], [], []
    for _ in range(core.horizon):
        obs = torch.from_numpy(observation).to(torch.float32)
        outputs, agent_state = agent_step(obs, agent_state)
        with torch.no_grad():
            teammate_outputs, teammate_state = teammate_step(obs, teammate_state)
            joint = torch.stack(
                [
                    gaussian_actions(outputs, policy.distribution, generator),
                    gaussian_actions(teammate_outputs, teammate.distribution, generator),
                ]
            )  # (2, K, 3)
        observation, reward, _ = core.step(torch.cat(list(joint), 1).numpy())
        states.append(obs)
        actions.append(joint)
        rewards.append(torch.from_numpy(reward).to(torch.float32))
        agent_outputs.append(outputs)
    shared = torch.stack(rewards, -1)  # (K, H)
    batch = TrajectoryBatch(
        states=torch.stack(states, 1),
        actions=torch.stack(actions, 2),
        rewards=shared.expand(NUM_PLAYERS, *shared.shape).clone(),
    )
    return batch, torch.stack(agent_outputs, 1)


def sample_cheetah_chain(
    agent,
    teammate: LSTMNet,
    teammate_params: Params,
    core,
    chain_length: int,
    gamma: float,
    peer_learning_rate: float,
    generator: torch.Generator,
    lookahead: int = 0,
) -> ChainSample:
    """One chain ``tau_0..tau_L`` from the meta-agent's ``phi_0`` and a teammate checkpoint
    (``lookahead > 0``: the meta-agent adapts with LOLA-DiCE steps), no second-order graph."""
    if not isinstance(agent.policy.distribution, DiagonalGaussian):
        raise ValueError(
            "2-agent HalfCheetah needs a policy over continuous actions (DiagonalGaussian), got "
            f"{type(agent.policy.distribution).__name__}"
        )
    inner = InnerLoop(
        agent.policy,
        agent.num_states,
        gamma,
        peer_learning_rate,
        lookahead,
        NetworkPeers(teammate),
    )

    def sample_batch(agent_params, peer_params):
        (teammate_params_now,) = peer_params
        return sample_cheetah_trajectories(
            agent.policy, agent_params, teammate, teammate_params_now, core, generator
        )

    return play_chain(
        agent, [teammate_params], sample_batch, inner, chain_length, peer_learning_rate
    )


def network_params_record(params: Params) -> dict[str, np.ndarray]:
    """A network peer's parameters as numpy arrays (what a chain record carries)."""
    return {name: value.detach().numpy() for name, value in params.items()}


def teammate_for(params: dict[str, np.ndarray]) -> LSTMNet:
    """The population's teammate network for parameters of that architecture (the hidden
    size read from the LSTM's recurrent weight ``(4 * hidden, hidden)``)."""
    from rllib_meta.algorithms.meta_mapg.teammates import teammate_network

    return teammate_network(int(np.shape(params["lstm.weight_hh_l0"])[1]))


def render_pair(
    policy: LSTMNet,
    agent_params: Params,
    teammate: LSTMNet,
    teammate_params: Params,
    env,
    generator: torch.Generator,
    num_frames: int = 8,
    seed: int = 0,
) -> tuple[np.ndarray, float]:
    """One episode of the pair on ``env`` (a ``halfcheetah_2x3`` with
    ``render_mode="rgb_array"``, which needs an off-screen GL: ``MUJOCO_GL=egl`` or
    ``osmesa``), both policies stepped at batch 1 as the sampler steps them at batch K.

    Returns ``num_frames`` frames evenly spread over the episode, ``(F, height, width, 3)``,
    and how far the cheetah moved right (metres)."""
    steps = env.horizon
    keep = set(np.linspace(0, steps - 1, num_frames).round().astype(int).tolist())
    agent_step = policy.stepper(agent_params)
    teammate_step = teammate.stepper(teammate_params)
    agent_state, teammate_state = policy.initial_state(1), teammate.initial_state(1)
    observations, _ = env.reset(seed=seed)
    x_start = float(env.simulation.data.qpos[0])
    frames = []
    with torch.no_grad():
        for t in range(steps):
            if t in keep:
                frames.append(env.render())
            obs = torch.as_tensor(observations["player_0"], dtype=torch.float32).unsqueeze(0)
            outputs, agent_state = agent_step(obs, agent_state)
            teammate_outputs, teammate_state = teammate_step(obs, teammate_state)
            actions = {
                "player_0": gaussian_actions(outputs, policy.distribution, generator)[0].numpy(),
                "player_1": gaussian_actions(teammate_outputs, teammate.distribution, generator)[
                    0
                ].numpy(),
            }
            observations, *_ = env.step(actions)
    return np.stack(frames), float(env.simulation.data.qpos[0]) - x_start
