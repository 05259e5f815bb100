"""Evaluations of learning rules on differentiable games (paper 004, Figs. 2 and 3): the
evaluation protocol behind ``rllib evaluate`` for MeVa, COLA, LOLA, HOLA and NaiveLearning.

* Logistic Game (Fig. 2): basins of attraction -- a 29 x 29 grid of initial joint policies over
  ``[-10, 10]^2`` follows each rule for 200 steps at learning rate 1; the reported number is the
  fraction of the grid that ends in the positive quadrant (solution B) -- and sample trajectories.
* IPD (Fig. 3), for MeVa as a function of gamma and for LOLA as a function of alpha: both players
  following the rule; the naive best response to a frozen trained player (non-exploitable if it
  cooperates); the rule against a naive learner (shaping).

``rllib evaluate CHECKPOINT...`` runs these for the checkpoints' learned rules (MeVa, COLA) next
to the model-free ones (naive, LOLA, HOLA2, HOLA3) and writes JSON and PNGs to ``--output-dir``
or next to the first checkpoint (:func:`~rllib_meta.evaluation.checkpoints.output_directory`).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from envs.differentiable.games import DifferentiableGame, ExactIPD, LogisticGame
from rllib_meta.core.learning_rules import learning_step
from rllib_meta.core.rule_fields import RuleSpec, rule_field
from rllib_meta.errors import ConfigError
from rllib_meta.evaluation.checkpoints import output_directory

Field = Callable[[torch.Tensor], torch.Tensor]

# Fig. 2b settings: grid, extent, steps and learning rate of the authors' evaluation notebooks.
BASIN_GRID_SIZE = 29
BASIN_EXTENT = 10.0
BASIN_STEPS = 200
BASIN_LR = 1.0
LOOKAHEAD_RATES = (1.0, 3.0, 10.0)
MEVA_GAMMAS = (0.5, 0.8, 0.9, 0.95, 0.99)
# Fig. 3 settings: 256 pairs from N(0, 1); lr 25 on the normalised value (= LOLA's lr 1).
IPD_PAIRS = 256
IPD_LR = 25.0
IPD_STEPS = 200
IPD_BEST_RESPONSE_STEPS = 500
IPD_GAMMAS = (0.0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)
IPD_LOOKAHEAD_RATES = (0.0, 5.0, 10.0, 25.0, 50.0)  # on the normalised scale (25 = LOLA's 1)


@dataclass(frozen=True)
class LearnedRule:
    """A learned rule restored from a checkpoint: its name and the network it follows."""

    rule: str
    label: str
    model: torch.nn.Module


# ---------------------------------------------------------------------------------------------
# Running rules
# ---------------------------------------------------------------------------------------------


def run_field(x: torch.Tensor, field: Field, steps: int, lr: float) -> torch.Tensor:
    """``steps`` learning steps from ``x``: the trajectory ``(steps + 1, B, 2, n)``."""
    states = [x]
    for _ in range(steps):
        states.append(learning_step(states[-1], field(states[-1]), lr))
    return torch.stack(states)


def model_free_field(game: DifferentiableGame, spec: RuleSpec) -> Field:
    return lambda x: rule_field(spec, game, x)


def learned_field(game: DifferentiableGame, learned: LearnedRule, value: float | tuple) -> Field:
    """MeVa's field at gamma ``value`` (a number, or one per player), or COLA's at alpha."""
    condition = torch.tensor(value if isinstance(value, tuple) else (value, value))
    spec = RuleSpec(learned.rule)

    def field(x: torch.Tensor) -> torch.Tensor:
        return rule_field(spec, game, x, model=learned.model, condition=condition.expand(len(x), 2))

    return field


def mixed_field(first: Field, second: Field) -> Field:
    """Player 0 follows ``first``, player 1 follows ``second``."""
    return lambda x: torch.stack([first(x)[..., 0, :], second(x)[..., 1, :]], dim=-2)


def frozen_first(field: Field) -> Field:
    """Player 0 stands still; player 1 follows ``field``."""
    return lambda x: torch.stack([torch.zeros_like(x[..., 0, :]), field(x)[..., 1, :]], dim=-2)


# ---------------------------------------------------------------------------------------------
# Logistic Game (Fig. 2)
# ---------------------------------------------------------------------------------------------


def basin_grid(size: int = BASIN_GRID_SIZE, extent: float = BASIN_EXTENT) -> torch.Tensor:
    """The grid of initial joint policies, ``(size * size, 2, 1)``, row-major in ``x_2``."""
    axis = torch.linspace(-extent, extent, size)
    x2, x1 = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([x1.flatten(), x2.flatten()], dim=-1).unsqueeze(-1)


def in_solution_b(x: torch.Tensor) -> torch.Tensor:
    """Both coordinates positive (the quadrant of the preferred solution B)."""
    return (x[..., 0] > 0).all(dim=-1)


def logistic_methods(learned: list[LearnedRule]) -> dict[str, Field]:
    game = LogisticGame()
    methods = {"naive": model_free_field(game, RuleSpec("naive"))}
    for alpha in LOOKAHEAD_RATES:
        methods[f"LOLA alpha={alpha:g}"] = model_free_field(game, RuleSpec("lola", alpha))
    for order in (2, 3):
        methods[f"HOLA{order} alpha=1"] = model_free_field(game, RuleSpec("hola", 1.0, order))
    for rule in learned:
        values = LOOKAHEAD_RATES if rule.rule == "cola" else MEVA_GAMMAS
        symbol = "alpha" if rule.rule == "cola" else "gamma"
        for value in values:
            methods[f"{rule.label} {symbol}={value:g}"] = learned_field(game, rule, value)
    return methods


def evaluate_logistic(learned: list[LearnedRule], output_dir: Path) -> dict:
    """Basin fractions and trajectories for every method; writes two PNGs."""
    grid = basin_grid(BASIN_GRID_SIZE)
    starts = LogisticGame().initial_policies(16, torch.Generator().manual_seed(0))
    results, basins, trajectories = {}, {}, {}
    for name, field in logistic_methods(learned).items():
        final = run_field(grid, field, BASIN_STEPS, BASIN_LR)[-1]
        basin = in_solution_b(final).reshape(BASIN_GRID_SIZE, BASIN_GRID_SIZE)
        basins[name] = basin.numpy()
        results[name] = float(basin.float().mean())
        trajectories[name] = run_field(starts, field, BASIN_STEPS, BASIN_LR)[..., 0].numpy()
    _plot_basins(basins, results, output_dir / "logistic_basins.png")
    _plot_trajectories(trajectories, output_dir / "logistic_trajectories.png")
    return {"basin_fraction_B": results}


# ---------------------------------------------------------------------------------------------
# Iterated prisoner's dilemma (Fig. 3)
# ---------------------------------------------------------------------------------------------


def ipd_panels(
    game: ExactIPD,
    self_play_at: Callable[[float], Field],
    vs_naive_at: Callable[[float], Field],
    values,
    seed: int,
) -> dict:
    """Fig. 3's three panels for a rule parametrised by ``value`` (gamma or alpha).

    Returns per value: ``self_play`` (both follow ``self_play_at(value)``), ``best_response``
    (player 0 frozen at its self-play policy, a fresh naive player 1 trained against it) and
    ``vs_naive`` (``vs_naive_at(value)``: player 0 follows the rule, player 1 naive), each
    both players' mean objective.
    """
    naive = model_free_field(game, RuleSpec("naive"))
    generator = torch.Generator().manual_seed(seed)
    panels: dict[str, dict[str, list[float]]] = {"self_play": {}, "best_response": {}}
    panels["vs_naive"] = {}
    for value in values:
        start = game.initial_policies(IPD_PAIRS, generator)
        trained = run_field(start, self_play_at(value), IPD_STEPS, IPD_LR)[-1]
        fresh = game.initial_policies(IPD_PAIRS, generator)
        challenger = torch.stack([trained[:, 0], fresh[:, 1]], dim=1)
        best = run_field(challenger, frozen_first(naive), IPD_BEST_RESPONSE_STEPS, IPD_LR)[-1]
        shaped = run_field(start, vs_naive_at(value), IPD_STEPS, IPD_LR)[-1]
        for panel, x in (("self_play", trained), ("best_response", best), ("vs_naive", shaped)):
            panels[panel][f"{value:g}"] = game.values(x).mean(0).tolist()
    return panels


def lola_field_at(game: DifferentiableGame, alpha: float) -> Field:
    """LOLA with look-ahead ``alpha``; ``alpha = 0`` is naive learning."""
    return model_free_field(game, RuleSpec("lola", alpha) if alpha else RuleSpec("naive"))


def evaluate_ipd(learned: list[LearnedRule], output_dir: Path, seed: int) -> dict:
    game = ExactIPD()
    naive = model_free_field(game, RuleSpec("naive"))
    results = {
        "LOLA": ipd_panels(
            game,
            lambda alpha: lola_field_at(game, alpha),
            lambda alpha: mixed_field(lola_field_at(game, alpha), naive),
            IPD_LOOKAHEAD_RATES,
            seed,
        )
    }
    for rule in learned:
        if rule.rule != "meva":
            continue
        # Against a naive learner the model is told so: gamma = (gamma, 0), under which player
        # 1's MeVa update is exactly the naive one (paper section 5.2).
        results[rule.label] = ipd_panels(
            game,
            lambda gamma, rule=rule: learned_field(game, rule, gamma),
            lambda gamma, rule=rule: learned_field(game, rule, (gamma, 0.0)),
            IPD_GAMMAS,
            seed,
        )
    _plot_ipd(results, output_dir / "ipd_panels.png")
    return results


# ---------------------------------------------------------------------------------------------
# rllib evaluate
# ---------------------------------------------------------------------------------------------


def restore_rule(path: str) -> tuple[str, LearnedRule | None]:
    """``(env name, learned rule or None)`` of a checkpoint (the final one of a trial dir)."""
    from rllib_meta.evaluation.checkpoints import find_checkpoint, load_checkpoint_info

    info = load_checkpoint_info(find_checkpoint(path))
    config = info.config.copy(copy_frozen=False)
    config.env_runners(num_env_runners=0)
    config.learners(num_learners=0)
    algorithm = info.algorithm_class.from_checkpoint(str(info.path), config=config)
    try:
        model = algorithm.env_runner.module.model
    finally:
        algorithm.stop()
    if model is None:
        return config.env, None
    return config.env, LearnedRule(config.rule, info.algorithm_class.__name__, model.eval())


def evaluate_checkpoints(paths: list[str], args: argparse.Namespace) -> int:
    """Restore every checkpoint, run the evaluation of its game, print and write results."""
    restored = [restore_rule(path) for path in paths]
    games = {env for env, _ in restored}
    if len(games) > 1 or not games <= {"logistic_game", "ipd_exact"}:
        raise ConfigError(
            f"checkpoints of games {sorted(games)}: give checkpoints of one game, "
            "logistic_game or ipd_exact."
        )
    learned = _distinct_labels([rule for _, rule in restored if rule is not None])
    output_dir = output_directory(paths, args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    if games == {"logistic_game"}:
        results = evaluate_logistic(learned, output_dir)
        print(format_basins(results["basin_fraction_B"]))
    else:
        results = evaluate_ipd(learned, output_dir, args.seed)
        print(format_ipd(results))
    path = output_dir / "learning_dynamics.json"
    path.write_text(json.dumps(results, indent=2))
    print(f"wrote {path} and the PNGs in {output_dir}")
    return 0


def _distinct_labels(rules: list[LearnedRule]) -> list[LearnedRule]:
    """Number the checkpoints of one algorithm (``MeVa #1``, ``MeVa #2``) when there are
    several."""
    names = [rule.label for rule in rules]
    return [
        LearnedRule(rule.rule, f"{rule.label} #{names[:i].count(rule.label) + 1}", rule.model)
        if names.count(rule.label) > 1
        else rule
        for i, rule in enumerate(rules)
    ]


def format_basins(fractions: dict[str, float]) -> str:
    width = max(len(name) for name in fractions)
    lines = [f"{'method':<{width}}  fraction of the grid ending in B"]
    lines += [f"{name:<{width}}  {value:.3f}" for name, value in fractions.items()]
    return "\n".join(lines)


def format_ipd(results: dict) -> str:
    lines = []
    for rule, panels in results.items():
        lines.append(f"{rule}: mean IPD value (player 0 / player 1)")
        lines.append(f"  {'value':>6}  {'self-play':>15}  {'best response':>15}  {'vs naive':>15}")
        for value in panels["self_play"]:
            cells = [panels[p][value] for p in ("self_play", "best_response", "vs_naive")]
            text = "  ".join(f"{a:>7.3f}/{b:<7.3f}" for a, b in cells)
            lines.append(f"  {value:>6}  {text}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------------------------


def _grid_axes(count: int, size: float = 2.2, columns: int = 5):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = min(count, columns)
    rows = -(-count // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(size * columns, size * rows), squeeze=False)
    for axis in axes.flat[count:]:
        axis.axis("off")
    return plt, figure, list(axes.flat)


def _plot_basins(basins: dict[str, np.ndarray], fractions: dict[str, float], path: Path) -> None:
    plt, figure, axes = _grid_axes(len(basins))
    extent = (-BASIN_EXTENT, BASIN_EXTENT, -BASIN_EXTENT, BASIN_EXTENT)
    for axis, (name, basin) in zip(axes, basins.items(), strict=False):
        axis.imshow(basin, origin="lower", extent=extent, cmap="gray", vmin=0, vmax=1)
        axis.set_title(f"{name}\nB: {fractions[name]:.2f}", fontsize=7)
        axis.set_xticks([])
        axis.set_yticks([])
    figure.suptitle("Logistic Game: basins of attraction (white: ends in B)", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _plot_trajectories(trajectories: dict[str, np.ndarray], path: Path) -> None:
    plt, figure, axes = _grid_axes(len(trajectories))
    for axis, (name, paths) in zip(axes, trajectories.items(), strict=False):
        for pair in range(paths.shape[1]):
            axis.plot(paths[:, pair, 0], paths[:, pair, 1], linewidth=0.8)
            axis.plot(paths[-1, pair, 0], paths[-1, pair, 1], "k.", markersize=3)
        axis.set_xlim(-BASIN_EXTENT, BASIN_EXTENT)
        axis.set_ylim(-BASIN_EXTENT, BASIN_EXTENT)
        axis.axhline(0, color="0.8", linewidth=0.5)
        axis.axvline(0, color="0.8", linewidth=0.5)
        axis.set_title(name, fontsize=7)
        axis.set_xticks([])
        axis.set_yticks([])
    figure.suptitle("Logistic Game: optimisation trajectories", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _plot_ipd(results: dict, path: Path) -> None:
    plt, figure, axes = _grid_axes(3 * len(results), size=3.0, columns=3)  # a row per rule
    titles = {"self_play": "both follow the rule", "best_response": "naive best response"}
    titles["vs_naive"] = "rule (player 0) vs naive (player 1)"
    panels = [(rule, panel) for rule in results for panel in titles]
    for axis, (rule, panel) in zip(axes, panels, strict=False):
        values = results[rule][panel]
        xs = [float(v) for v in values]
        for player in (0, 1):
            axis.plot(xs, [values[v][player] for v in values], "o-", label=f"player {player}")
        axis.set_ylim(-3.1, 0.1)
        axis.set_xlabel("gamma" if rule != "LOLA" else "alpha (normalised scale)", fontsize=7)
        axis.set_title(f"{rule}: {titles[panel]}", fontsize=7)
        axis.legend(fontsize=6)
    figure.suptitle("IPD: mean value (-1 mutual cooperation, -2 mutual defection)", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
