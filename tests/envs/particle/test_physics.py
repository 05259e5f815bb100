"""The batched physics core against a plain per-agent MPE-style reference written here."""

import numpy as np
import pytest

from envs.particle.core import PhysicsParams, make_bodies, step_physics

# Discrete action -> unit direction, written out independently of the core's table.
DIRECTIONS = {0: (0.0, 0.0), 1: (-1.0, 0.0), 2: (1.0, 0.0), 3: (0.0, -1.0), 4: (0.0, 1.0)}


def reference_step(pos, vel, actions, bodies, active, params):
    """One MPE world step, agent by agent and pair by pair (float64 Python loops).

    Returns the new positions and velocities and the largest contact force seen.
    """
    n = len(pos)
    pos, vel = [p.copy() for p in pos], [v.copy() for v in vel]
    force = [np.zeros(2) for _ in range(n)]
    for i in range(n):
        force[i] += np.array(DIRECTIONS[int(actions[i])]) * bodies.accel[i]
    largest = 0.0
    for a in range(n):
        for b in range(a + 1, n):
            if not (bodies.collide[a] and bodies.collide[b] and active[a] and active[b]):
                continue
            delta = pos[a] - pos[b]
            dist = np.sqrt(np.sum(np.square(delta)))
            k = params.contact_margin
            penetration = np.logaddexp(0, -(dist - (bodies.size[a] + bodies.size[b])) / k) * k
            f = params.contact_force * delta / dist * penetration
            force[a] += f
            force[b] -= f
            largest = max(largest, float(np.linalg.norm(f)))
    for i in range(n):
        if not active[i]:
            vel[i] = np.zeros(2)
            continue
        vel[i] = vel[i] * (1 - params.damping) + force[i] / bodies.mass[i] * params.dt
        speed = np.sqrt(np.sum(np.square(vel[i])))
        if np.isfinite(bodies.max_speed[i]) and speed > bodies.max_speed[i]:
            vel[i] = vel[i] / speed * bodies.max_speed[i]
        pos[i] = pos[i] + vel[i] * params.dt
    return np.array(pos), np.array(vel), largest


@pytest.mark.parametrize("with_inactive", [False, True])
def test_batched_physics_matches_the_per_agent_reference(with_inactive):
    rng = np.random.default_rng(3)
    batch, n, steps = 3, 5, 150
    bodies = make_bodies(
        size=[0.05, 0.05, 0.075, 0.1, 0.03],
        accel=[5.0, 4.0, 3.0, 5.0, 2.0],
        max_speed=[None, 1.3, 1.0, None, 0.5],
        collide=[True, True, True, True, False],
    )
    params = PhysicsParams()
    # Start crowded so that contacts happen often.
    pos = rng.uniform(-0.25, 0.25, (batch, n, 2))
    vel = rng.normal(0.0, 0.3, (batch, n, 2))
    active = np.ones((batch, n), bool)
    if with_inactive:
        active[0, 1] = active[2, 3] = False
    ref_pos, ref_vel = pos.copy(), vel.copy()
    largest = 0.0
    for _ in range(steps):
        actions = rng.integers(0, 5, (batch, n))
        pos, vel = step_physics(pos, vel, actions, bodies, active, params)
        for b in range(batch):
            ref_pos[b], ref_vel[b], big = reference_step(
                ref_pos[b], ref_vel[b], actions[b], bodies, active[b], params
            )
            largest = max(largest, big)
        np.testing.assert_allclose(pos, ref_pos, rtol=0, atol=1e-9)
        np.testing.assert_allclose(vel, ref_vel, rtol=0, atol=1e-9)
    assert largest > 1.0, "no real contact happened: the test would not check contact forces"
    if with_inactive:
        assert np.all(vel[0, 1] == 0) and np.all(vel[2, 3] == 0)


def test_semi_implicit_euler_moves_with_the_new_velocity():
    # One agent at rest pushed +x: v = 0 * 0.75 + 5 * 0.1 = 0.5, then p = 0.5 * 0.1 = 0.05
    # (explicit Euler would leave p at 0 after the first step).
    bodies = make_bodies([0.05], [5.0], [None])
    pos, vel = step_physics(
        np.zeros((1, 1, 2)),
        np.zeros((1, 1, 2)),
        np.array([[2]]),
        bodies,
        np.ones((1, 1), bool),
        PhysicsParams(),
    )
    np.testing.assert_allclose(vel[0, 0], [0.5, 0.0])
    np.testing.assert_allclose(pos[0, 0], [0.05, 0.0])


def test_speed_is_clipped_to_max_speed():
    bodies = make_bodies([0.05], [100.0], [1.3])
    pos, vel = step_physics(
        np.zeros((1, 1, 2)),
        np.zeros((1, 1, 2)),
        np.array([[4]]),
        bodies,
        np.ones((1, 1), bool),
        PhysicsParams(),
    )
    np.testing.assert_allclose(vel[0, 0], [0.0, 1.3])
    np.testing.assert_allclose(pos[0, 0], [0.0, 0.13])
