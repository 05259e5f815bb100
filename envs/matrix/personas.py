"""Persona populations of initial peer policies (paper 001, Appendix E.1-E.2).

A persona is a tabular policy of the peer (player_1; the meta-agent is player_0): initial action
probabilities ``probs[s, a]`` for every canonical memory-one state ``s`` of
:mod:`envs.matrix.games` (state 0 = start, then ``1 + ravel_multi_index(joint action)`` with
player 0's action most significant; both players index the same joint state). The peer's softmax
policy is initialised with logits ``log(probs)``.

Populations (``numpy.random.default_rng(seed)``, default seed :data:`DEFAULT_SEED`):

* IPD (:func:`generate_ipd_population`): 240 cooperating personas with ``P(C | s) ~ U(0.5, 1)``
  and 240 defecting ones with ``P(C | s) ~ U(0, 0.5)``, independently per state (5 states);
  splits ``train``/``val``/``test`` of 400/40/40, stratified (200/20/20 of each kind). The paper's
  out-of-distribution split (Fig. 3c) is not public; ours, ``test_ood``, appends 40 extra
  personas drawn near the extremes, 20 cooperating with ``P(C | s) ~ U(0.9, 1)`` and 20 defecting
  with ``P(C | s) ~ U(0, 0.1)``, so they overlap less with the training personas while train and
  val stay in distribution. The population therefore holds 520 personas.
* RPS (:func:`generate_rps_population`): 240 each of rock, paper and scissors personas; a rock
  persona has ``P(R | s) ~ U(1/3, 1)`` independently per state and paper and scissors share the
  rest equally (likewise for the others); ``1 + 3**n`` states for ``n`` players; splits 600/60/60,
  stratified (200/20/20 of each kind).

The 2-player populations are shipped in ``envs/matrix/data`` (:func:`load_population`);
``python -m envs.matrix.personas`` regenerates them byte for byte. 3- and 4-player RPS
populations are generated on the fly (:func:`population_for_game`).
"""

from __future__ import annotations

import argparse
import io
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

__all__ = [
    "DEFAULT_SEED",
    "PersonaPopulation",
    "generate_ipd_population",
    "generate_rps_population",
    "load_population",
    "population_for_game",
    "read_population",
    "save_population",
]

DEFAULT_SEED = 2021
DATA_PACKAGE = "envs.matrix"
DATA_DIRECTORY = "data"
SHIPPED_GAMES = ("ipd", "rps")

IPD_KIND_NAMES = ("cooperating", "defecting")
IPD_COOPERATE_RANGES = ((0.5, 1.0), (0.0, 0.5))  # P(C | s) per kind, in distribution
IPD_OOD_COOPERATE_RANGES = ((0.9, 1.0), (0.0, 0.1))  # P(C | s) per kind, test_ood
IPD_OOD_PER_KIND = 20
RPS_KIND_NAMES = ("rock", "paper", "scissors")
RPS_PREFERRED_RANGE = (1.0 / 3.0, 1.0)
PERSONAS_PER_KIND = 240
SPLIT_SIZES_PER_KIND = {"train": 200, "val": 20, "test": 20}

# A fixed timestamp for every archive member so that regenerating a file reproduces its bytes.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_SPLIT_PREFIX = "split_"


