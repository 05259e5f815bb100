"""Meta-testing of the Meta-MAPG family (paper 001, Algorithm 2; Figs. 2, 9-16): the
evaluation protocol behind ``rllib evaluate`` for MetaMAPG, MetaPG, LOLADiCE and REINFORCE.

A :class:`MetaTestResult` holds what one trained meta-agent (one checkpoint, one seed) did on
every test persona: its own and its peers' mean reward per time step at each joint policy
``phi_0..phi_L`` of the chain, and their mean action probabilities there.
:func:`evaluate_checkpoints` restores checkpoints, meta-tests them and writes the tables and
plots.
"""

import argparse
import dataclasses
import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from rllib_meta.evaluation.checkpoints import best_checkpoint, output_directory
from rllib_meta.evaluation.statistics import mean_and_ci95

if TYPE_CHECKING:
    from rllib_meta.algorithms.meta_mapg.config import MetaMAPGConfig
    from rllib_meta.evaluation.checkpoints import CheckpointInfo

__all__ = [
    "AUC_DEFINITION",
    "MetaTestResult",
    "SummaryRow",
    "algorithm_label",
    "auc",
    "evaluate_checkpoints",
    "format_table",
    "kind_action_probs",
    "kind_curves",
    "meta_test_checkpoint",
    "plot_action_dynamics",
    "plot_adaptation_curves",
    "summary_rows",
    "validate_results",
    "write_meta_test_report",
]


@dataclasses.dataclass(frozen=True)
class MetaTestResult:
    """Meta-test of one checkpoint on ``P`` personas, chains of length ``L`` (``L+1`` joint
    policies), ``n`` players (player 0 is the meta-agent) and ``A`` actions.

    Attributes:
        label: e.g. the checkpoint path or "seed 3".
        algorithm: e.g. "MetaMAPG".
        game: e.g. "ipd", "rps".
        rewards: (P, L+1, n) mean reward per time step of each player at each joint policy.
        action_probs: (P, L+1, n, A) each player's mean action probabilities at each joint
            policy (the empirical frequencies of its sampled actions); ``None`` for
            continuous actions (2-agent HalfCheetah: no action-dynamics plots).
        persona_kinds: (P,) int index into ``kind_names`` of each test persona.
        kind_names: e.g. ("cooperating", "defecting").
        action_names: e.g. ("C", "D").
    """

    label: str
    algorithm: str
    game: str
    rewards: np.ndarray
    action_probs: np.ndarray | None
    persona_kinds: np.ndarray
    kind_names: tuple[str, ...]
    action_names: tuple[str, ...]
    # 2-agent HalfCheetah: frames (F, height, width, 3) of the adapted pair running, with a
    # caption; or why there are none.
    frames: np.ndarray | None = None
    frames_note: str = ""


AUC_DEFINITION: str = (
    "AUC = sum over the adapted joint policies phi_1..phi_L of the meta-agent's mean reward per "
    "time step (phi_0, before any adaptation, is excluded), as in paper 001 Fig. 3a."
)
ALL_KINDS = "all"
META_AGENT = "meta-agent"


