"""Behaviour cloning: demonstrations recorded through the real renderer, weighted components, the
cloning update, random stroke programs rendered on the device, and `python -m experiments.imitate`."""

import dataclasses
import functools
import json
import os
import subprocess
import sys

from absl.testing import absltest
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from environments import jax_paint
from environments import mujoco_scenes_dataset as ds
from environments import paint_actions
from environments import scene_actions
from environments import stroke_programs
from experiments import setups
from experiments.configs import mnist_conditional
from experiments.configs import mujoco_conditional
from spiral_jax import actor as actor_lib
from spiral_jax import imitation
from spiral_jax import trajectory as trajectory_lib
from spiral_jax.networks import policy as policy_lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BRANCH = dataclasses.replace(policy_lib.SMALL, location_skip_channels=8, location_skip_warp=True,
                             location_readout=True)


def small_scene_config():
  return mujoco_conditional.get_config("small")


def record(config, indices):
  """Demonstrations of training scenes `indices`, through the real renderer."""
  factory, programs = setups.demonstrations(config)
  actions, weights, _, targets = programs(indices)
  programs.close()
  envs = [factory() for _ in indices]
  try:
    canvas_shape = envs[0].observation_spec()["canvas"].shape
    policy = policy_lib.Policy(envs[0].observation_spec(), envs[0].action_spec(), BRANCH,
                               conditional=True)
    traj = actor_lib.run_episodes(envs, policy, imitation.scripted_step(actions), None,
                                  jax.random.PRNGKey(0),
                                  np.zeros((len(indices),) + tuple(canvas_shape), np.float32))
  finally:
    for env in envs:
      env.close()
  return policy, actions, targets, imitation.Demonstrations(traj._replace(target=targets), weights)


class DemonstrationsTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.config = small_scene_config()
    cls.indices = [0, 1, 2, 3]
    cls.policy, cls.actions, cls.targets, cls.demos = record(cls.config, cls.indices)

  def test_recorded_programs_rebuild_the_dataset_scenes(self):
    traj = self.demos.trajectory
    for name, value in self.actions.items():
      np.testing.assert_array_equal(traj.action[name], value)
    images, arrays = ds.generate(len(self.indices), seed=ds.TRAIN_SEED,
                                 config=setups.scene_config(self.config.env))
    # the targets are the dataset's images, and the programs played rebuild them
    np.testing.assert_array_equal(self.targets, images.astype(np.float32) / np.float32(255.0))
    np.testing.assert_allclose(traj.final_canvas, images / 255.0, atol=0.5 / 255 + 1e-6)
    for i in range(len(self.indices)):
      count = int(arrays["num_objects"][i])
      modes = self.actions["mode"][i]
      np.testing.assert_array_equal(modes[:count], scene_actions.ADD)
      np.testing.assert_array_equal(modes[count:], scene_actions.SKIP)
      rows = [tuple(loc[::-1]) for loc in self.actions["location"][i][:count]]
      self.assertEqual(rows, sorted(rows))  # far row first, left to right
      # a skip uses only its mode
      self.assertTrue(np.all(self.demos.weights["red"][i][count:] == 0))
      self.assertTrue(np.all(self.demos.weights["mode"][i] == 1))
    # an episode ends two skips after the dataset's most objects (or at the episode's end)
    length = min(self.config.env.kwargs["episode_length"], ds.MAX_OBJECTS + 2)
    self.assertEqual(traj.first.shape, (len(self.indices), length))

  def test_noise_changes_one_attribute_of_some_objects(self):
    _, programs = setups.demonstrations(self.config)
    self.addCleanup(programs.close)
    indices = np.arange(100)
    actions, weights, played, targets = programs(indices)
    for name in actions:  # no noise: the programs as they are
      np.testing.assert_array_equal(played[name], actions[name])
    again, _, played, noisy_targets = programs(indices, noise=0.5, rng=np.random.default_rng(0))
    adds = actions["mode"] == scene_actions.ADD
    for name in actions:  # what is taught stays ...
      np.testing.assert_array_equal(again[name][adds], actions[name][adds])
    np.testing.assert_array_equal(again["mode"], actions["mode"])
    np.testing.assert_array_equal(noisy_targets, targets)  # ... and so do the targets
    # A skip's unused location is a random cell or one of the scene's objects' (with an rng).
    skipped = again["location"][~adds]
    self.assertTrue(np.all((skipped >= 0) & (skipped < self.config.env.kwargs["grid_size"])))
    self.assertGreater(len(np.unique(skipped, axis=0)), 20)
    at_objects = [any(np.array_equal(again["location"][i, t], loc)
                      for loc in actions["location"][i][adds[i]])
                  for i, t in zip(*np.nonzero(~adds))]
    self.assertBetween(np.mean(at_objects), 0.4, 0.75)
    adds_shape = actions["mode"].shape
    differs = np.stack([np.any(np.reshape(played[n] != again[n], adds_shape + (-1,)), -1)
                        for n in scene_actions.COMPONENTS])
    changed = differs.any(0)
    self.assertTrue(np.all(differs.sum(0) <= 1))  # one attribute at most ...
    self.assertFalse(differs[0].any())  # ... never the mode ...
    self.assertFalse(np.any(changed & ~adds))  # ... and never a skip
    self.assertBetween(changed.sum() / adds.sum(), 0.35, 0.65)
    self.assertTrue(np.all(weights["red"][~adds] == 0))

  def test_weights_leave_unused_components_out(self):
    traj = trajectory_lib.time_major(self.demos.trajectory)
    policy = self.policy
    params = policy.init(jax.random.PRNGKey(1))
    steps, batch = traj.first.shape
    inputs = policy_lib.StepInputs(traj.canvas, traj.prev_action, traj.action_mask, traj.first,
                                   jnp.broadcast_to(traj.target[None],
                                                    (steps,) + traj.target.shape))
    state = policy.initial_state(batch)
    ones = {c.name: jnp.ones((steps, batch)) for c in policy.components}
    full, _ = policy.unroll(params, inputs, traj.action, state)
    weighted, _ = policy.unroll(params, inputs, traj.action, state, component_weights=ones)
    np.testing.assert_allclose(weighted.log_prob, full.log_prob, rtol=1e-5, atol=1e-5)
    weights = jax.tree.map(lambda w: jnp.swapaxes(jnp.asarray(w), 0, 1), self.demos.weights)
    masked, _ = policy.unroll(params, inputs, traj.action, state, component_weights=weights)
    # another colour where the action skipped changes nothing once weighted out ...
    recoloured = dict(traj.action, red=jnp.where(weights["red"] == 0, 3 - traj.action["red"],
                                                 traj.action["red"]))
    again, _ = policy.unroll(params, inputs, recoloured, state, component_weights=weights)
    np.testing.assert_allclose(again.log_prob, masked.log_prob, rtol=1e-5, atol=1e-5)
    # ... but does unweighted
    unweighted, _ = policy.unroll(params, inputs, recoloured, state)
    self.assertGreater(float(jnp.max(jnp.abs(unweighted.log_prob - full.log_prob))), 1e-3)
    with self.assertRaisesRegex(ValueError, "lacks the components"):
      policy.unroll(params, inputs, traj.action, state, component_weights={"mode": ones["mode"]})

  def test_cloning_updates_learn_the_demonstrations(self):
    policy = self.policy
    params = policy.init(jax.random.PRNGKey(2))
    optimiser = optax.adam(3e-3)
    opt_state = optimiser.init(params)
    update = jax.jit(functools.partial(imitation.cloning_update, policy, optimiser))
    first = float(imitation.cloning_loss(policy, params, self.demos))
    for _ in range(30):
      params, opt_state, metrics = update(params, opt_state, self.demos)
    last = float(imitation.cloning_loss(policy, params, self.demos))
    self.assertLess(last, 0.5 * first)
    # the per-component figures add up to the loss: sum_c nll_c * uses_c / steps
    uses = {name: float(np.sum(w)) for name, w in self.demos.weights.items()}
    steps = self.demos.trajectory.first.size
    _, _, metrics = update(params, opt_state, self.demos)
    total = sum(float(metrics[f"cloning_nll_{n}"]) * uses[n] for n in uses) / steps
    self.assertAlmostEqual(total, float(metrics["cloning_loss"]), places=4)

  def test_only_scene_data_and_the_jax_renderer_have_programs(self):
    config = ml_collections.ConfigDict({"env": {"name": "libmypaint", "kwargs": {}},
                                        "data": {"name": "mnist"}})
    with self.assertRaisesRegex(ValueError, "programs to learn from"):
      setups.demonstrations(config)