@dataclass(frozen=True, eq=False)
class PersonaPopulation:
    """A population of tabular peer policies with named, disjoint index splits.

    Attributes:
        game: Game name as in :mod:`envs.matrix.games` (``"ipd"``, ``"rps"``, ``"rps_3p"``...).
        probs: ``(N, S, A)`` float64 action probabilities per canonical state; rows sum to 1 and
            every entry is positive (so :meth:`logits` is finite). Stored read-only.
        kinds: ``(N,)`` int64 index into ``kind_names`` (e.g. cooperating / defecting).
        kind_names: Name of each kind.
        splits: Split name -> sorted int64 indices into the population (read-only).
    """

    game: str
    probs: np.ndarray
    kinds: np.ndarray
    kind_names: tuple[str, ...]
    splits: Mapping[str, np.ndarray]

    def __post_init__(self) -> None:
        probs = _read_only(np.array(self.probs, dtype=np.float64))
        kinds = _read_only(np.array(self.kinds, dtype=np.int64))
        kind_names = tuple(str(name) for name in self.kind_names)
        splits = {
            str(name): _read_only(np.sort(np.array(idx, dtype=np.int64)))
            for name, idx in self.splits.items()
        }
        _check_population(probs, kinds, kind_names, splits)
        object.__setattr__(self, "probs", probs)
        object.__setattr__(self, "kinds", kinds)
        object.__setattr__(self, "kind_names", kind_names)
        object.__setattr__(self, "splits", splits)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PersonaPopulation):
            return NotImplemented
        return (
            self.game == other.game
            and self.kind_names == other.kind_names
            and np.array_equal(self.probs, other.probs)
            and np.array_equal(self.kinds, other.kinds)
            and list(self.splits) == list(other.splits)
            and all(np.array_equal(self.splits[k], other.splits[k]) for k in self.splits)
        )

    @property
    def num_personas(self) -> int:
        return int(self.probs.shape[0])

    @property
    def num_states(self) -> int:
        return int(self.probs.shape[1])

    @property
    def num_actions(self) -> int:
        return int(self.probs.shape[2])

    def indices(self, split: str) -> np.ndarray:
        """Indices (into this population) of the personas of ``split``."""
        if split not in self.splits:
            raise KeyError(f"unknown split {split!r}; available: {list(self.splits)}")
        return self.splits[split]

    def split(self, name: str) -> PersonaPopulation:
        """The personas of split ``name`` as their own population (one split, all of them)."""
        chosen = self.indices(name)
        return PersonaPopulation(
            game=self.game,
            probs=self.probs[chosen],
            kinds=self.kinds[chosen],
            kind_names=self.kind_names,
            splits={name: np.arange(chosen.size)},
        )

    def of_kind(self, kind: str, split: str | None = None) -> np.ndarray:
        """Indices of the personas of ``kind`` (e.g. ``"defecting"``), optionally in ``split``."""
        if kind not in self.kind_names:
            raise KeyError(f"unknown kind {kind!r}; available: {list(self.kind_names)}")
        matching = np.flatnonzero(self.kinds == self.kind_names.index(kind))
        return matching if split is None else np.intersect1d(matching, self.indices(split))

    def logits(self, indices: np.ndarray | Sequence[int] | None = None) -> np.ndarray:
        """Initial softmax logits ``log(probs)``: ``(len(indices), S, A)`` (all if None)."""
        chosen = self.probs if indices is None else self.probs[np.asarray(indices, dtype=np.int64)]
        return np.log(chosen)


# ---------------------------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------------------------


def generate_ipd_population(seed: int = DEFAULT_SEED) -> PersonaPopulation:
    """IPD personas of paper 001, Appendix E.1, plus our ``test_ood`` split (module docstring).

    Draw order (fixed, so a seed defines the population): in-distribution ``P(C | s)`` of each
    kind, the stratified split permutations, then the out-of-distribution personas.
    """
    rng = np.random.default_rng(seed)
    num_states = 1 + 2**2  # start + 4 joint actions
    cooperate = _uniform_per_kind(rng, IPD_COOPERATE_RANGES, (PERSONAS_PER_KIND, num_states))
    kinds = np.repeat(np.arange(len(IPD_KIND_NAMES)), PERSONAS_PER_KIND)
    splits = _stratified_splits(kinds, SPLIT_SIZES_PER_KIND, rng)
    ood_cooperate = _uniform_per_kind(rng, IPD_OOD_COOPERATE_RANGES, (IPD_OOD_PER_KIND, num_states))
    ood_kinds = np.repeat(np.arange(len(IPD_KIND_NAMES)), IPD_OOD_PER_KIND)
    splits["test_ood"] = kinds.size + np.arange(ood_kinds.size)
    all_cooperate = np.concatenate([cooperate, ood_cooperate])
    return PersonaPopulation(
        game="ipd",
        probs=np.stack([all_cooperate, 1.0 - all_cooperate], axis=-1),
        kinds=np.concatenate([kinds, ood_kinds]),
        kind_names=IPD_KIND_NAMES,
        splits=splits,
    )


