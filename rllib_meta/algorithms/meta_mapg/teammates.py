"""The teammate population of 2-agent HalfCheetah (paper 001 App. E.3; paper 000 G.3).

The paper pre-trains one teammate (the front leg) with an LSTM policy to run LEFT, saves its
parameters at every training iteration and draws the meta-agent's teammates from these
checkpoints: iterations 0-300 for meta-training and meta-validation (randomly split 275 / 25),
475-500 for meta-testing, the gap making the test teammates clearly more expert. Here one
command builds such a population::

    python -m rllib_meta.algorithms.meta_mapg.teammates --out DIR [--iterations N] [--seed S]

What is chosen where the paper is silent (its pre-training code is not public):

- **the teammate**: ``player_1``, the front leg, with the meta-agent's architecture
  (``networks.LSTMNet``: FC 64 -> LSTM 64 -> diagonal Gaussian, App. C.1) observing the full
  17-value state, so every checkpoint is the parameter dict a ``peers.NetworkPeers`` of that
  network scores actions with;
- **its fixed partner**: the back leg (``player_0``) applies zero torques throughout: the
  passive leg, held by its joint springs, is the neutral partner, identical in every episode
  and free of any choice of a random policy; the teammate learns to pull the cheetah left alone;
- **the algorithm**: policy gradient on ``envs.mujoco.batched.BatchedHalfCheetah``
  (``direction=-1``, H = 200, K trajectories per iteration): GAE(0.99, 0.95) advantages on the
  linear feature baseline (the baseline the teammates adapt with in meta-learning),
  normalised, one Adam step per iteration;
- **the size**: the paper's 500 iterations, of K = 64 trajectories, Adam 1e-4 (at 1e-3 the
  teammate is an expert by iteration 200 and the meta-train/val checkpoints would be as expert
  as the test ones); under 4 minutes on one core. The splits scale with the number of
  iterations N (paper N = 500): meta-train/val from checkpoints ``0 .. 3N/5 - 1`` (1/12 of
  them for validation, at random), meta-test from ``19N/20 .. N`` (:func:`population_splits`).

Checkpoint ``i`` holds the parameters after ``i`` updates (``teammate_0000.npz`` is the random
initialisation) and ``population.json`` the settings, the splits and each checkpoint's mean
return running left (measured on the batch it sampled). Seeded and deterministic: the same
settings give byte-identical files. :func:`load_teammate_population` reads a population back;
a missing one is an error naming this command.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import time
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from rllib_meta.algorithms.meta_mapg.distributions import DiagonalGaussian
from rllib_meta.algorithms.meta_mapg.networks import LSTMNet
from rllib_meta.core.advantages import discounted_returns, generalized_advantages
from rllib_meta.core.baselines import linear_feature_baseline
from rllib_meta.errors import ConfigError

COMMAND = "python -m rllib_meta.algorithms.meta_mapg.teammates"
MANIFEST = "population.json"
FORMAT_VERSION = 1
OBS_DIM = 17  # envs.mujoco.batched.OBS_DIM (not imported: reading needs no mujoco)
LEG_DIM = 3
HIDDEN = 64  # paper 001 App. C.1
PARTNER = "zero torques on the back leg (player_0)"
DIRECTION = -1  # the teammate learns to run left (paper App. E.3)
SPLITS = ("train", "val", "test")

# The paper's 500 iterations: 0.45 s each (64 trajectories of 200 steps and the update), the
# whole run under 4 minutes on one core (docs/results.md), so nothing needs scaling down.
DEFAULT_ITERATIONS = 500
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed member dates: the same parameters, the same bytes


@dataclasses.dataclass(frozen=True)
class TeammateSettings:
    """The pre-training run (the command's flags)."""

    iterations: int = DEFAULT_ITERATIONS
    trajectories: int = 64
    horizon: int = 200
    seed: int = 0
    learning_rate: float = 1e-4
    gamma: float = 0.99
    gae_lambda: float = 0.95

    def __post_init__(self) -> None:
        for name, low in (("iterations", 4), ("trajectories", 2), ("horizon", 1), ("seed", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}; got {value!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0; got {self.learning_rate!r}")
        for name in ("gamma", "gae_lambda"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1]; got {getattr(self, name)!r}")


def teammate_network(hidden: int = HIDDEN) -> LSTMNet:
    """The teammate's policy: FC -> LSTM -> diagonal Gaussian over the front leg's 3 torques."""
    distribution = DiagonalGaussian()
    return LSTMNet(OBS_DIM, distribution.num_outputs(LEG_DIM), hidden, distribution)


def population_splits(iterations: int, seed: int) -> dict[str, list[int]]:
    """Checkpoint indices of each split for a run of ``iterations`` updates (checkpoints
    ``0..iterations``), the paper's proportions (N = 500: train/val from 0-299, 275 / 25 at
    random, test 475-500)."""
    trainval = np.arange(iterations * 3 // 5)
    num_val = max(1, round(len(trainval) / 12))
    shuffled = np.random.default_rng(seed).permutation(trainval)
    splits = {
        "train": sorted(int(i) for i in shuffled[num_val:]),
        "val": sorted(int(i) for i in shuffled[:num_val]),
        "test": list(range(iterations * 19 // 20, iterations + 1)),
    }
    empty = [name for name, members in splits.items() if not members]
    if empty:
        raise ValueError(f"{iterations} iterations leave the split(s) {empty} empty")
    return splits


@dataclasses.dataclass
class Batch:
    """K trajectories of the teammate: observations ``(K, H, 17)``, its actions ``(K, H, 3)``,
    rewards ``(K, H)``, its policy outputs ``(K, H, 6)`` (with their graph when sampled with
    gradients) and how far each cheetah moved left, ``(K,)``."""

    observations: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    outputs: torch.Tensor
    distance_left: np.ndarray

    @property
    def mean_return(self) -> float:
        return float(self.rewards.sum(1).mean())


def sample_batch(policy: LSTMNet, core, generator: torch.Generator) -> Batch:
    """One episode of every cheetah of ``core`` (a ``BatchedHalfCheetah``) with ``policy`` on
    the front leg and the zero-torque partner on the back leg; all K policy steps one forward
    pass per time step. Gradients flow into ``outputs`` unless under ``torch.no_grad``."""
    step = policy.stepper()
    state = policy.initial_state(core.batch_size)
    observation = core.reset()
    x_start = core.qpos[:, 0]
    back_leg = np.zeros((core.batch_size, LEG_DIM))
    observations, actions, rewards, outputs = [], [], [], []
    for _ in range(core.horizon):
        obs = torch.from_numpy(observation).to(torch.float32)
        output, state = step(obs, state)
        mean, log_std = output.detach().chunk(2, -1)
        log_std = log_std.clamp(policy.distribution.min_log_std, policy.distribution.max_log_std)
        noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype)
        action = mean + log_std.exp() * noise
        observation, reward, _ = core.step(np.concatenate([back_leg, action.numpy()], axis=1))
        observations.append(obs)
        actions.append(action)
        rewards.append(torch.from_numpy(reward))
        outputs.append(output)
    return Batch(
        observations=torch.stack(observations, 1),
        actions=torch.stack(actions, 1),
        rewards=torch.stack(rewards, 1),
        outputs=torch.stack(outputs, 1),
        distance_left=x_start - core.qpos[:, 0],
    )


def policy_gradient_loss(policy: LSTMNet, batch: Batch, gamma: float, lam: float) -> torch.Tensor:
    """``-mean(log pi(a_t | h_t) * A_t)`` with normalised GAE advantages on the linear feature
    baseline (fit to this batch's discounted returns)."""
    rewards = batch.rewards
    baseline = linear_feature_baseline(
        batch.observations.to(rewards.dtype), discounted_returns(rewards, gamma)
    )
    advantages = generalized_advantages(rewards, baseline, gamma, lam)
    advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    log_prob, _ = policy.distribution.log_prob_and_entropy(batch.outputs, batch.actions)
    return -(log_prob * advantages.to(log_prob.dtype)).mean()


def train_population(
    settings: TeammateSettings, out: str | Path, log: Callable[[str], None] = print
) -> Path:
    """Pre-train the teammate and write every checkpoint and the manifest into ``out``;
    returns the manifest's path.

    Raises:
        ValueError: ``out`` already holds a population (pick another directory, or remove it).
    """
    from envs.mujoco.batched import BatchedHalfCheetah  # the mujoco extra, only to train

    out = check_output_directory(out)
    out.mkdir(parents=True, exist_ok=True)
    splits = population_splits(settings.iterations, settings.seed)
    core = BatchedHalfCheetah(
        settings.trajectories, settings.horizon, direction=DIRECTION, seed=settings.seed
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        policy = teammate_network()
    generator = torch.Generator().manual_seed(settings.seed)
    optimizer = torch.optim.Adam(policy.parameters(), lr=settings.learning_rate)
    files, returns, distances = [], [], []
    started = time.perf_counter()
    for iteration in range(settings.iterations + 1):
        files.append(_save_checkpoint(policy, out, iteration))
        last = iteration == settings.iterations
        with torch.no_grad() if last else torch.enable_grad():
            batch = sample_batch(policy, core, generator)
        returns.append(batch.mean_return)
        distances.append(float(batch.distance_left.mean()))
        if not last:
            loss = policy_gradient_loss(policy, batch, settings.gamma, settings.gae_lambda)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if iteration % 10 == 0 or last:
            log(
                f"iteration {iteration:4d}: return running left {returns[-1]:9.2f}, "
                f"moved {distances[-1]:6.2f} m left, {time.perf_counter() - started:7.1f} s"
            )
    manifest = {
        "format": FORMAT_VERSION,
        "settings": dataclasses.asdict(settings),
        "network": {"obs_dim": OBS_DIM, "action_dim": LEG_DIM, "hidden": HIDDEN},
        "partner": PARTNER,
        "direction": DIRECTION,
        "checkpoints": files,
        "mean_return": returns,
        "mean_distance_left": distances,
        "splits": splits,
    }
    path = out / MANIFEST
    path.write_text(json.dumps(manifest, indent=1) + "\n")
    return path


def check_output_directory(out: str | Path) -> Path:
    """``out`` as a path, if it holds no population yet (none is ever overwritten: a shorter
    run would leave a longer one's checkpoints behind)."""
    out = Path(out).expanduser()
    if (out / MANIFEST).exists() or any(out.glob("teammate_*.npz")):
        raise ValueError(f"{out} already holds a teammate population; remove it or pick another")
    return out


def _save_checkpoint(policy: LSTMNet, out: Path, iteration: int) -> str:
    name = f"teammate_{iteration:04d}.npz"
    with zipfile.ZipFile(out / name, "w") as archive:
        for key, value in policy.state_dict().items():
            buffer = io.BytesIO()
            np.save(buffer, value.detach().numpy(), allow_pickle=False)
            # np.savez stamps the current time into each member; a fixed date keeps files stable.
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue())
    return name


class PopulationNotFoundError(ConfigError, FileNotFoundError):
    """No (complete) teammate population where one was expected; the message says how to
    build one."""


@dataclasses.dataclass(frozen=True)
class TeammatePopulation:
    """A pre-trained population: ``checkpoint_params[i]`` is checkpoint ``i``'s parameter dict
    (``teammate_network()``'s names), ``splits`` the checkpoint indices per split."""

    directory: Path
    checkpoint_params: tuple[dict[str, torch.Tensor], ...]
    splits: dict[str, tuple[int, ...]]
    mean_return: tuple[float, ...]
    hidden: int

    def split(self, name: str) -> tuple[int, ...]:
        if name not in self.splits:
            raise ValueError(f"unknown split {name!r}; allowed: {list(self.splits)}")
        return self.splits[name]

    def network(self) -> LSTMNet:
        """A network of the population's architecture (its own parameters are not used)."""
        return teammate_network(self.hidden)


def load_teammate_population(directory: str | Path) -> TeammatePopulation:
    """Read the population written by :func:`train_population` into ``directory``.

    Raises:
        PopulationNotFoundError: no manifest there (never built, or the run did not finish),
            or a checkpoint it names is missing; the message gives the command that builds one.
    """
    directory = Path(directory).expanduser()
    manifest_path = directory / MANIFEST
    build = f"build one with `{COMMAND} --out {directory}`"
    if not manifest_path.is_file():
        raise PopulationNotFoundError(
            f"no teammate population at {directory} (no {MANIFEST}); {build}"
        )
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("format") != FORMAT_VERSION:
        raise ValueError(
            f"{manifest_path}: format {manifest.get('format')!r}, expected {FORMAT_VERSION}"
        )
    params = []
    for name in manifest["checkpoints"]:
        path = directory / name
        if not path.is_file():
            raise PopulationNotFoundError(f"{path} is missing from the population; {build}")
        with np.load(path, allow_pickle=False) as arrays:
            params.append({key: torch.from_numpy(arrays[key].copy()) for key in arrays.files})
    return TeammatePopulation(
        directory=directory,
        checkpoint_params=tuple(params),
        splits={name: tuple(manifest["splits"][name]) for name in SPLITS},
        mean_return=tuple(manifest["mean_return"]),
        hidden=manifest["network"]["hidden"],
    )


def main(argv: Sequence[str] | None = None) -> None:
    defaults = TeammateSettings()
    parser = argparse.ArgumentParser(
        prog=COMMAND,
        description="Pre-train the 2-agent HalfCheetah teammate (front leg) to run left and "
        "save its parameters at every iteration: the teammate population (paper 001 App. E.3).",
    )
    parser.add_argument("--out", required=True, help="directory to write the population into")
    parser.add_argument("--iterations", type=int, default=defaults.iterations)
    parser.add_argument(
        "--trajectories", type=int, default=defaults.trajectories, help="K per iteration"
    )
    parser.add_argument("--horizon", type=int, default=defaults.horizon)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    args = parser.parse_args(argv)
    try:
        settings = TeammateSettings(
            iterations=args.iterations,
            trajectories=args.trajectories,
            horizon=args.horizon,
            seed=args.seed,
            learning_rate=args.learning_rate,
        )
        check_output_directory(args.out)
    except ValueError as error:
        parser.error(str(error))
    torch.set_num_threads(1)  # sized for one core; also what makes the files repeat exactly
    started = time.perf_counter()
    path = train_population(settings, args.out)
    print(f"wrote {path} ({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
