"""Meta-MAPG and its baselines on 2-agent HalfCheetah (paper 001 Sec. 5, Fig. 2d): the chain
sampler against the PettingZoo env step by step, the chain record replayed on the Learner,
seeded runs, the population's errors, and `rllib train` then `rllib evaluate`."""

import re

import numpy as np
import pytest
import torch

import envs
from rllib_meta.algorithms.meta_mapg.agent import MetaAgent
from rllib_meta.algorithms.meta_mapg.algorithm import REINFORCE, LOLADiCE, MetaMAPG, MetaPG
from rllib_meta.algorithms.meta_mapg.chain import LearningTerms
from rllib_meta.algorithms.meta_mapg.cheetah import (
    sample_cheetah_chain,
    sample_cheetah_trajectories,
)
from rllib_meta.algorithms.meta_mapg.config import TEAMMATES_COMMAND
from rllib_meta.algorithms.meta_mapg.distributions import DiagonalGaussian
from rllib_meta.algorithms.meta_mapg.env_runner import (
    batches_from_record,
    chain_peers,
    cheetah_chain_record,
)
from rllib_meta.algorithms.meta_mapg.meta_gradient import ReplaySettings, unroll_stored_chain
from rllib_meta.algorithms.meta_mapg.peers import NetworkPeers
from rllib_meta.algorithms.meta_mapg.teammates import PopulationNotFoundError, teammate_network
from rllib_meta.algorithms.meta_mapg.teammates import main as build_population
from rllib_meta.cli import main
from tests.cli import train_file

REASON = 'needs the mujoco extra: pip install "rllib-meta[mujoco]"'
pytest.importorskip("mujoco", reason=REASON)
pytest.importorskip("gymnasium_robotics", reason=REASON)
BatchedHalfCheetah = pytest.importorskip("envs.mujoco.batched").BatchedHalfCheetah

H, K, L = 6, 3, 2
TINY_POPULATION = ["--iterations", "4", "--trajectories", "2", "--horizon", "4"]
TINY = {
    "env_config": {"horizon": H},
    "chain_length": L,
    "trajectories_per_step": K,
    "chains_per_iteration": 2,
    "validation_interval": 1,
    "validation_chains": 2,
}


@pytest.fixture(scope="module")
def population(tmp_path_factory):
    directory = tmp_path_factory.mktemp("teammates") / "population"
    build_population(["--out", str(directory), "--seed", "1", *TINY_POPULATION])
    return directory


def networks(seed: int = 0):
    torch.manual_seed(seed)
    agent = MetaAgent(17, 3, L, inner_learning_rate=0.05, hidden=8, distribution=DiagonalGaussian())
    teammate = teammate_network(hidden=8)
    return agent, teammate, dict(teammate.named_parameters())


def step_by_step_log_probs(network, params, observations, actions):
    """Log-probabilities of ``actions`` (H, 3) by the network stepped one observation at a
    time at batch 1 (the MaMuJoCo loop's way)."""
    step = network.stepper(params)
    state = network.initial_state(1)
    log_probs = []
    for obs, action in zip(observations, actions, strict=True):
        output, state = step(torch.as_tensor(obs, dtype=torch.float32).unsqueeze(0), state)
        log_prob, _ = network.distribution.log_prob_and_entropy(output, action.unsqueeze(0))
        log_probs.append(log_prob[0])
    return torch.stack(log_probs)


@pytest.mark.parametrize("seed", [0, 5])
def test_the_sampler_equals_the_pettingzoo_env_step_for_step(seed):
    # One cheetah seeded like env.reset(seed): the same initial state; then the sampler's own
    # actions replayed on the env give its observations and rewards (as float32, bit for bit)
    # and the log-probabilities of both players' actions.
    agent, teammate, teammate_params = networks(seed)
    core = BatchedHalfCheetah(1, H, direction=1, reward_scale=0.5, seed=seed)
    batch, outputs = sample_cheetah_trajectories(
        agent.policy,
        agent.policy_params(),
        teammate,
        teammate_params,
        core,
        torch.Generator().manual_seed(seed),
    )
    env = envs.make("halfcheetah_2x3", horizon=H, reward_scale=0.5)
    observations, _ = env.reset(seed=seed)
    seen, rewards = [], []
    for t in range(H):
        seen.append(observations["player_0"])
        np.testing.assert_array_equal(observations["player_0"], observations["player_1"])
        actions = {f"player_{p}": batch.actions[p, 0, t].numpy() for p in range(2)}
        observations, reward, *_ = env.step(actions)
        rewards.append([reward["player_0"], reward["player_1"]])
    env.close()
    assert batch.states.shape == (1, H, 17)
    assert batch.actions.shape == (2, 1, H, 3)
    torch.testing.assert_close(
        batch.states[0], torch.tensor(np.array(seen), dtype=torch.float32), rtol=0, atol=0
    )
    expected_rewards = torch.tensor(np.array(rewards).T, dtype=torch.float32)
    torch.testing.assert_close(batch.rewards[:, 0], expected_rewards, rtol=0, atol=0)
    agent_log_probs, _ = agent.policy.distribution.log_prob_and_entropy(outputs, batch.actions[0])
    by_step = step_by_step_log_probs(agent.policy, None, seen, batch.actions[0, 0])
    torch.testing.assert_close(agent_log_probs[0], by_step)
    teammate_log_probs = step_by_step_log_probs(
        teammate, teammate_params, seen, batch.actions[1, 0]
    )
    scored = NetworkPeers(teammate).log_probs(teammate_params, batch, 1)
    torch.testing.assert_close(scored[0], teammate_log_probs)