def generate_rps_population(seed: int = DEFAULT_SEED, num_players: int = 2) -> PersonaPopulation:
    """RPS personas of paper 001, Appendix E.2, over ``1 + 3**num_players`` canonical states.

    Kind ``k`` (rock, paper, scissors) prefers action ``k``: ``P(k | s) ~ U(1/3, 1)`` per state,
    the two other actions get ``(1 - P(k | s)) / 2`` each. Draw order: preferred probabilities of
    each kind, then the stratified split permutations.
    """
    if isinstance(num_players, bool) or num_players not in (2, 3, 4):
        raise ValueError(f"num_players must be 2, 3 or 4; got {num_players!r}")
    rng = np.random.default_rng(seed)
    num_actions = len(RPS_KIND_NAMES)
    num_states = 1 + num_actions**num_players
    low, high = RPS_PREFERRED_RANGE
    preferred = rng.uniform(low, high, (num_actions, PERSONAS_PER_KIND, num_states))
    kinds = np.repeat(np.arange(num_actions), PERSONAS_PER_KIND)
    # Every action starts with its share of the rest; the preferred one is then overwritten.
    probs = np.repeat(((1.0 - preferred) / 2.0)[..., None], num_actions, axis=-1)
    for kind in range(num_actions):  # 3 kinds, not a loop over personas
        probs[kind, :, :, kind] = preferred[kind]
    splits = _stratified_splits(kinds, SPLIT_SIZES_PER_KIND, rng)
    return PersonaPopulation(
        game="rps" if num_players == 2 else f"rps_{num_players}p",
        probs=probs.reshape(-1, num_states, num_actions),
        kinds=kinds,
        kind_names=RPS_KIND_NAMES,
        splits=splits,
    )


def _uniform_per_kind(
    rng: np.random.Generator, ranges: Sequence[tuple[float, float]], shape: tuple[int, int]
) -> np.ndarray:
    """One ``U(low, high)`` block of ``shape`` per kind, stacked along the persona axis."""
    return np.concatenate([rng.uniform(low, high, shape) for low, high in ranges])


def _stratified_splits(
    kinds: np.ndarray, sizes_per_kind: Mapping[str, int], rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Split every kind's personas at random into consecutive chunks of the given sizes."""
    chunks: dict[str, list[np.ndarray]] = {name: [] for name in sizes_per_kind}
    for kind in np.unique(kinds):
        members = rng.permutation(np.flatnonzero(kinds == kind))
        if members.size != sum(sizes_per_kind.values()):
            raise ValueError(
                f"kind {kind} has {members.size} personas, splits need {sizes_per_kind}"
            )
        boundaries = np.cumsum(list(sizes_per_kind.values()))[:-1]
        for name, part in zip(sizes_per_kind, np.split(members, boundaries), strict=True):
            chunks[name].append(part)
    return {name: np.sort(np.concatenate(parts)) for name, parts in chunks.items()}


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------


def save_population(population: PersonaPopulation, path: str | Path) -> Path:
    """Write ``population`` as an ``.npz`` archive (no pickles; byte-reproducible)."""
    arrays = {
        "game": np.array(population.game),
        "probs": population.probs,
        "kinds": population.kinds,
        "kind_names": np.array(population.kind_names),
        "split_names": np.array(list(population.splits)),
    }
    arrays.update({_SPLIT_PREFIX + name: idx for name, idx in population.splits.items()})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
            # np.savez stamps the current time into each member; a fixed date keeps files stable.
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue())
    return path


