"""``rgb_array`` frames of particle worlds and episodes written as a GIF or a PNG strip.

Frames are rasterised with numpy (no window, no pygame): landmarks first, then agents coloured
by role, caught agents in grey. The view is the square ``[-EXTENT, EXTENT]^2`` around the origin
(agents start in ``[-1, 1]^2``; anything farther out is clipped).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from envs.particle.tasks import Task, WorldState

EXTENT = 1.5
FRAME_SIZE = 256
BACKGROUND = (255, 255, 255)
ROLE_COLOURS = ((64, 166, 64), (217, 64, 64))  # role 0 green (collectors, Pac-Man), 1 red
LANDMARK_COLOUR = (64, 64, 217)
INACTIVE_COLOUR = (160, 160, 160)


def _disc(frame: np.ndarray, centre: np.ndarray, radius: float, colour: tuple[int, ...]) -> None:
    """Paint a filled disc of world ``radius`` at world ``centre`` into ``frame`` in place."""
    size = frame.shape[0]
    scale = size / (2 * EXTENT)
    cx, cy = (centre[0] + EXTENT) * scale, (EXTENT - centre[1]) * scale  # y axis points up
    r = max(radius * scale, 1.0)
    x0, x1 = int(max(cx - r, 0)), int(min(cx + r + 1, size))
    y0, y1 = int(max(cy - r, 0)), int(min(cy + r + 1, size))
    if x0 >= x1 or y0 >= y1:
        return
    ys, xs = np.mgrid[y0:y1, x0:x1]
    inside = (xs + 0.5 - cx) ** 2 + (ys + 0.5 - cy) ** 2 <= r * r
    frame[y0:y1, x0:x1][inside] = colour


def render_frame(task: Task, state: WorldState, env_index: int = 0, size: int = FRAME_SIZE):
    """``(size, size, 3)`` uint8 picture of environment ``env_index`` of ``state``."""
    frame = np.full((size, size, 3), BACKGROUND, np.uint8)
    for pos, radius in zip(state.landmark_pos[env_index], task.landmark_sizes, strict=True):
        _disc(frame, pos, radius, LANDMARK_COLOUR)
    for i, role in enumerate(task.roles):
        colour = ROLE_COLOURS[role] if state.active[env_index, i] else INACTIVE_COLOUR
        _disc(frame, state.pos[env_index, i], task.bodies.size[i], colour)
    return frame


def save_frames(frames: Sequence[np.ndarray], path: str | Path, fps: int = 5) -> Path:
    """Write ``frames`` as an animated GIF (``.gif``) or one horizontal PNG strip (``.png``)."""
    from PIL import Image

    path = Path(path)
    if not frames:
        raise ValueError("no frames to write")
    suffix = path.suffix.lower()
    if suffix not in (".gif", ".png"):
        raise ValueError(f"episode file must end in '.gif' or '.png'; got {path.name!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".gif":
        images = [Image.fromarray(frame) for frame in frames]
        images[0].save(
            path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0
        )
    else:
        Image.fromarray(np.concatenate(list(frames), axis=1)).save(path)
    return path


def write_episode(
    env: Any,
    path: str | Path,
    policy: Callable[[str, Any], int] | None = None,
    seed: int | None = None,
    every: int = 1,
) -> Path:
    """Play one episode of a particle env built with ``render_mode="rgb_array"`` and save it.

    ``policy(agent, observation) -> action`` picks actions (uniformly random by default);
    every ``every``-th frame is kept (a PNG strip of 21 frames is wide).
    """
    if env.render_mode != "rgb_array":
        raise ValueError("write_episode needs an env made with render_mode='rgb_array'")
    observations, _ = env.reset(seed=seed)
    frames = [env.render()]
    while env.agents:
        actions = {
            agent: env.action_space(agent).sample()
            if policy is None
            else policy(agent, observations[agent])
            for agent in env.agents
        }
        observations, *_ = env.step(actions)
        frames.append(env.render())
    return save_frames(frames[::every], path)