SMALL_CONFIG = mnist_conditional.get_config("small")  # 32x32, 16x16 grid, 10 steps, grey ink
SMALL_PAINT = setups.paint_config(SMALL_CONFIG.env)


class StrokeProgramsTest(absltest.TestCase):

  def test_programs_are_valid_handwriting_with_weights_from_their_flags(self):
    rng = np.random.default_rng(0)
    actions, weights, played = stroke_programs.sample(rng, SMALL_PAINT, 50)
    for name in SMALL_PAINT.components:
      np.testing.assert_array_equal(actions[name], played[name])  # no noise: played as written
    for i in range(50):
      steps = [{n: actions[n][i, t] for n in SMALL_PAINT.components} for t in range(10)]
      for t, step in enumerate(steps):
        paint_actions.validate_action(step, SMALL_PAINT)
        mask = paint_actions.action_mask(step, SMALL_PAINT)
        self.assertEqual({n: float(weights[n][i, t]) for n in mask}, mask)
      self.assertEqual(steps[0]["flag"], paint_actions.MOVE)  # a program starts by moving
      self.assertGreater(sum(s["flag"] for s in steps), 0)
      # once the runs are over, every step stays where the brush is
      last_paint = max(t for t, s in enumerate(steps) if s["flag"])
      self.assertTrue(all(s["flag"] == paint_actions.MOVE for s in steps[last_paint + 1:]))
      ends = [tuple(s["end"]) for s in steps[last_paint + 1:]]
      self.assertEqual(ends, [tuple(steps[last_paint]["end"])] * len(ends))
    flags = actions["flag"]
    self.assertGreater(flags.mean(), 0.2)
    self.assertLess(flags.mean(), 0.8)
    with self.assertRaisesRegex(ValueError, "noise"):
      stroke_programs.sample(rng, SMALL_PAINT, 1, noise=2.0)

  def test_noise_moves_stroke_ends_one_cell(self):
    actions, _, played = stroke_programs.sample(np.random.default_rng(1), SMALL_PAINT, 50,
                                                noise=1.0)
    strokes = actions["flag"] == paint_actions.PAINT
    moved = np.abs(played["end"] - actions["end"]).sum(-1)
    self.assertTrue(np.all(moved[strokes] <= 1))
    self.assertGreater(np.mean(moved[strokes] == 1), 0.5)  # some are clipped at the grid's edge
    np.testing.assert_array_equal(played["control"], actions["control"])

  def test_rollout_on_the_device_equals_the_environment_played_step_by_step(self):
    rng = np.random.default_rng(2)
    actions, _, played = stroke_programs.sample(rng, SMALL_PAINT, 3, noise=0.5)
    params = jax_paint.default_params(SMALL_PAINT)
    functional = setups.make_setup(SMALL_CONFIG, load_data=False).functional_env
    env = jax_paint.JaxPaint.from_config(SMALL_PAINT)
    policy = policy_lib.Policy(env.observation_spec(), env.action_spec(), policy_lib.SMALL,
                               conditional=True)
    traj = jax.jit(functools.partial(imitation.scripted_rollout, functional, policy))(
        actions, played)
    for i in range(3):
      timestep = env.reset()
      for t in range(SMALL_PAINT.episode_length):
        np.testing.assert_allclose(traj.canvas[i, t], timestep.observation["canvas"], atol=1e-5)
        for name in SMALL_PAINT.components:
          np.testing.assert_allclose(traj.action_mask[name][i, t],
                                     timestep.observation["action_mask"][name])
          previous = played[name][i, t - 1] if t else np.zeros_like(played[name][i, 0])
          np.testing.assert_array_equal(traj.prev_action[name][i, t], previous)
        self.assertEqual(bool(traj.first[i, t]), t == 0)
        timestep = env.step({name: played[name][i, t] for name in SMALL_PAINT.components})
      np.testing.assert_allclose(traj.final_canvas[i], timestep.observation["canvas"], atol=1e-5)
      target = jax_paint.render_actions({n: v[i] for n, v in actions.items()}, params)
      np.testing.assert_allclose(traj.target[i], target, atol=1e-5)
    self.assertGreater(float(jnp.abs(traj.target - traj.final_canvas).max()), 0.1)  # noise shows
    # played as written (no `played`): the canvases are the target's prefixes, ending on it
    exact = jax.jit(functools.partial(imitation.scripted_rollout, functional, policy))(actions)
    np.testing.assert_allclose(exact.final_canvas, traj.target, atol=1e-5)
    np.testing.assert_allclose(exact.target, traj.target, atol=1e-5)
    # a program written for a picture (traced from it): that picture is the target
    picture = jnp.full_like(traj.target, 0.5)
    given = jax.jit(functools.partial(imitation.scripted_rollout, functional, policy))(
        actions, played, picture)
    np.testing.assert_array_equal(given.target, picture)
    np.testing.assert_allclose(given.canvas, traj.canvas, atol=1e-6)
    env.close()