def read_population(path: str | Path) -> PersonaPopulation:
    """Read a population written by :func:`save_population`."""
    with np.load(path, allow_pickle=False) as archive:
        split_names = [str(name) for name in archive["split_names"]]
        return PersonaPopulation(
            game=str(archive["game"]),
            probs=archive["probs"],
            kinds=archive["kinds"],
            kind_names=tuple(str(name) for name in archive["kind_names"]),
            splits={name: archive[_SPLIT_PREFIX + name] for name in split_names},
        )


def load_population(game: str) -> PersonaPopulation:
    """The shipped population of ``game`` (``"ipd"`` or ``"rps"``), read from package data."""
    if game not in SHIPPED_GAMES:
        raise ValueError(
            f"no shipped persona population for {game!r}; shipped: {list(SHIPPED_GAMES)} "
            f"(use population_for_game for 3- and 4-player RPS)"
        )
    resource = resources.files(DATA_PACKAGE).joinpath(DATA_DIRECTORY, _file_name(game))
    if not resource.is_file():
        raise FileNotFoundError(
            f"shipped persona file {_file_name(game)} is missing from the installed package; "
            f"regenerate it with `python -m envs.matrix.personas` (same default seed)"
        )
    with resources.as_file(resource) as path:
        return read_population(path)


def population_for_game(game: str) -> PersonaPopulation:
    """The population for a game name: shipped for ipd/rps, generated for rps_3p/rps_4p."""
    if game in SHIPPED_GAMES:
        return load_population(game)
    players = {"rps_3p": 3, "rps_4p": 4}
    if game not in players:
        raise ValueError(f"no persona population for {game!r}; known: ipd, rps, rps_3p, rps_4p")
    return generate_rps_population(num_players=players[game])


def _file_name(game: str) -> str:
    return f"personas_{game}.npz"


def _shipped_directory() -> Path:
    return Path(__file__).resolve().parent / DATA_DIRECTORY


# ---------------------------------------------------------------------------------------------
# Validation helpers
# ---------------------------------------------------------------------------------------------


def _read_only(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


def _check_population(
    probs: np.ndarray,
    kinds: np.ndarray,
    kind_names: tuple[str, ...],
    splits: Mapping[str, np.ndarray],
) -> None:
    if probs.ndim != 3 or probs.shape[0] < 1:
        raise ValueError(f"probs must have shape (N, S, A) with N >= 1; got {probs.shape}")
    if not (np.all(probs > 0.0) and np.allclose(probs.sum(-1), 1.0, rtol=0.0, atol=1e-12)):
        raise ValueError("probs rows must be positive and sum to 1 (logits must be finite)")
    if kinds.shape != probs.shape[:1] or np.any((kinds < 0) | (kinds >= len(kind_names))):
        raise ValueError(
            f"kinds must have shape ({probs.shape[0]},) with values in [0, {len(kind_names)})"
        )
    seen = np.zeros(probs.shape[0], dtype=bool)
    for name, idx in splits.items():
        if idx.ndim != 1 or np.any((idx < 0) | (idx >= probs.shape[0])):
            raise ValueError(f"split {name!r} has indices outside [0, {probs.shape[0]})")
        if np.any(seen[idx]) or np.unique(idx).size != idx.size:
            raise ValueError(f"split {name!r} overlaps another split or repeats an index")
        seen[idx] = True


# ---------------------------------------------------------------------------------------------
# Regeneration of the shipped files
# ---------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    """Regenerate the shipped IPD and RPS populations with :data:`DEFAULT_SEED`."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--output-dir", type=Path, default=_shipped_directory())
    args = parser.parse_args(argv)
    for population in (generate_ipd_population(), generate_rps_population()):
        path = save_population(population, args.output_dir / _file_name(population.game))
        print(f"wrote {path} ({population.num_personas} personas)")


if __name__ == "__main__":
    main()
