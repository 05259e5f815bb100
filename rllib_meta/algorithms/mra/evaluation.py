"""``rllib evaluate`` for MRA checkpoints (paper 002, section 7.3 and Fig. 5).

For every checkpoint and every game (the training MGs, then the config's
``transfer_populations``: zero-shot transfer to populations never trained on), ``--episodes``
episodes are played in parallel on the batched core, and the mean episode return per agent is
reported with its 95% confidence interval (over episodes, of the per-episode mean over agents):

* ``E_z``: each agent draws ``z ~ p_psi(z | m)`` at the start of each episode (uniformly for
  uni-MRA), the paper's "expectation over the latent z" (Fig. 5);
* ``z=k``: every agent plays with ``z = k`` all episode, for each ``k`` of ``|Z|``; ``best z``
  is the best of them, the paper's "enumerated trial-and-error" (section 7.3).

``latent: none`` has no z: one row per game. The numbers are printed and written as
``mra_evaluation.json`` to ``--output-dir`` or next to the first checkpoint, with two pictures
per checkpoint: ``mra_learning_curves_<n>.png``, the mean episode return per agent of every
training MG over the training iterations (Figs. 2-4 style, from the trial's ``result.json``),
and ``mra_relational_graphs_<n>.png``, one frame of an episode of every game after 10 steps
with each agent's graph ``g^i`` drawn as lines to the agents it attends to, their opacity and
width the attention weight (Fig. 11 style); the graphs' weights go into the JSON too.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from torch.nn import functional as F

from envs.particle.batched import BatchedParticleWorld
from envs.particle.render import EXTENT, render_frame
from rllib_meta.algorithms.mra.attention import other_agent_index
from rllib_meta.algorithms.mra.env_runner import act, draw_latents, role_slices
from rllib_meta.algorithms.mra.populations import Game, padding, training_games
from rllib_meta.evaluation.statistics import Z_95


def play(
    module,
    game: Game,
    episodes: int,
    seed: int,
    latent: int | None,
    greedy: bool,
    pad: dict[str, int],
) -> np.ndarray:
    """Returns ``(episodes, N)`` of ``episodes`` parallel episodes of ``game``; ``latent``: the
    fixed z of every agent (``None``: drawn from ``p_psi`` per agent and episode)."""
    world = BatchedParticleWorld(game.task, episodes, seed=seed, max_cycles=game.max_cycles, **pad)
    generator = torch.Generator().manual_seed(seed)
    obs = world.reset()
    with torch.no_grad():
        z = draw_latents(module, game, torch.from_numpy(obs["game"]), generator)
        if z is not None and latent is not None:
            z = F.one_hot(torch.full(z.shape[:-1], latent), z.shape[-1]).to(z.dtype)
        returns = np.zeros((episodes, game.task.num_agents))
        over = np.zeros(episodes, bool)
        for _ in range(game.max_cycles):
            tensors = {key: torch.from_numpy(value) for key, value in obs.items()}
            actions = act(module, game, tensors, z, generator, greedy).numpy()
            obs, rewards, _, _ = world.step(actions)
            returns += np.where(over[:, None], 0.0, rewards)
            over |= world.game_over()
    return returns


def summary(game: Game, returns: np.ndarray) -> dict[str, Any]:
    """Mean episode return per agent and its 95% CI half-width (per role as well)."""

    def stats(values: np.ndarray) -> dict[str, float]:
        per_episode = values.mean(axis=1)
        half = (
            Z_95 * per_episode.std(ddof=1) / math.sqrt(len(per_episode))
            if len(per_episode) > 1
            else math.nan
        )
        return {"mean": float(per_episode.mean()), "ci95": float(half)}

    result = {"all": stats(returns)}
    if len(game.task.role_names) > 1:
        for role, agents in zip(game.task.role_names, role_slices(game), strict=True):
            result[role] = stats(returns[:, agents])
    return result


def evaluate_module(module, config, episodes: int, seed: int, greedy: bool) -> list[dict[str, Any]]:
    """Every game's rows (see the module docstring) for one module and its config."""
    games = training_games(config.env, config.env_config, config.training_populations)
    unseen = (
        training_games(config.env, config.env_config, config.transfer_populations)
        if config.transfer_populations
        else []
    )
    rows = []
    for game, trained in [(g, True) for g in games] + [(g, False) for g in unseen]:
        pad = padding([game])
        modes: list[tuple[str, int | None]] = [("E_z", None)]
        if config.latent != "none":
            modes += [(f"z={k}", k) for k in range(config.num_latents)]
        results = {
            name: summary(game, play(module, game, episodes, seed, latent, greedy, pad))
            for name, latent in modes
        }
        row = {"game": game.label, "trained_on": trained, "modes": results}
        fixed = [name for name in results if name != "E_z"]
        if fixed:
            row["best_z"] = max(fixed, key=lambda name: results[name]["all"]["mean"])
        rows.append(row)
    return rows


GRAPH_STEPS = 10  # steps played before the frame of the relational-graph picture