class ImitateScriptTest(absltest.TestCase):

  def run_script(self, *args):
    return subprocess.run([sys.executable, "-m", "experiments.imitate", *args],
                          capture_output=True, text=True, timeout=600, cwd=ROOT,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))

  def test_a_short_run_is_a_training_run_and_resumes(self):
    workdir = self.create_tempdir().full_path
    common = [f"--workdir={workdir}", "--batch_size=4", "--log_every=1", "--scenes=50",
              "--noise=0.3",
              "--config.policy.location_skip_channels=8"]
    result = self.run_script("--updates=2", *common)
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    self.assertEqual(json.loads(result.stdout.strip().splitlines()[-1])["updates"], 2)
    again = self.run_script("--updates=2", *common)  # the directory holds a run already
    self.assertNotEqual(again.returncode, 0)
    self.assertIn("--resume", again.stderr)
    self.assertNotIn("Traceback", again.stderr)
    # a checkpoint after every update: the last update's is not written twice
    result = self.run_script("--updates=3", "--resume", "--config.checkpoint_every_minutes=0",
                             *common)
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    self.assertEqual((summary["updates"], summary["frames"]), (3, 3 * 4 * 6))
    config, params, meta = setups.load_run(workdir)  # what evaluate, ship and init_from read
    self.assertEqual(config.env.name, "mujoco_scenes")
    self.assertEqual(meta["counters"]["cloning_updates"], 3)
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
      records = [json.loads(line) for line in f]
    self.assertEqual([r["updates"] for r in records], [1, 2, 3])
    self.assertTrue(all(np.isfinite(r["cloning_loss"]) for r in records))
    self.assertTrue(jax.tree.leaves(params))

  def test_stroke_programs_train_a_painting_run_without_data(self):
    workdir = self.create_tempdir().full_path
    result = self.run_script("--config=experiments/configs/mnist_conditional.py",
                             f"--workdir={workdir}", "--updates=2", "--batch_size=4",
                             "--log_every=1", "--noise=0.2")
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    self.assertEqual((summary["updates"], summary["frames"]), (2, 2 * 4 * 10))
    config, params, meta = setups.load_run(workdir)
    self.assertEqual(config.env.name, "jax_paint")
    self.assertEqual(meta["counters"]["cloning_updates"], 2)
    self.assertTrue(jax.tree.leaves(params))

  def test_renderers_without_programs_are_one_clear_error(self):
    result = self.run_script("--config=experiments/configs/mnist_libmypaint.py",
                             f"--workdir={self.create_tempdir().full_path}", "--updates=1")
    self.assertNotEqual(result.returncode, 0)
    self.assertIn("programs to learn from", result.stderr)
    self.assertNotIn("Traceback", result.stderr)


if __name__ == "__main__":
  absltest.main()
