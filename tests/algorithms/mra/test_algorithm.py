"""MRA as an RLlib algorithm (issue 13, item 6): the Learner's soft Q target on a hand-built
batch, one replay buffer per MG, the stored states observed as the EnvRunner saw them, the
Reptile outer step in the update, the split of the sampling over 2 EnvRunners, the CLI from
training to evaluation, and the settings refused by name."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from envs.particle import BatchedParticleWorld, resource_occupation
from rllib_meta.algorithms.mra.algorithm import MRA
from rllib_meta.algorithms.mra.attention import gather_others
from rllib_meta.algorithms.mra.learner import Minibatch
from rllib_meta.algorithms.mra.populations import observe_states, training_games, world_state
from rllib_meta.algorithms.mra.replay import ReplayBuffer
from rllib_meta.cli import main
from tests import tiny_configs
from tests.cli import train_file


def tiny_config(**settings):
    config = MRA.get_default_config().environment(
        "resource_occupation", env_config=tiny_configs.MRA_ENV_CONFIG
    )
    return config.update_from_dict({**tiny_configs.MRA, **settings})


# -- settings ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"training_populations": []}, r"^training_populations must be a non-empty list"),
        ({"training_populations": "6"}, r"^training_populations must be a non-empty list"),
        ({"training_populations": [2, "many"]}, r"^training_populations\[1\] must be num_agents"),
        ({"training_populations": [[4, 2]]}, r"^training_populations\[0\] must be num_agents"),
        ({"training_populations": [2, 0]}, r"^training_populations\[1\] = 0 is refused by env"),
        ({"training_populations": [2, 2]}, r"^training_populations lists population \[2\] twice"),
        ({"transfer_populations": [600]}, r"^transfer_populations\[0\] = 600 is refused"),
        ({"num_latents": 0}, r"^num_latents must be an integer >= 1, got 0"),
        ({"latent": "gaussian"}, r"^latent must be one of \['learned', 'uniform', 'none'\]"),
        ({"latent": "none", "architecture": "concat"}, r"^architecture='concat' conditions"),
        ({"reptile": 1}, r"^reptile must be one of \[True, False\], got 1"),
        ({"reptile_step_size": 0.0}, r"^reptile_step_size must be a number in \(0.0, 1.0\]"),
        ({"replay_batch_size": 64, "replay_buffer_size": 32}, r"^replay_batch_size=64 is larger"),
    ],
)
def test_bad_settings_are_refused_naming_the_key(settings, message):
    config = tiny_config(**settings)
    with pytest.raises(ValueError, match=message):
        config.validate()


def test_pacman_populations_are_pairs_and_a_runner_needs_a_game_of_every_mg():
    config = MRA.get_default_config().environment("pacman_world")
    config.training(training_populations=[[4, 2], [6, 3]]).validate()
    with pytest.raises(ValueError, match=r"^training_populations\[0\] must be num_pacman num_g"):
        config.training(training_populations=[6]).validate()
    config = tiny_config(envs_per_population=1).env_runners(num_env_runners=2)
    with pytest.raises(ValueError, match=r"envs_per_population=1 is smaller than num_env_runners"):
        config.validate()


def test_an_unsupported_env_is_refused():
    config = tiny_config().environment("ipd")
    with pytest.raises(ValueError, match=r"^env must be one of \['resource_occupation'"):
        config.validate()


# -- replay -------------------------------------------------------------------------------


def test_the_replay_ring_overwrites_the_oldest_and_restores_its_state():
    buffer = ReplayBuffer(4)
    buffer.add({"x": np.arange(3), "y": np.arange(3) * 10.0})
    buffer.add({"x": np.arange(3, 6), "y": np.arange(3, 6) * 10.0})
    assert len(buffer) == 4 and buffer.next == 2
    assert buffer.fields["x"].tolist() == [4, 5, 2, 3]  # 0 and 1 overwritten
    copy = ReplayBuffer(1)
    copy.set_state(buffer.get_state())
    first = buffer.sample(6, torch.Generator().manual_seed(0))
    second = copy.sample(6, torch.Generator().manual_seed(0))
    assert first["x"].tolist() == second["x"].tolist()
    assert set(first["x"]) <= {2, 3, 4, 5}
    np.testing.assert_array_equal(first["y"], first["x"] * 10.0)


def test_stored_states_are_observed_exactly_as_the_world_observed_them():
    task = resource_occupation(3, num_resources=3)
    world = BatchedParticleWorld(task, 4, seed=0, max_agents=5, max_landmarks=4)
    world.reset()
    world.step(np.random.default_rng(0).integers(5, size=(4, 3)))
    (game,) = training_games("resource_occupation", {"num_resources": 3}, [3])
    rebuilt = observe_states(game, 5, 4, world_state(world))
    for key, value in world.observe().items():
        np.testing.assert_array_equal(rebuilt[key], value, err_msg=key)


@pytest.mark.slow
def test_each_mg_has_its_own_replay_buffer_with_only_its_transitions(ray_instance):
    algorithm = tiny_config(learning_starts=10_000).build_algo()  # no update: buffers only
    try:
        runner, learner = algorithm.env_runner, algorithm.learner_group._learner
        sample = runner.sample()
        learner.update_from_transitions(sample["transitions"])
        for index, (buffer, batch) in enumerate(
            zip(learner.buffers, sample["transitions"], strict=True)
        ):
            agents = (2, 3)[index]
            assert len(buffer) == 5 * 3  # rollout_steps x envs_per_population
            assert buffer.fields["actions"].shape[1:] == (agents,)
            assert buffer.fields["pos"].shape[1:] == (agents, 2)
            assert buffer.fields["z"].shape[1:] == (agents, 3)
            for key, value in batch.items():
                np.testing.assert_array_equal(buffer.fields[key][: len(buffer)], value, key)
        # The last transition's next state is what the world holds now (no reset at step 5).
        fields = learner.buffers[1].fields
        last = {key: fields[f"next_{key}"][12:15] for key in ("pos", "vel")}
        np.testing.assert_array_equal(last["pos"], runner.worlds[1].state.pos)
        np.testing.assert_array_equal(last["vel"], runner.worlds[1].state.vel)
    finally:
        algorithm.stop()


# -- the Learner's update ----------------------------------------------------------------


def hand_built_batch(learner, game) -> Minibatch:
    """Two transitions of the 2-agent MG, agent 1 of the second one terminated."""
    world = BatchedParticleWorld(game.task, 2, seed=1, max_agents=3, max_landmarks=3)
    obs = world.reset()
    next_obs, *_ = world.step(np.array([[1, 2], [3, 4]]))
    tensors = [{k: torch.from_numpy(v) for k, v in o.items()} for o in (obs, next_obs)]
    z = torch.nn.functional.one_hot(torch.tensor([[0, 1], [2, 0]]), 3).float()
    nets = learner.roles["agent"]
    with torch.no_grad():
        graphs = [nets.relation(tensors[0], z)]
        next_graphs = [nets.relation(tensors[1], z)]
    return Minibatch(
        game=game,
        obs=tensors[0],
        next_obs=tensors[1],
        actions=torch.tensor([[1, 2], [3, 4]]),
        rewards=torch.tensor([[0.5, -1.0], [2.0, 3.0]]),
        terminated=torch.tensor([[False, False], [False, True]]),
        z=z,
        mask=torch.ones(2, 2, dtype=torch.bool),
        graphs=graphs,
        next_graphs=next_graphs,
    )


@pytest.mark.slow
def test_the_soft_q_target_on_a_hand_built_batch(ray_instance):
    algorithm = tiny_config(reward_scale=4.0, gamma=0.9).build_algo()
    try:
        learner = algorithm.learner_group._learner
        game = learner.games[0]
        batch = hand_built_batch(learner, game)
        state = learner.generator.get_state()
        (targets,) = learner.soft_targets(batch)
        # By hand: the next actions are drawn from the target policy with the same generator,
        # then y = r + gamma (1 - done) sum_a pi_bar(a) (Q_bar(a) - log pi_bar(a) / 4).
        nets, generator = learner.roles["agent"], torch.Generator().set_state(state)
        with torch.no_grad():
            logits = nets.target_policy(batch.next_obs, batch.next_graphs[0])
            probs = torch.softmax(logits, -1)
            drawn = torch.multinomial(probs.flatten(0, 1), 1, generator=generator).view(2, 2)
            q = nets.target_critic(batch.next_obs, gather_others(drawn, 2), batch.next_graphs[0])
        expected = torch.empty(2, 2)
        for b in range(2):
            for i in range(2):
                value = sum(
                    probs[b, i, a] * (q[b, i, a] - torch.log(probs[b, i, a]) / 4.0)
                    for a in range(5)
                )
                done = float(batch.terminated[b, i])
                expected[b, i] = batch.rewards[b, i] + 0.9 * (1 - done) * value
        torch.testing.assert_close(targets, expected, rtol=1e-5, atol=1e-5)
        assert targets[1, 1] == batch.rewards[1, 1]  # terminated: the reward alone
    finally:
        algorithm.stop()


@pytest.mark.slow
@pytest.mark.parametrize("step_size", [1.0, 0.25])
def test_the_update_takes_the_reptile_step_of_eq_6_on_the_policy(ray_instance, step_size):
    """theta_new = theta_0 + alpha (theta_K - theta_0) on one MG: theta_K from the same seeded
    run with Reptile off (the outer step draws no random numbers, so the K inner steps agree)."""
    settings = {
        "training_populations": [3],
        "mutual_information": False,
        "reptile_step_size": step_size,
    }
    policies = {}
    for reptile in (True, False):
        algorithm = tiny_config(**settings, reptile=reptile).build_algo()
        try:
            learner = algorithm.learner_group._learner
            policy = learner.roles["agent"].policy
            theta_0 = [p.detach().clone() for p in policy.parameters()]
            learner.update_from_transitions(algorithm.env_runner.sample()["transitions"])
            policies[reptile] = [p.detach().clone() for p in policy.parameters()]
        finally:
            algorithm.stop()
    for start, adapted, stepped in zip(theta_0, policies[False], policies[True], strict=True):
        torch.testing.assert_close(stepped, start + step_size * (adapted - start))
    assert any(not torch.equal(a, s) for a, s in zip(policies[False], theta_0, strict=True))


@pytest.mark.slow
def test_the_maddpg_mode_has_maddpgs_target_and_moves_only_the_policy(ray_instance):
    settings = {"actor_critic": "maddpg", "latent": "none", "gamma": 0.9}
    algorithm = tiny_config(**settings).build_algo()
    try:
        learner = algorithm.learner_group._learner
        batch = hand_built_batch(learner, learner.games[0])
        batch.z = None
        nets = learner.roles["agent"]
        with torch.no_grad():
            batch.graphs = [nets.relation(batch.obs, None)]
            batch.next_graphs = [nets.relation(batch.next_obs, None)]
        state = learner.generator.get_state()
        (targets,) = learner.soft_targets(batch)
        generator = torch.Generator().set_state(state)
        with torch.no_grad():
            logits = nets.target_policy(batch.next_obs, batch.next_graphs[0])
            probs = torch.softmax(logits, -1).flatten(0, 1)
            drawn = torch.multinomial(probs, 1, generator=generator).view(2, 2)
            q = nets.target_critic(batch.next_obs, gather_others(drawn, 2), batch.next_graphs[0])
        own_q = q.gather(-1, drawn.unsqueeze(-1)).squeeze(-1)  # y = r + gamma (1 - d) Q(a')
        expected = batch.rewards + 0.9 * (1.0 - batch.terminated.float()) * own_q
        torch.testing.assert_close(targets, expected)

        before = {k: v.detach().clone() for k, v in nets.state_dict().items()}
        learner.policy_step(batch)
        changed = {
            k.split(".")[0] for k, v in nets.state_dict().items() if not torch.equal(v, before[k])
        }
        assert changed == {"policy"}
    finally:
        algorithm.stop()


@pytest.mark.slow
def test_two_roles_learn_their_own_networks_in_the_pacman_world(ray_instance):
    config = MRA.get_default_config().environment("pacman_world", env_config={"num_food": 3})
    settings = {**tiny_configs.MRA, "training_populations": [[2, 1], [3, 2]], "rollout_steps": 20}
    algorithm = config.update_from_dict(settings).build_algo()
    try:
        roles = algorithm.learner_group._learner.roles
        assert set(roles) == {"pacman", "ghost"}
        before = {role: nets.state_dict() for role, nets in roles.items()}
        before = {role: {k: v.clone() for k, v in sd.items()} for role, sd in before.items()}
        result = algorithm.train()["mra"]
        for role, nets in roles.items():
            for group in ("policy", "critic", "relation", "prior", "classifier"):
                changed = [
                    not torch.equal(value, before[role][name])
                    for name, value in nets.state_dict().items()
                    if name.startswith(f"{group}.")
                ]
                assert any(changed), (role, group)
        for label in ("p2_g1", "p3_g2"):
            assert {"pacman_return_mean", "ghost_return_mean", "critic_loss"} <= set(result[label])
            assert result[label]["episodes"] >= 3.0  # every game ends by step 20
        # The EnvRunner acts with the Learner's weights after the update.
        runner = algorithm.env_runner.module.roles["ghost"].policy.state_dict()
        for name, value in roles["ghost"].policy.state_dict().items():
            assert torch.equal(runner[name], value), name
    finally:
        algorithm.stop()


@pytest.mark.slow
@pytest.mark.parametrize(
    "settings",
    [
        {"latent": "uniform"},
        {"latent": "none", "reptile": False},
        {"architecture": "concat"},
        {"architecture": "bilinear", "mutual_information": False},
    ],
)
def test_every_variant_trains_an_iteration(ray_instance, settings):
    algorithm = tiny_config(**settings).build_algo()
    try:
        result = algorithm.train()["mra"]
        for label in ("n2", "n3"):
            assert np.isfinite(result[label]["critic_loss"])
            assert ("action_mi_bound" in result[label]) == (
                settings.get("latent") != "none" and settings.get("mutual_information", True)
            )
    finally:
        algorithm.stop()


@pytest.mark.slow
def test_adaptation_starts_from_a_checkpoints_networks_in_an_unseen_game(ray_instance, tmp_path):
    trained = tiny_config().build_algo()
    try:
        trained.train()
        checkpoint = trained.save_to_path(tmp_path / "trained")
        saved = {
            k: v.clone() for k, v in trained.learner_group._learner.rl_module.state_dict().items()
        }
    finally:
        trained.stop()
    settings = {
        "training_populations": [4],  # unseen, and |M| = 1: the classifier's head is re-made
        "initial_weights": str(checkpoint),
        "adapt_relation": True,
        "reptile": False,
        "mutual_information": False,
        "rollout_steps": 20,
    }
    algorithm = tiny_config(**settings).build_algo()
    try:
        learner = algorithm.learner_group._learner
        assert algorithm.initialised_here == [
            "roles.agent.classifier.head.1.bias",
            "roles.agent.classifier.head.1.weight",
        ]
        for module in (learner.rl_module, algorithm.env_runner.module):
            for name, value in module.state_dict().items():
                if name not in algorithm.initialised_here:
                    assert torch.equal(value, saved[name]), name
        algorithm.train()
        relation = learner.roles["agent"].relation.state_dict()
        # Eq. 10 moves phi by the policy gradient (no MI step runs here).
        assert any(
            not torch.equal(value, saved[f"roles.agent.relation.{name}"])
            for name, value in relation.items()
        )
    finally:
        algorithm.stop()


def test_initial_weights_must_be_a_path():
    with pytest.raises(
        ValueError, match=r"^initial_weights must be a string \(a path, or empty\), got 3"
    ):
        tiny_config(initial_weights=3).validate()


# -- distribution and the command line ---------------------------------------------------


@pytest.mark.slow
def test_two_env_runners_split_the_games_of_every_mg(ray_instance):
    algorithm = tiny_config().env_runners(num_env_runners=2).build_algo()
    try:
        shares = algorithm.env_runner_group.foreach_env_runner(
            lambda runner: (runner.num_envs, runner.seed), local_env_runner=False
        )
        assert sorted(count for count, _ in shares) == [1, 2]  # 3 games per MG
        assert len({seed for _, seed in shares}) == 2
        result = algorithm.train()
        learner = algorithm.learner_group._learner
        assert [len(buffer) for buffer in learner.buffers] == [15, 15]  # 5 steps x 3 games
        assert result["env_runners"]["num_env_steps_sampled_lifetime"] == 30
        # The games of the two runners are different games.
        positions = learner.buffers[0].fields["pos"][:15]
        assert len({row.tobytes() for row in positions}) == 15
    finally:
        algorithm.stop()


@pytest.mark.slow
def test_the_cli_trains_and_evaluates_a_tiny_config(ray_instance, tmp_path, capsys):
    shrink = {
        "env_config": {"num_resources": 3},
        **{k: v for k, v in tiny_configs.MRA.items() if k != "seed"},
        "rollout_steps": 20,
        "transfer_populations": [4],
    }
    code = train_file("mra_resource_occupation_small.yaml", tmp_path, 2, shrink)
    out = capsys.readouterr().out
    assert code == 0, out
    assert re.search(r"iter 2 \| env steps 240 \| return -?[\d.]+", out), out
    (checkpoint,) = re.findall(r"^Checkpoint: (.+)$", out, flags=re.MULTILINE)

    assert main(["evaluate", checkpoint, "--episodes", "3", "--output-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = re.findall(
        r"^(n\d)\s+(yes|no)\s+(-?[\d.]+) \+- ([\d.]+)\s+(-?[\d.]+).*\((z=\d)\)$",
        out,
        flags=re.MULTILINE,
    )
    assert [(game, trained) for game, trained, *_ in rows] == [
        ("n2", "yes"),
        ("n3", "yes"),
        ("n4", "no"),
    ]
    for picture in ("mra_learning_curves_0.png", "mra_relational_graphs_0.png"):
        assert (tmp_path / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", picture
    (report,) = json.loads(Path(tmp_path / "mra_evaluation.json").read_text())
    graphs = report["relational_graphs"]
    assert set(graphs) == {"n2", "n3", "n4"}
    for label, agents in (("n2", 2), ("n3", 3), ("n4", 4)):
        # every agent's graph is a distribution over the other agents of its game
        np.testing.assert_allclose(np.sum(graphs[label], axis=1), 1.0, atol=1e-3)
        assert np.shape(graphs[label]) == (agents, agents - 1)
    for row in report["games"]:
        modes = row["modes"]
        assert set(modes) == {"E_z", "z=0", "z=1", "z=2"}
        best = max(modes[name]["all"]["mean"] for name in ("z=0", "z=1", "z=2"))
        assert modes[row["best_z"]]["all"]["mean"] == best
        # resource occupation pays at most 10 * 0.3 per step (the largest resource alone)
        assert 0.0 <= modes["E_z"]["all"]["mean"] <= 20 * 3.0