def relational_graphs(module, game: Game, seed: int) -> tuple[np.ndarray, np.ndarray, Any]:
    """One game played ``GRAPH_STEPS`` steps with z from ``p_psi``; returns the frame, every
    agent's graph ``(N, K)`` at that step and the world state."""
    world = BatchedParticleWorld(game.task, 1, seed=seed, max_cycles=game.max_cycles)
    generator = torch.Generator().manual_seed(seed)
    obs = world.reset()
    with torch.no_grad():
        z = draw_latents(module, game, torch.from_numpy(obs["game"]), generator)
        for _ in range(GRAPH_STEPS):
            tensors = {key: torch.from_numpy(value) for key, value in obs.items()}
            obs, *_ = world.step(act(module, game, tensors, z, generator).numpy())
        tensors = {key: torch.from_numpy(value) for key, value in obs.items()}
        graphs = []
        for nets, agents in zip(module.roles.values(), role_slices(game), strict=True):
            view = {key: value[:, agents] for key, value in tensors.items()}
            graphs.append(nets.relation(view, None if z is None else z[:, agents]))
    return render_frame(game.task, world.state), torch.cat(graphs, 1)[0].numpy(), world.state


def plot_relational_graphs(module, games: list[Game], seed: int, path) -> dict[str, list]:
    """The Fig. 11-style picture (module docstring); returns each game's graphs."""
    figure = Figure(figsize=(4 * len(games), 4), dpi=100)
    weights = {}
    for panel, game in enumerate(games):
        frame, graph, state = relational_graphs(module, game, seed)
        axes = figure.add_subplot(1, len(games), panel + 1)
        axes.imshow(frame, extent=(-EXTENT, EXTENT, -EXTENT, EXTENT))
        index = other_agent_index(game.task.num_agents, graph.shape[1]).numpy()
        pos = state.pos[0]
        for i in range(game.task.num_agents):
            for k in range(game.task.num_agents - 1):
                j, weight = index[i, k], float(graph[i, k])
                xs, ys = [pos[i, 0], pos[j, 0]], [pos[i, 1], pos[j, 1]]
                axes.plot(xs, ys, color="black", alpha=weight, linewidth=3 * weight)
        axes.set_title(f"{game.label}: g after {GRAPH_STEPS} steps")
        axes.set_xticks([])
        axes.set_yticks([])
        weights[game.label] = graph.round(4).tolist()
    figure.savefig(path, format="png")
    return weights


def plot_learning_curves(result_file, games: list[Game], path) -> bool:
    """Mean episode return per agent of every MG over the iterations, from a trial's
    ``result.json``; False (nothing written) when the trial left none."""
    if not result_file.is_file():
        return False
    results = [json.loads(line) for line in result_file.read_text().splitlines() if line.strip()]
    figure = Figure(figsize=(4 * len(games), 3), dpi=100)
    for panel, game in enumerate(games):
        points = [
            (row["training_iteration"], row["mra"][game.label]["episode_return_mean"])
            for row in results
            if "episode_return_mean" in row.get("mra", {}).get(game.label, {})
        ]
        axes = figure.add_subplot(1, len(games), panel + 1)
        if points:
            axes.plot(*zip(*points, strict=True))
        axes.set_title(game.label)
        axes.set_xlabel("training iteration")
        axes.set_ylabel("episode return per agent")
    figure.tight_layout()
    figure.savefig(path, format="png")
    return True


def format_rows(checkpoint: str, rows: list[dict[str, Any]]) -> str:
    lines = [f"Checkpoint {checkpoint}", "game        trained  E_z (95% CI)          best z"]
    for row in rows:
        expected = row["modes"]["E_z"]["all"]
        best = row.get("best_z")
        best_text = "-"
        if best is not None:
            stats = row["modes"][best]["all"]
            best_text = f"{stats['mean']:.3f} +- {stats['ci95']:.3f} ({best})"
        lines.append(
            f"{row['game']:<11} {'yes' if row['trained_on'] else 'no':<8} "
            f"{expected['mean']:.3f} +- {expected['ci95']:.3f}   {best_text}"
        )
    return "\n".join(lines)


def evaluate_checkpoints(paths: list[str], args: argparse.Namespace) -> int:
    """Restore every checkpoint, evaluate it (module docstring), print and write JSON."""
    from rllib_meta.evaluation.checkpoints import (
        find_checkpoint,
        load_checkpoint_info,
        output_directory,
    )

    output_dir = output_directory(paths, args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    reports = []
    for number, path in enumerate(paths):
        info = load_checkpoint_info(find_checkpoint(path))
        config = info.config.copy(copy_frozen=False)
        config.env_runners(num_env_runners=0)
        algorithm = info.algorithm_class.from_checkpoint(str(info.path), config=config)
        try:
            module = algorithm.learner_group._learner.rl_module
            rows = evaluate_module(module, config, args.episodes, args.seed, args.greedy)
            games = training_games(config.env, config.env_config, config.training_populations)
            if config.transfer_populations:
                games += training_games(config.env, config.env_config, config.transfer_populations)
            picture = output_dir / f"mra_relational_graphs_{number}.png"
            graphs = plot_relational_graphs(module, games, args.seed, picture)
        finally:
            algorithm.stop()
        print(format_rows(str(info.path), rows))
        curves = output_dir / f"mra_learning_curves_{number}.png"
        trained = [row["game"] for row in rows if row["trained_on"]]
        written = [picture]
        if plot_learning_curves(
            info.path.parent / "result.json", [g for g in games if g.label in trained], curves
        ):
            written.append(curves)
        for target in written:
            print(f"wrote {target}")
        reports.append(
            {
                "checkpoint": str(info.path),
                "episodes": args.episodes,
                "games": rows,
                "relational_graphs": graphs,
            }
        )
    target = output_dir / "mra_evaluation.json"
    target.write_text(json.dumps(reports, indent=2))
    print(f"wrote {target}")
    return 0