def test_the_learner_replays_the_sampled_chain():
    # The record that travels to the Learner rebuilds the chain's batches and the teammate;
    # replaying the inner updates on it recomputes the sampled phi_1..phi_L of both agents.
    agent, teammate, teammate_params = networks()
    core = BatchedHalfCheetah(K, H, seed=2)
    chain = sample_cheetah_chain(
        agent, teammate, teammate_params, core, L, 0.95, 0.05, torch.Generator().manual_seed(2)
    )
    record = cheetah_chain_record(chain, np.asarray([7]))
    peers, peer_policy = chain_peers(record)
    settings = ReplaySettings(0.95, 0.95, 0.05, LearningTerms(), peer_policy=peer_policy)
    replayed = unroll_stored_chain(agent, batches_from_record(record), peers, settings)
    for sampled, recomputed in zip(chain.peer_params, replayed.peer_params, strict=True):
        for name, value in sampled[0].items():
            torch.testing.assert_close(recomputed[0][name].detach(), value)
    for sampled, recomputed in zip(chain.agent_params, replayed.agent_params, strict=True):
        for name, value in sampled.items():
            torch.testing.assert_close(recomputed[name].detach(), value)
    # Both agents learn along the chain.
    first, last = chain.peer_params[0][0], chain.peer_params[-1][0]
    assert any(not torch.equal(first[n], last[n]) for n in first)
    assert not torch.equal(chain.agent_params[0]["head.bias"], chain.agent_params[-1]["head.bias"])


def cheetah_config(algorithm, population, **overrides):
    env_config = {"horizon": H, **overrides.pop("env_config", {})}
    settings = {key: value for key, value in TINY.items() if key != "env_config"}
    return (
        algorithm.get_default_config()
        .environment("halfcheetah_2x3", env_config=env_config)
        .training(teammate_population=str(population), **{**settings, **overrides})
        .debugging(seed=4)
    )


def test_a_missing_population_names_the_command(ray_instance, tmp_path):
    config = MetaMAPG.get_default_config().environment("halfcheetah_2x3")
    with pytest.raises(ValueError, match=re.escape(f"{TEAMMATES_COMMAND} --out DIR")):
        config.validate()
    config = cheetah_config(MetaMAPG, tmp_path / "nowhere")
    with pytest.raises(PopulationNotFoundError, match=re.escape(f"{TEAMMATES_COMMAND} --out")):
        config.build_algo()


@pytest.mark.slow
def test_a_seeded_run_repeats_exactly(ray_instance, population):
    def run():
        algorithm = cheetah_config(MetaMAPG, population).build_algo()
        try:
            results = [algorithm.train() for _ in range(2)]
            weights = algorithm.learner_group.get_weights()["default_policy"]
        finally:
            algorithm.stop()
        return results, weights

    (first, weights), (second, again) = run(), run()
    for a, b in zip(first, second, strict=True):
        assert a["meta_learner"] == b["meta_learner"]
        assert a["validation"] == b["validation"]
    for name, value in weights.items():
        np.testing.assert_array_equal(np.asarray(value), np.asarray(again[name]))
    assert first[0]["env_runners"]["num_env_steps_sampled_lifetime"] == 2 * (L + 1) * K * H


@pytest.mark.slow
@pytest.mark.parametrize("algorithm", [MetaPG, LOLADiCE, REINFORCE])
def test_the_baselines_train_and_meta_test(ray_instance, population, algorithm):
    instance = cheetah_config(algorithm, population).build_algo()
    try:
        result = instance.train()
        assert np.isfinite(result["meta_learner"]["surrogate"])
        tested = instance.meta_test("test")
        num_test = len(instance.env_runner.population.split("test"))
        assert tested["rewards"].shape == (num_test, L + 1, 2)
        np.testing.assert_array_equal(tested["rewards"][..., 0], tested["rewards"][..., 1])
    finally:
        instance.stop()


@pytest.mark.slow
def test_rllib_train_then_evaluate(ray_instance, population, tmp_path, capsys):
    config = {**TINY, "teammate_population": str(population)}
    code = train_file("meta_mapg_halfcheetah_small.yaml", tmp_path, 2, config)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "validation AUC" in out
    trial = re.findall(r"^Checkpoint: (.+)$", out, flags=re.MULTILINE)[0]
    report = tmp_path / "report"
    assert main(["evaluate", trial, "--output-dir", str(report)]) == 0
    out = capsys.readouterr().out
    assert "HALFCHEETAH 2x3" in out and "phi_2" in out and "AUC" in out
    assert re.search(r"^teammate\s+meta-agent(\s+-?\d+\.\d{3}){4}$", out, flags=re.MULTILINE), out
    assert (report / "adaptation_curves.png").stat().st_size > 0
    assert (report / "meta_test.json").is_file()
    assert not list(report.glob("action_dynamics_*.png"))  # continuous actions
    # The strip of the adapted pair where MuJoCo renders off-screen, else the reason printed.
    strip = report / "adapted_pair_MetaMAPG.png"
    assert strip.is_file() or "(off-screen rendering needs MUJOCO_GL=egl or osmesa)" in out, out


def test_evaluate_takes_the_teammate_splits_on_halfcheetah_checkpoints():
    from types import SimpleNamespace

    from rllib_meta.algorithms.meta_mapg.meta_test import evaluate_options

    info = SimpleNamespace(config=SimpleNamespace(env="halfcheetah_2x3", env_config={}))
    assert evaluate_options([info])["split"] == ("train", "val", "test")