@dataclasses.dataclass(frozen=True)
class SummaryRow:
    """Mean and 95% CI across seeds of one player's adaptation curve (paper 001 Fig. 2).

    Attributes:
        kind: persona kind, or ``"all"`` for every test persona.
        player: ``"meta-agent"`` (player 0) or ``"peer 1"``, ``"peer 2"``...
        mean: (L+1,) mean over seeds of the mean reward per step at ``phi_0..phi_L``.
        ci95: (L+1,) half-width of the 95% confidence interval across seeds (NaN for one seed).
        auc_mean: mean over seeds of the AUC (see :data:`AUC_DEFINITION`).
        auc_ci95: half-width of the 95% confidence interval of the AUC (NaN for one seed).
        num_seeds: number of results (checkpoints) that had personas of ``kind``.
    """

    kind: str
    player: str
    mean: np.ndarray
    ci95: np.ndarray
    auc_mean: float
    auc_ci95: float
    num_seeds: int

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict: lists instead of arrays and ``None`` instead of NaN (strict JSON)."""
        return {
            "kind": self.kind,
            "player": self.player,
            "mean": [_json_float(x) for x in self.mean],
            "ci95": [_json_float(x) for x in self.ci95],
            "auc_mean": _json_float(self.auc_mean),
            "auc_ci95": _json_float(self.auc_ci95),
            "num_seeds": self.num_seeds,
        }


def _json_float(x: float) -> float | None:
    """A float for JSON; NaN (no CI with one seed) and an infinite value (a run whose adapted
    policies diverged: HalfCheetah's control cost of unbounded actions) become ``None``
    because JSON has neither."""
    x = float(x)
    return x if math.isfinite(x) else None


# ---------------------------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------------------------


def auc(curve: np.ndarray) -> float | np.ndarray:
    """Area under a meta-test curve over ``l = 0..L`` (last axis), paper 001 Fig. 3a.

    Sums the entries ``1..L``: ``phi_0`` is the meta-agent's policy before it has seen its peer,
    so it measures no adaptation (see :data:`AUC_DEFINITION`). A 1-D curve gives a float.
    """
    curve = np.asarray(curve, dtype=np.float64)
    if curve.ndim == 0 or curve.shape[-1] < 1:
        raise ValueError(f"auc needs a curve over phi_0..phi_L on its last axis, got {curve.shape}")
    total = curve[..., 1:].sum(axis=-1)
    return float(total) if total.ndim == 0 else total


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------


def _result_dims(result: MetaTestResult) -> tuple[int, int, int, int]:
    """``(P, L+1, n, A)`` of one result, after checking that its fields agree."""
    name = repr(result.label)
    rewards = np.asarray(result.rewards)
    kinds = np.asarray(result.persona_kinds)
    if rewards.ndim != 3:
        raise ValueError(f"result {name}: rewards must be (P, L+1, n), got shape {rewards.shape}")
    if result.action_probs is None:  # continuous actions: A = 0, no action names
        probs = np.zeros((*rewards.shape, 0))
        if result.action_names:
            raise ValueError(f"result {name}: action_names without action_probs")
    else:
        probs = np.asarray(result.action_probs)
    if probs.ndim != 4:
        raise ValueError(
            f"result {name}: action_probs must be (P, L+1, n, A), got shape {probs.shape}"
        )
    if probs.shape[:3] != rewards.shape:
        raise ValueError(
            f"result {name}: action_probs shape {probs.shape} disagrees with rewards shape "
            f"{rewards.shape} on (P, L+1, n)"
        )
    num_personas, num_policies, num_players, num_actions = probs.shape
    needs_actions = result.action_probs is not None  # A = 0 only for continuous actions
    if min(num_personas, num_policies, num_players, num_actions + (not needs_actions)) < 1:
        raise ValueError(f"result {name}: empty dimension in (P, L+1, n, A) = {probs.shape}")
    if kinds.shape != (num_personas,):
        raise ValueError(
            f"result {name}: persona_kinds must be (P,) = ({num_personas},), got {kinds.shape}"
        )
    if not np.issubdtype(kinds.dtype, np.integer):
        raise ValueError(f"result {name}: persona_kinds must be ints, got dtype {kinds.dtype}")
    if kinds.min() < 0 or kinds.max() >= len(result.kind_names):
        raise ValueError(
            f"result {name}: persona_kinds must index kind_names {tuple(result.kind_names)}, "
            f"got values {sorted(set(kinds.tolist()))}"
        )
    if len(result.action_names) != num_actions:
        raise ValueError(
            f"result {name}: {len(result.action_names)} action_names "
            f"{tuple(result.action_names)} for A = {num_actions} actions"
        )
    return num_personas, num_policies, num_players, num_actions


def validate_results(results: Sequence[MetaTestResult]) -> None:
    """Check that ``results`` can be averaged across seeds (paper 001 Figs. 2, 9-16).

    Raises:
        ValueError: on an empty list, shapes that disagree within a result, or results that
            disagree in ``L+1``, ``n``, ``A``, game, kind_names or action_names. Different
            numbers of personas across results are allowed.
    """
    if len(results) == 0:
        raise ValueError("no meta-test results given")
    first = results[0]
    _, *first_dims = _result_dims(first)
    for other in results[1:]:
        _, *dims = _result_dims(other)
        for what, a, b in (
            ("number of joint policies L+1", first_dims[0], dims[0]),
            ("number of players n", first_dims[1], dims[1]),
            ("number of actions A", first_dims[2], dims[2]),
            ("game", first.game, other.game),
            ("kind_names", tuple(first.kind_names), tuple(other.kind_names)),
            ("action_names", tuple(first.action_names), tuple(other.action_names)),
        ):
            if a != b:
                raise ValueError(
                    f"meta-test results disagree on the {what}: {first.label!r} has {a!r}, "
                    f"{other.label!r} has {b!r}"
                )


# ---------------------------------------------------------------------------------------------
# Curves and summaries
# ---------------------------------------------------------------------------------------------


def _kind_mask(result: MetaTestResult, kind: str | None) -> np.ndarray:
    """(P,) bool mask of the personas of ``kind`` (``None`` or ``"all"``: every persona)."""
    kinds = np.asarray(result.persona_kinds)
    if kind is None or kind == ALL_KINDS:
        return np.ones(kinds.shape, dtype=bool)
    names = tuple(result.kind_names)
    if kind not in names:
        raise ValueError(f"unknown persona kind {kind!r}; allowed: {(*names, ALL_KINDS)}")
    mask = kinds == names.index(kind)
    if not mask.any():
        raise ValueError(f"result {result.label!r} has no personas of kind {kind!r}")
    return mask


def _check_player(result: MetaTestResult, player: int) -> None:
    """Reject a player index outside ``0..n-1``."""
    num_players = np.asarray(result.rewards).shape[2]
    if not 0 <= player < num_players:
        raise ValueError(f"player {player} out of range for n = {num_players} players")


def kind_curves(result: MetaTestResult, kind: str | None, player: int = 0) -> np.ndarray:
    """(L+1,) mean reward per step of ``player`` at ``phi_0..phi_L`` over the personas of
    ``kind`` (``None``: all personas) — one seed's curve of paper 001 Fig. 2."""
    _check_player(result, player)
    mask = _kind_mask(result, kind)
    return np.asarray(result.rewards, dtype=np.float64)[mask, :, player].mean(axis=0)


def kind_action_probs(result: MetaTestResult, kind: str | None, player: int) -> np.ndarray:
    """(L+1, A) mean action probabilities of ``player`` at ``phi_0..phi_L`` over the personas
    of ``kind`` (``None``: all) — the bars of paper 001 Figs. 9-16."""
    _check_player(result, player)
    if result.action_probs is None:
        raise ValueError(f"result {result.label!r} has no action probabilities (continuous)")
    mask = _kind_mask(result, kind)
    return np.asarray(result.action_probs, dtype=np.float64)[mask, :, player, :].mean(axis=0)


def player_name(player: int) -> str:
    """``"meta-agent"`` for player 0 (paper 001's agent i), ``"peer k"`` for player k."""
    return META_AGENT if player == 0 else f"peer {player}"


def present_kinds(results: Sequence[MetaTestResult]) -> list[str]:
    """Kind names (in ``kind_names`` order) with at least one persona in some result."""
    used = set()
    for result in results:
        used.update(np.asarray(result.persona_kinds).tolist())
    return [name for index, name in enumerate(results[0].kind_names) if index in used]


def _results_with_kind(results: Sequence[MetaTestResult], kind: str) -> list[MetaTestResult]:
    """The results that have personas of ``kind`` (a seed may have drawn none of a kind)."""
    if kind == ALL_KINDS:
        return list(results)
    index = tuple(results[0].kind_names).index(kind)
    return [r for r in results if (np.asarray(r.persona_kinds) == index).any()]


def summary_rows(results: Sequence[MetaTestResult]) -> list[SummaryRow]:
    """Mean and 95% CI across seeds of every player's curve and AUC, per kind and for "all"
    (the numbers behind paper 001 Fig. 2 and the AUCs of Fig. 3)."""
    validate_results(results)
    num_players = np.asarray(results[0].rewards).shape[2]
    rows = []
    for kind in [*present_kinds(results), ALL_KINDS]:
        seeds = _results_with_kind(results, kind)
        for player in range(num_players):
            curves = np.stack([kind_curves(r, kind, player) for r in seeds])
            mean, ci95 = mean_and_ci95(curves)
            auc_mean, auc_ci95 = mean_and_ci95(auc(curves))
            rows.append(
                SummaryRow(
                    kind=kind,
                    player=player_name(player),
                    mean=mean,
                    ci95=ci95,
                    auc_mean=float(auc_mean),
                    auc_ci95=float(auc_ci95),
                    num_seeds=len(seeds),
                )
            )
    return rows


# ---------------------------------------------------------------------------------------------
# Table
# ---------------------------------------------------------------------------------------------


def _fmt(x: float) -> str:
    """3-decimal number, without a "-0.000" for tiny negatives."""
    text = f"{x:.3f}"
    return "0.000" if text == "-0.000" else text


def _fmt_ci(mean: float, ci: float) -> str:
    """``"mean ± ci"``, or just ``"mean"`` when the CI is undefined (one seed)."""
    return _fmt(mean) if math.isnan(ci) else f"{_fmt(mean)} ± {_fmt(ci)}"


def game_title(game: str) -> str:
    """Display name of a game id: ``"ipd"`` -> ``"IPD"``, ``"rps_3p"`` -> ``"RPS 3p"``."""
    base, _, rest = game.partition("_")
    return f"{base.upper()} {rest}".strip()


def _personas_per_kind(results: Sequence[MetaTestResult]) -> str:
    """``"cooperating 2, defecting 2"`` personas per seed (``"2-3"`` when seeds differ)."""
    parts = []
    for index, name in enumerate(results[0].kind_names):
        counts = [int((np.asarray(r.persona_kinds) == index).sum()) for r in results]
        low, high = min(counts), max(counts)
        parts.append(f"{name} {low}" if low == high else f"{name} {low}-{high}")
    return ", ".join(parts)


def format_table(results: Sequence[MetaTestResult]) -> str:
    """Fixed-width table of the meta-test summary (paper 001 Fig. 2 in numbers, with AUC)."""
    rows = summary_rows(results)
    algorithms = ", ".join(dict.fromkeys(r.algorithm for r in results))
    num_policies = rows[0].mean.shape[0]
    header = [
        f"Meta-test of {algorithms} on {game_title(results[0].game)}: {len(results)} seed(s); "
        f"test personas per seed: {_personas_per_kind(results)}",
        # With one seed there is no spread to report, so the caption says so instead.
        "Mean reward per time step at each joint policy "
        + ("(mean ± 95% CI across seeds)." if len(results) > 1 else "(one seed: no CI)."),
    ]
    table = [["kind", "player", *(f"phi_{step}" for step in range(num_policies)), "AUC"]]
    for row in rows:
        cells = [_fmt_ci(m, c) for m, c in zip(row.mean, row.ci95, strict=True)]
        table.append([row.kind, row.player, *cells, _fmt_ci(row.auc_mean, row.auc_ci95)])
    widths = [max(len(line[col]) for line in table) for col in range(len(table[0]))]
    lines = [
        "  ".join(
            # Names left-aligned, numbers right-aligned so that decimal points line up.
            cell.ljust(width) if col < 2 else cell.rjust(width)
            for col, (cell, width) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        for line in table
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join([*header, *lines, AUC_DEFINITION])


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------

PLOT_DPI = 120
PANEL_SIZE = (5.0, 4.0)  # inches per panel, width x height


def _new_figure(num_panels: int) -> tuple[Figure, list[Axes]]:
    """A figure with ``num_panels`` side by side; ``Figure`` directly needs no display."""
    width, height = PANEL_SIZE
    figure = Figure(figsize=(width * num_panels, height), dpi=PLOT_DPI)
    axes = figure.subplots(1, num_panels, squeeze=False)[0]
    return figure, list(axes)


def _set_joint_policy_axis(axes: Axes, num_policies: int) -> None:
    """x axis labelled phi_0..phi_L as in paper 001 Figs. 2 and 9-16."""
    axes.set_xticks(range(num_policies))
    axes.set_xticklabels([rf"$\phi_{{{step}}}$" for step in range(num_policies)])
    axes.set_xlabel("Joint policy")


def _save(figure: Figure, path: str | Path) -> Path:
    """Save as PNG at a fixed size (no tight bbox, so the pixel size is predictable)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=PLOT_DPI)
    return path


def plot_adaptation_curves(
    results_by_algorithm: Mapping[str, Sequence[MetaTestResult]], path: str | Path
) -> Path:
    """Paper 001 Fig. 2: the meta-agent's mean reward per step at ``phi_0..phi_L``, one panel
    per persona kind, one line per algorithm with its 95% CI band across seeds."""
    all_results = _validate_by_algorithm(results_by_algorithm)
    first = all_results[0]
    kinds = present_kinds(all_results)
    num_policies = np.asarray(first.rewards).shape[1]
    figure, panels = _new_figure(len(kinds))
    x = np.arange(num_policies)
    for axes, kind in zip(panels, kinds, strict=True):
        for index, (algorithm, results) in enumerate(results_by_algorithm.items()):
            seeds = _results_with_kind(results, kind)
            if not seeds:  # this algorithm never met this kind of peer
                continue
            mean, ci95 = mean_and_ci95(np.stack([kind_curves(r, kind, 0) for r in seeds]))
            colour = f"C{index % 10}"  # same colour for an algorithm in every panel
            axes.plot(x, mean, marker="o", color=colour, label=algorithm)
            if len(seeds) > 1:
                axes.fill_between(x, mean - ci95, mean + ci95, color=colour, alpha=0.2)
        axes.set_title(f"{game_title(first.game)} with {kind} peers")
        axes.set_ylabel("Meta-agent mean reward per step")
        _set_joint_policy_axis(axes, num_policies)
        axes.grid(alpha=0.3)
        _clip_diverged(axes)
        axes.legend()
    figure.tight_layout()
    return _save(figure, path)


DIVERGED_RATIO = 1e3  # a curve this many times the others' magnitude is off scale


def _clip_diverged(axes: Axes) -> None:
    """Keep the y axis on the curves of comparable size when one is orders of magnitude
    beyond them (a diverged run, e.g. LOLA-DiCE on 2-agent HalfCheetah): that curve is drawn
    off scale and its legend label says so."""
    lines = axes.get_lines()
    sizes = []
    for line in lines:
        values = np.abs(np.asarray(line.get_ydata(), float))
        sizes.append(float(values.max()) if np.isfinite(values).all() else math.inf)
    typical = max(float(np.median(sizes)), 1e-12)
    kept = [
        line for line, size in zip(lines, sizes, strict=True) if size <= DIVERGED_RATIO * typical
    ]
    if len(kept) == len(lines) or not kept:
        return
    for line, size in zip(lines, sizes, strict=True):
        if size > DIVERGED_RATIO * typical:
            line.set_label(f"{line.get_label()} (diverged, off scale)")
    values = np.concatenate([np.asarray(line.get_ydata(), float) for line in kept])
    low, high = float(values.min()), float(values.max())
    margin = 0.25 * max(high - low, 1e-6)
    axes.set_ylim(low - margin, high + margin)


def plot_action_dynamics(result: MetaTestResult, kind: str, path: str | Path) -> Path:
    """Paper 001 Figs. 9-16: stacked mean action probabilities of the meta-agent (player 0)
    and of the first peer (player 1) at ``phi_0..phi_L`` over the personas of ``kind``."""
    validate_results([result])
    if result.action_probs is None:
        raise ValueError("plot_action_dynamics needs action probabilities (discrete actions)")
    if np.asarray(result.rewards).shape[2] < 2:
        raise ValueError("plot_action_dynamics needs a peer (n >= 2 players)")
    figure, panels = _new_figure(2)
    titles = (f"{result.algorithm} agent Markov chain dynamics", "Peer agent Markov chain dynamics")
    for player, (axes, title) in enumerate(zip(panels, titles, strict=True)):
        probs = kind_action_probs(result, kind, player)  # (L+1, A)
        x = np.arange(probs.shape[0])
        bottom = np.zeros(probs.shape[0])
        for action, name in enumerate(result.action_names):
            axes.bar(x, probs[:, action], bottom=bottom, color=f"C{action % 10}", label=name)
            bottom += probs[:, action]
        axes.set_title(title)
        axes.set_ylabel("Action probability")
        axes.set_ylim(0.0, 1.0)
        _set_joint_policy_axis(axes, probs.shape[0])
    # One legend for both panels, in a margin on the right, so that it never hides a bar.
    handles, labels = panels[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="center right", title="Action")
    figure.suptitle(f"{game_title(result.game)} with {kind} peers")
    figure.tight_layout(rect=(0.0, 0.0, 0.93, 1.0))
    return _save(figure, path)


def plot_frames(result: MetaTestResult, path: str | Path) -> Path:
    """A strip of ``result.frames`` side by side (2-agent HalfCheetah: the adapted pair)."""
    frames = np.asarray(result.frames)
    figure = Figure(figsize=(2.0 * len(frames), 2.4), dpi=PLOT_DPI)
    panels = figure.subplots(1, len(frames), squeeze=False)[0]
    for index, (axes, frame) in enumerate(zip(panels, frames, strict=True)):
        axes.imshow(frame)
        axes.set_axis_off()
        axes.set_title(f"frame {index + 1}", fontsize=8)
    figure.suptitle(f"{result.algorithm}: {result.frames_note}", fontsize=9)
    figure.tight_layout()
    return _save(figure, path)


def _validate_by_algorithm(
    results_by_algorithm: Mapping[str, Sequence[MetaTestResult]],
) -> list[MetaTestResult]:
    """Check every algorithm's results and that all of them are comparable; return them all."""
    if not results_by_algorithm:
        raise ValueError("no algorithms given")
    for algorithm, results in results_by_algorithm.items():
        if len(results) == 0:
            raise ValueError(f"no meta-test results given for algorithm {algorithm!r}")
    # One figure compares algorithms, so they must share game, chain length, players and kinds.
    all_results = [r for results in results_by_algorithm.values() for r in results]
    validate_results(all_results)
    return all_results


def _file_part(name: str) -> str:
    """``name`` made safe for a file name (letters, digits, ``-``, ``_`` and ``.`` kept)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def write_meta_test_report(
    results_by_algorithm: Mapping[str, Sequence[MetaTestResult]], output_dir: str | Path
) -> list[Path]:
    """Write paper 001 Fig. 2 (``adaptation_curves.png``), Figs. 9-16 per algorithm and kind
    (``action_dynamics_<algorithm>_<kind>.png``, first seed) and ``meta_test.json``."""
    all_results = _validate_by_algorithm(results_by_algorithm)
    output_dir = Path(output_dir)
    written = [plot_adaptation_curves(results_by_algorithm, output_dir / "adaptation_curves.png")]
    for algorithm, results in results_by_algorithm.items():
        first = results[0]
        if first.action_probs is None:  # continuous actions
            continue
        for kind in present_kinds([first]):
            name = f"action_dynamics_{_file_part(algorithm)}_{_file_part(kind)}.png"
            written.append(plot_action_dynamics(first, kind, output_dir / name))
    for algorithm, results in results_by_algorithm.items():
        if results[0].frames is not None:
            name = f"adapted_pair_{_file_part(algorithm)}.png"
            written.append(plot_frames(results[0], output_dir / name))
    summary = {
        "auc_definition": AUC_DEFINITION,
        "game": all_results[0].game,
        "algorithms": {
            algorithm: {
                "labels": [r.label for r in results],
                "rows": [row.to_dict() for row in summary_rows(results)],
            }
            for algorithm, results in results_by_algorithm.items()
        },
    }
    json_path = output_dir / "meta_test.json"
    json_path.write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n")
    written.append(json_path)
    return written


# ---------------------------------------------------------------------------------------------
# rllib evaluate
# ---------------------------------------------------------------------------------------------


def evaluate_options(infos: Sequence["CheckpointInfo"]) -> dict[str, tuple[str, ...] | None]:
    """The ``rllib evaluate`` options meta-testing reads (None: any value of the flag's type):
    ``--split`` takes the persona splits that every checkpoint's population has (``rps``
    has no ``test_ood``)."""
    splits: tuple[str, ...] | None = None
    for info in infos:
        names = _population_splits(info.config)
        splits = names if splits is None else tuple(s for s in splits if s in names)
    return {"split": splits, "seed": None, "output_dir": None}


def _population_splits(config) -> tuple[str, ...]:
    """The splits of a config's peers: the persona population of its matrix game, or the
    HalfCheetah teammate population's."""
    import envs
    from envs.matrix.personas import population_for_game
    from rllib_meta.algorithms.meta_mapg.config import CHEETAH_ENVS
    from rllib_meta.algorithms.meta_mapg.teammates import SPLITS

    if config.env in CHEETAH_ENVS:
        return SPLITS
    env = envs.make(config.env, **dict(config.env_config))
    try:
        return tuple(population_for_game(env.game.name).splits)
    finally:
        env.close()


def evaluate_checkpoints(paths: list[str], args: argparse.Namespace) -> int:
    """``rllib evaluate``: meta-test every checkpoint (one per seed; algorithms of this family
    may be mixed) on the test personas, print a table per algorithm (mean and 95% CI across
    its checkpoints) and write the plots (paper Figs. 2 and 9-16) to ``--output-dir`` or
    next to the first path (:func:`~rllib_meta.evaluation.checkpoints.output_directory`). A
    trial or experiment directory stands for its checkpoint with the best validation AUC."""
    split = getattr(args, "split", None) or "test"
    by_algorithm: dict[str, list[MetaTestResult]] = {}
    for given in paths:
        path, validation_auc = best_checkpoint(given)
        if validation_auc is not None:
            print(f"{given}: best validation AUC {validation_auc:.3f} at {path}")
        result = meta_test_checkpoint(path, split, args.seed)
        if result.frames_note:
            print(f"{path}: {result.frames_note}")
        by_algorithm.setdefault(result.algorithm, []).append(result)
    for results in by_algorithm.values():
        print(format_table(results), end="\n\n")
    output_dir = output_directory(paths, args.output_dir)
    for path in write_meta_test_report(by_algorithm, output_dir):
        print(f"wrote {path}")
    return 0


def algorithm_label(algorithm_class: type, config: "MetaMAPGConfig") -> str:
    """The class name, plus what the config switched away from that class's defaults
    (so ablations and opponent modeling are told apart in tables and plots)."""
    defaults = algorithm_class.get_default_config()
    changes = []
    if config.opponent_modeling and not defaults.opponent_modeling:
        changes.append("opponent modeling")
    if defaults.own_learning and not config.own_learning:
        changes.append("no own learning")
    if defaults.peer_learning and not config.peer_learning:
        changes.append("no peer learning")
    name = algorithm_class.__name__
    return f"{name} ({', '.join(changes)})" if changes else name


def meta_test_checkpoint(path: Path, split: str, seed: int | None) -> MetaTestResult:
    """Restore one checkpoint locally (no remote EnvRunners or Learners) and meta-test it."""
    from rllib_meta.evaluation.checkpoints import load_checkpoint_info

    info = load_checkpoint_info(path)
    config = info.config.copy(copy_frozen=False)
    config.env_runners(num_env_runners=0)
    config.learners(num_learners=0)
    if seed is not None:
        config.debugging(seed=seed)
    algorithm = info.algorithm_class.from_checkpoint(str(info.path), config=config)
    try:
        raw = algorithm.meta_test(split)
        labels = algorithm.env_runner.meta_test_labels()
        frames, note = _render(algorithm.env_runner, split)
    finally:
        algorithm.stop()
    return MetaTestResult(
        label=str(info.path),
        algorithm=algorithm_label(info.algorithm_class, info.config),
        game=labels["game"],
        rewards=raw["rewards"],
        action_probs=raw["action_probs"],
        persona_kinds=raw["persona_kinds"],
        kind_names=tuple(labels["kind_names"]),
        action_names=tuple(labels["action_names"]),
        frames=frames,
        frames_note=note,
    )


def _render(runner, split: str) -> tuple[np.ndarray | None, str]:
    """Frames of the adapted pair where the env renders (2-agent HalfCheetah with an
    off-screen GL); otherwise ``None`` and the reason, which ``rllib evaluate`` prints."""
    if not hasattr(runner, "render_adapted_pair"):
        return None, ""
    try:
        shown = runner.render_adapted_pair(split)
    except Exception as error:  # no display or GL backend; or a pair whose actions are NaN
        reason = f"{type(error).__name__}: {error}"
        return None, f"no frames: {reason} (off-screen rendering needs MUJOCO_GL=egl or osmesa)"
    note = (
        f"phi_L with {split} teammate checkpoint {shown['teammate']}, one episode, "
        f"moved {shown['moved_right']:.2f} m right"
    )
    return shown["frames"], note
