"""The training system: real short runs on each environment type, exact resume, actor failures,
checkpoint damage, and bounded memory."""

import contextlib
import errno
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from unittest import mock

from absl.testing import absltest
import jax
import numpy as np
import orbax.checkpoint as orbax_checkpoint

from environments import jax_paint
from environments import libmypaint
from environments import paint_actions
from experiments import setups
from experiments.configs import base
from spiral_jax import actor as actor_lib
from spiral_jax import anakin
from spiral_jax import checkpoint as checkpoint_lib
from spiral_jax import learner as learner_lib
from spiral_jax import metrics as metrics_lib
from spiral_jax import pretrained
from spiral_jax import training
from spiral_jax.data import images as images_lib
from spiral_jax.networks import policy as policy_lib
from tests import squares_env

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAINT = paint_actions.PaintConfig(canvas_size=16, grid_size=4, grayscale=True, brush_sizes=(2.0,),
                                  pressure_levels=1, episode_length=2)
TARGET_ACTIONS = [{"flag": 1, "end": (3, 3), "control": (3, 0), "size": 0, "pressure": 0},
                  {"flag": 0, "end": (0, 3), "control": (0, 3), "size": 0, "pressure": 0}]


def paint_target():
  """One target image: a stroke the agent can paint exactly."""
  params = jax_paint.default_params(PAINT)
  return np.asarray(jax_paint.render_actions(jax_paint.stack_actions(TARGET_ACTIONS, PAINT),
                                             params))[None]


def small_config(**overrides):
  """A tiny run config: the experiment defaults (`experiments/configs/base.py`) with a tiny
  network, deterministic threaded mode, and no time budget; `overrides` are dotted keys."""
  config = base.get_config("small")
  config.update({
      "mode": "threaded", "num_actors": 0, "envs_per_actor": 32, "queue_size": 4,
      "policy": dict(torso_channels=8, first_kernel=4, first_stride=4, num_downsamples=0,
                     num_res_blocks=0, fc_size=32, lstm_size=32, embed_dim=4, location_channels=4,
                     location_res_blocks=0),
      "discriminator": {"channels": [8, 16], "spectral_norm": False, "leak": 0.2},
      "max_minutes": 0.0, "checkpoint_every_minutes": 0.0, "picture_every_minutes": 0.0,
      "log_every_updates": 1, "progress": False,
  })
  config.learner.update({"batch_size": 32, "policy_learning_rate": 3e-3, "entropy_cost": 0.01,
                         "reward": "l2", "discriminator": "conditional",
                         "empty_canvas_cost": 0.2, "algorithm": "vtrace", "replay_batches": 4})
  config.update_from_flattened_dict(overrides)
  return config


def paint_setup(functional=True, env="jax"):
  params = jax_paint.default_params(PAINT)
  functional_env = anakin.FunctionalEnv(
      reset=lambda key: jax_paint.reset(key, params),
      step=lambda key, state, action: jax_paint.step(key, state, action, params),
      episode_length=PAINT.episode_length) if functional else None
  factory = {"jax": lambda: jax_paint.JaxPaint.from_config(PAINT),
             "libmypaint": lambda: libmypaint.LibMyPaint.from_config(PAINT)}[env]
  return training.Setup(paint_actions.observation_spec(PAINT), paint_actions.action_spec(PAINT),
                        PAINT.episode_length, paint_target(), factory, functional_env)


def squares_setup():
  env = squares_env.Squares()
  target = squares_env.Squares()
  target.reset()
  target.step({"where": np.array([1, 2]), "colour": 2, "size": 1})
  target.step({"where": np.array([3, 0]), "colour": 0, "size": 1})
  image = target.step({"where": np.array([0, 0]), "colour": 1, "size": 0}).observation["canvas"]
  return training.Setup(env.observation_spec(), env.action_spec(), 3, image[None],
                        squares_env.Squares)


def tiny_train_command(workdir, checkpoint_every_updates):
  """`python -m experiments.train` of a tiny Anakin run with a 5-minute budget, logging every
  update; its first three items are the command without flags."""
  return [sys.executable, "-m", "experiments.train", f"--workdir={workdir}",
          "--config.max_minutes=5", f"--config.checkpoint_every_updates={checkpoint_every_updates}",
          "--config.imitation.updates=0",
          "--config.checkpoint_every_minutes=0", "--config.progress=False",
          "--config.log_every_updates=1",
          "--config.learner.batch_size=16", "--config.env.kwargs.canvas_size=16",
          "--config.env.kwargs.grid_size=4", "--config.env.kwargs.episode_length=2"]


class TrainingRunTest(absltest.TestCase):
  """Short real runs: the l2 to the target falls on every kind of environment."""

  def _assert_learns(self, config, setup, factor=0.7):
    workdir = self.create_tempdir().full_path
    summary = training.run(config, setup, workdir)
    records = metrics_lib.read_jsonl(os.path.join(workdir, "metrics.jsonl"))
    l2 = [r["l2"] for r in records]
    first, last = np.mean(l2[:5]), np.mean(l2[-5:])
    print(f"l2 {first:.4f} -> {last:.4f} over {summary['updates']} updates")
    self.assertLess(last, factor * first)
    for name in ("learning_curve.png", "reconstructions.png", "metrics.csv"):
      self.assertTrue(os.path.exists(os.path.join(workdir, name)), name)
    self.assertIsNotNone(checkpoint_lib.Checkpointer(os.path.join(workdir, "checkpoints"))
                         .latest_step())
    return summary

  def test_anakin_on_the_jax_renderer(self):
    self._assert_learns(small_config(mode="anakin", max_updates=150), paint_setup())

  def test_actor_threads_on_libmypaint(self):
    summary = self._assert_learns(
        small_config(num_actors=2, envs_per_actor=8, max_updates=120),
        paint_setup(functional=False, env="libmypaint"))
    self.assertGreater(summary["learner_wait_fraction"], 0.0)

  def test_actor_threads_on_a_custom_renderer(self):
    self._assert_learns(small_config(num_actors=2, envs_per_actor=8, max_updates=120,
                                     **{"learner.empty_canvas_cost": 0.0}), squares_setup())


def _params(tree):
  return [np.asarray(x) for x in jax.tree.leaves(tree)]


class ResumeTest(absltest.TestCase):
  """Train N + M updates == train N, checkpoint, resume, train M (deterministic modes)."""

  def _check(self, config, setup, state_of):
    straight, split = self.create_tempdir().full_path, self.create_tempdir().full_path
    config.max_updates = 6
    training.run(config, setup, straight)
    config.max_updates = 3
    training.run(config, setup, split)
    config.max_updates = 6
    training.run(config, setup, split, resume=True)
    restore = lambda d: checkpoint_lib.Checkpointer(os.path.join(d, "checkpoints")).restore(
        state_of(config, setup))
    (a, meta_a), (b, meta_b) = restore(straight), restore(split)
    self.assertEqual(meta_a["counters"]["updates"], 6)
    self.assertEqual(meta_a["counters"]["frames"], meta_b["counters"]["frames"])
    for x, y in zip(_params(a), _params(b)):
      np.testing.assert_array_equal(x, y)

  def test_threaded_mode_without_actor_threads(self):
    config = small_config(**{"learner.discriminator_steps": 2})

    def like(config, setup):
      policy, disc, lc = training.build_agent(config, setup)
      from spiral_jax import learner as learner_lib  # pylint: disable=import-outside-toplevel
      from spiral_jax import replay as replay_lib  # pylint: disable=import-outside-toplevel
      state = learner_lib.init(policy, disc, lc, jax.random.PRNGKey(0))
      replay = replay_lib.Replay(lc.replay_batches * lc.batch_size, (16, 16, 2))
      return {"learner": state, "replay": replay.state()}

    self._check(config, paint_setup(functional=False), like)

  def test_anakin(self):
    config = small_config(mode="anakin", **{"learner.reward": "discriminator"})

    def like(config, setup):
      policy, disc, lc = training.build_agent(config, setup)
      from spiral_jax import learner as learner_lib  # pylint: disable=import-outside-toplevel
      runner = anakin.Anakin(setup.functional_env, policy, disc, lc, setup.images)
      state = runner.init(learner_lib.init(policy, disc, lc, jax.random.PRNGKey(0)))
      return {"anakin": runner.host_state(state)}

    self._check(config, paint_setup(), like)


class _MillionDigits:
  """A random-access source of a million examples, each made when read (nothing is stored), that
  counts what it is asked for."""

  def __init__(self):
    self.reads = 0

  def __len__(self):
    return 1_000_000

  def __getitem__(self, index):
    self.reads += 1
    image = np.zeros((16, 16), np.uint8)  # ink bright, as MNIST stores it
    image[index % 16, :] = 255
    return {"image": image}


class StreamingTest(absltest.TestCase):

  def test_anakin_trains_on_a_million_images_reading_only_its_batches(self):
    source = _MillionDigits()
    setup = paint_setup()
    setup.images = images_lib.SourceImages(source, 16, grayscale=True)
    config = small_config(mode="anakin", max_updates=3, **{"learner.discriminator_steps": 2})
    summary = training.run(config, setup, self.create_tempdir().full_path)
    self.assertEqual(summary["updates"], 3)
    lc = config.learner
    # Each iteration draws a batch of targets and one of real images per D step; the pictures
    # read 16 targets. Nothing else is read: no copy of the set is made.
    per_iteration = lc.batch_size * (1 + lc.discriminator_steps)
    self.assertEqual(source.reads, 1 + 3 * per_iteration + 16)  # 1: the image shape

  def test_anakin_draws_the_same_images_after_a_resume(self):
    setup = paint_setup()
    setup.images = images_lib.SourceImages(_MillionDigits(), 16, grayscale=True)
    config = small_config(mode="anakin")
    policy, disc, lc = training.build_agent(config, setup)
    runner = anakin.Anakin(setup.functional_env, policy, disc, lc, setup.images,
                           iterations_per_call=2)
    first = runner.host_images(4)
    self.assertEqual(first.shape, (2, lc.batch_size * 2, 16, 16, 1))
    np.testing.assert_array_equal(first, runner.host_images(4))
    np.testing.assert_array_equal(first[1], runner.host_images(5)[0])
    self.assertFalse(np.array_equal(first[0], first[1]))


class _FailingEnv(squares_env.Squares):

  def step(self, action):
    if self._t == 2:
      raise RuntimeError("renderer exploded at step 2")
    return super().step(action)


class _LaterFaultEnv(squares_env.Squares):
  """Works for its first 600 steps (past the learner's compilation), then hangs or returns a canvas of
  the wrong shape; records when the fault began."""

  fault = "hang"
  began = []

  def __init__(self):
    super().__init__()
    self._steps = 0

  def step(self, action):
    self._steps += 1
    if self._steps > 600:
      _LaterFaultEnv.began.append(time.monotonic())
      if self.fault == "hang":
        time.sleep(3600)
      timestep = super().step(action)
      return timestep._replace(observation={"canvas": timestep.observation["canvas"][:-1]})
    return super().step(action)


class FaultTest(absltest.TestCase):

  def _stops_naming_the_environment(self, fault, message):
    setup = squares_setup()
    _LaterFaultEnv.fault, _LaterFaultEnv.began = fault, []
    setup.env_factory = _LaterFaultEnv
    with self.assertRaisesRegex(actor_lib.ActorError, message):
      training.run(small_config(num_actors=1, envs_per_actor=2, max_updates=1000,
                                env_timeout_s=2.0), setup, self.create_tempdir().full_path)
    self.assertLess(time.monotonic() - min(_LaterFaultEnv.began), 2.0 + 5.0)

  def test_a_hanging_renderer_stops_the_run_naming_it(self):
    self._stops_naming_the_environment("hang", r"_LaterFaultEnv.step\(\) has not returned")

  def test_a_wrong_canvas_stops_the_run_naming_it(self):
    self._stops_naming_the_environment(
        "shape", r"(?s)_LaterFaultEnv.step\(\) returned a canvas of shape \(15, 16, 3\); its "
        r"observation spec says \(16, 16, 3\)")

  def test_an_actor_exception_stops_the_run_with_its_traceback(self):
    setup = squares_setup()
    setup.env_factory = _FailingEnv
    start = time.monotonic()
    with self.assertRaisesRegex(actor_lib.ActorError, "(?s)Traceback.*renderer exploded"):
      training.run(small_config(num_actors=2, envs_per_actor=2, max_updates=10), setup,
                   self.create_tempdir().full_path)
    self.assertLess(time.monotonic() - start, 10.0 + 20.0)  # 10 s budget + compilation

  def test_actors_block_on_a_full_queue(self):
    setup = squares_setup()
    policy = policy_lib.Policy(setup.observation_spec, setup.action_spec, policy_lib.PolicyConfig(
        torso_channels=4, first_kernel=4, first_stride=4, num_downsamples=0, num_res_blocks=0,
        fc_size=8, lstm_size=8, embed_dim=2, location_channels=2, location_res_blocks=0))
    store = actor_lib.ParamsStore(policy.init(jax.random.PRNGKey(0)))
    pool = actor_lib.ActorPool(squares_env.Squares, policy, store, num_actors=2, envs_per_actor=2,
                               key=jax.random.PRNGKey(1), queue_size=3).start()
    time.sleep(8.0)  # nobody consumes: each actor fills the queue, then waits with one batch
    self.assertEqual(pool.qsize(), 3)
    produced = [pool.get(timeout_s=30) for _ in range(3)]
    self.assertLen(produced, 3)
    pool.stop()

  def test_a_damaged_checkpoint_gets_one_clear_error(self):
    workdir = self.create_tempdir().full_path
    config = small_config(max_updates=2)
    training.run(config, squares_setup(), workdir)
    step_dir = os.path.join(workdir, "checkpoints", "2", "state")
    for root, _, files in os.walk(step_dir):
      for name in files:
        with open(os.path.join(root, name), "wb") as f:
          f.write(b"garbage")
    config.max_updates = 4
    with self.assertRaisesRegex(checkpoint_lib.CheckpointError, "cannot be restored.*delete"):
      training.run(config, squares_setup(), workdir, resume=True)

  def test_a_failed_checkpoint_write_stops_the_run_and_keeps_the_last_one(self):
    workdir = self.create_tempdir().full_path
    config = small_config(max_updates=2)
    training.run(config, squares_setup(), workdir)
    real_save = orbax_checkpoint.CheckpointManager.save

    def disk_full(manager, step, *args, **kwargs):
      if step > 2:
        raise OSError(errno.ENOSPC, "No space left on device")
      return real_save(manager, step, *args, **kwargs)

    config.max_updates = 4
    with mock.patch.object(orbax_checkpoint.CheckpointManager, "save", disk_full):
      with self.assertRaisesRegex(checkpoint_lib.CheckpointError,
                                  "No space left.*checkpoint 2 is intact"):
        training.run(config, squares_setup(), workdir, resume=True)
    # The run resumes from checkpoint 2 once the disk has room.
    summary = training.run(config, squares_setup(), workdir, resume=True)
    self.assertEqual(summary["updates"], 4)

  def test_progress_bar_shows_the_time_budget(self):
    config = small_config(max_minutes=0.1, progress=True, log_every_updates=1)
    shown = io.StringIO()
    with contextlib.redirect_stderr(shown):
      training.run(config, squares_setup(), self.create_tempdir().full_path)
    self.assertRegex(shown.getvalue(), r"time \d+:\d\d/0:06, \d+:\d\d left")

  def test_kill_minus_9_then_resume(self):
    workdir = tempfile.mkdtemp()
    command = tiny_train_command(workdir, checkpoint_every_updates=2)
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    checkpoints = os.path.join(workdir, "checkpoints")
    try:
      deadline = time.monotonic() + 240
      while time.monotonic() < deadline:
        steps = [d for d in os.listdir(checkpoints) if d.isdigit()] if os.path.isdir(
            checkpoints) else []
        if len(steps) >= 2:
          break
        time.sleep(0.2)
      self.assertGreaterEqual(len(steps), 2, "no checkpoints were written")
      process.send_signal(signal.SIGKILL)
      process.wait()
      killed = checkpoint_lib.Checkpointer(checkpoints)
      saved = killed.latest_step()
      # Its checkpoints carry the training time so far, which the killed run never reported.
      self.assertGreater(killed.restore_raw()[1]["counters"]["elapsed_s"], 0.0)
      killed.close()
      result = subprocess.run(command[:3] + ["--resume", f"--config.max_updates={saved + 2}"]
                              + command[3:], cwd=ROOT, capture_output=True, text=True,
                              timeout=300)
      self.assertEqual(result.returncode, 0, result.stderr[-3000:])
      summary = [l for l in result.stdout.splitlines() if l.startswith("{")][-1]
      self.assertIn(f'"updates": {saved + 2}', summary)
      # What the killed run logged after its checkpoint was logged again, once.
      frames = [r["frames"] for r in metrics_lib.read_jsonl(os.path.join(workdir,
                                                                         "metrics.jsonl"))]
      self.assertEqual(frames, sorted(set(frames)))
      self.assertLen(frames, saved + 2)
    finally:
      if process.poll() is None:
        process.kill()
      shutil.rmtree(workdir, ignore_errors=True)

  def test_sigterm_stops_cleanly_with_a_checkpoint(self):
    workdir = tempfile.mkdtemp()
    command = tiny_train_command(workdir, checkpoint_every_updates=0)
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    metrics_path = os.path.join(workdir, "metrics.jsonl")
    try:
      deadline = time.monotonic() + 240
      while time.monotonic() < deadline and process.poll() is None:
        if os.path.exists(metrics_path) and len(metrics_lib.read_jsonl(metrics_path)) >= 3:
          break
        time.sleep(0.2)
      self.assertIsNone(process.poll(), "the run ended before it was signalled")
      process.send_signal(signal.SIGTERM)
      stdout, stderr = process.communicate(timeout=120)
      self.assertEqual(process.returncode, 0, stderr[-3000:])
      self.assertIn("Stopped by a signal", stderr)
      summary = json.loads([l for l in stdout.splitlines() if l.startswith("{")][-1])
      self.assertTrue(summary["stopped_by_signal"])
      # Long before its 5 minutes, and the checkpoint holds every update made.
      self.assertLess(summary["run_s"], 200)
      saved = checkpoint_lib.Checkpointer(os.path.join(workdir, "checkpoints")).latest_step()
      self.assertEqual(saved, summary["updates"])
      self.assertGreaterEqual(saved, 3)
    finally:
      if process.poll() is None:
        process.kill()
      shutil.rmtree(workdir, ignore_errors=True)


class InitFromTest(absltest.TestCase):
  """`init_from`: a new run starts from another run's or an agent's networks (fine-tuning)."""

  def test_a_run_starts_from_another_runs_networks(self):
    first = self.create_tempdir().full_path
    training.run(small_config(max_updates=2), squares_setup(), first)
    raw, _ = checkpoint_lib.Checkpointer(os.path.join(first, "checkpoints")).restore_raw()
    trained = checkpoint_lib.learner_state_of(raw)
    # One update at learning rate 0 keeps the networks as they started.
    second = self.create_tempdir().full_path
    training.run(small_config(**{"max_updates": 1, "init_from": first, "seed": 7,
                                 "learner.policy_learning_rate": 0.0,
                                 "learner.discriminator_learning_rate": 0.0}),
                 squares_setup(), second)
    raw, meta = checkpoint_lib.Checkpointer(os.path.join(second, "checkpoints")).restore_raw()
    started = checkpoint_lib.learner_state_of(raw)
    self.assertEqual(meta["counters"]["updates"], 1)  # counters start afresh
    self.assertEqual(meta["config"]["init_from"], first)
    # The training the networks already had is on record, so that an agent shipped from the
    # second run counts both runs' frames.
    _, first_meta = checkpoint_lib.Checkpointer(os.path.join(first, "checkpoints")).restore_raw()
    record = training.lineage(second)
    self.assertEqual(record["source"], first)
    self.assertEqual(record["updates"], 2)
    self.assertEqual(record["frames"], first_meta["counters"]["frames"])
    self.assertGreater(record["frames"], 0)
    self.assertIsNone(training.lineage(first))
    for name in ("policy_params", "d_params"):
      jax.tree.map(np.testing.assert_array_equal, started[name], trained[name])
    fresh = self.create_tempdir().full_path
    training.run(small_config(max_updates=1, seed=7), squares_setup(), fresh)
    raw, _ = checkpoint_lib.Checkpointer(os.path.join(fresh, "checkpoints")).restore_raw()
    differs = jax.tree.leaves(jax.tree.map(
        lambda a, b: not np.array_equal(a, b),
        checkpoint_lib.learner_state_of(raw)["policy_params"], trained["policy_params"]))
    self.assertTrue(any(differs))

  def test_a_shipped_agents_policy(self):
    agent = pretrained.load("mnist_small")
    setup = setups.make_setup(setups.run_config(agent.config.to_dict()), load_data=False)
    policy, discriminator, learner_config = training.build_agent(agent.config, setup)
    fresh = learner_lib.init(policy, discriminator, learner_config, jax.random.PRNGKey(3))
    started = training.initialised_from(fresh, "mnist_small", learner_config)
    jax.tree.map(np.testing.assert_array_equal, started.policy_params, agent.params)
    jax.tree.map(np.testing.assert_array_equal, started.d_params, fresh.d_params)

  def _started_from_mnist_small(self, **policy_overrides):
    """A run with `policy_overrides` started from the shipped `mnist_small`: the agent, the run's
    fresh and started learner states, its policy, and `unroll(policy, params)`, which scores the
    actions the agent took on random canvases and targets."""
    agent = pretrained.load("mnist_small")
    config = setups.run_config(agent.config.to_dict())
    config.policy.update(policy_overrides)
    policy, discriminator, learner_config = training.build_agent(
        config, setups.make_setup(config, load_data=False))
    fresh = learner_lib.init(policy, discriminator, learner_config, jax.random.PRNGKey(3))
    started = training.initialised_from(fresh, "mnist_small", learner_config)
    key = jax.random.PRNGKey(4)
    inputs = policy.dummy_inputs((2, 3))._replace(
        canvas=jax.random.uniform(key, (2, 3) + policy.canvas_shape),
        target=jax.random.uniform(jax.random.fold_in(key, 1), (2, 3) + policy.canvas_shape))
    actions, _, _ = agent.policy.step(agent.params, key, jax.tree.map(lambda x: x[0], inputs),
                                      agent.policy.initial_state(3))
    actions = jax.tree.map(lambda x: np.stack([x, x]), actions)

    def unroll(policy, params):
      return policy.unroll(params, inputs, actions, policy.initial_state(3))[0]

    return agent, fresh, started, policy, unroll

  def _grows_onto_mnist_small(self, scope, **policy_overrides):
    """Adds the modules under `scope` (policy_overrides switch them on) to the shipped
    `mnist_small`, which was trained without them: the agent scores every action as before, and
    the new modules' zero projection gets a gradient."""
    agent, _, started, policy, unroll = self._started_from_mnist_small(**policy_overrides)
    grown = sorted(set(started.policy_params) - set(agent.params))
    self.assertTrue(grown and all(f"/{scope}" in name and policy_lib.is_grown(name)
                                  for name in grown), grown)
    log_prob = lambda policy, params: unroll(policy, params).log_prob.sum()
    # The new path starts at zero: the agent scores every action as it did without it ...
    np.testing.assert_allclose(log_prob(policy, started.policy_params),
                               log_prob(agent.policy, agent.params), rtol=1e-5)
    # ... and learns: its projection gets a gradient.
    gradient = jax.grad(lambda p: log_prob(policy, p))(started.policy_params)
    projections = [v for k, v in gradient.items() if f"/{scope}" in k
                   and k.endswith("/projection")]
    self.assertTrue(projections)
    self.assertGreater(max(float(np.abs(v["w"]).max()) for v in projections), 0.0)

  def test_a_run_may_widen_the_agent_it_starts_from(self):
    widths = pretrained.load("mnist_small").config.policy
    agent, fresh, started, policy, unroll = self._started_from_mnist_small(
        torso_channels=2 * widths.torso_channels, lstm_size=2 * widths.lstm_size)
    jax.tree.map(lambda a, b: self.assertEqual(np.shape(a), np.shape(b)), started.policy_params,
                 fresh.policy_params)
    wide, narrow = unroll(policy, started.policy_params), unroll(agent.policy, agent.params)
    np.testing.assert_allclose(wide.log_prob, narrow.log_prob, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(wide.value, narrow.value, rtol=1e-5, atol=1e-5)
    # A narrower run than its source is refused, naming the widths.
    with self.assertRaisesRegex(ValueError,
                                "does not fit this run's networks.*only grows.*lstm_size"):
      self._started_from_mnist_small(lstm_size=widths.lstm_size // 2)

  def test_the_fine_path_grows_onto_an_agent_trained_without_it(self):
    self._grows_onto_mnist_small(policy_lib.FINE_SCOPE, location_fine_channels=4)

  def test_the_glimpse_grows_onto_an_agent_trained_without_it(self):
    self._grows_onto_mnist_small(policy_lib.GLIMPSE_SCOPE, location_glimpse=8)

  def test_the_branch_summary_grows_onto_an_agent_trained_without_it(self):
    self._grows_onto_mnist_small(policy_lib.SUMMARY_SCOPE, branch_summary=True)

  def test_an_agent_file_with_its_discriminator(self):
    run = self.create_tempdir().full_path
    training.run(small_config(max_updates=2), squares_setup(), run)
    config, params, _, discriminator = setups.load_run(run, with_discriminator=True)
    setup = squares_setup()
    policy, disc, learner_config = training.build_agent(config, setup)
    path = os.path.join(self.create_tempdir().full_path, "agent.npz")
    pretrained.save(path, training.training_config(config).to_dict(), params,
                    setup.observation_spec, setup.action_spec, {"frames": 1}, discriminator)
    agent = pretrained.load(path)
    jax.tree.map(np.testing.assert_array_equal, agent.discriminator["d_params"],
                 discriminator["d_params"])
    fresh = learner_lib.init(policy, disc, learner_config, jax.random.PRNGKey(3))
    started = training.initialised_from(fresh, path, learner_config)
    jax.tree.map(np.testing.assert_array_equal, started.policy_params, params)
    jax.tree.map(np.testing.assert_array_equal, started.d_params, discriminator["d_params"])

  def test_networks_that_do_not_fit_get_one_clear_error(self):
    first = self.create_tempdir().full_path
    training.run(small_config(max_updates=1), squares_setup(), first)
    with self.assertRaisesRegex(ValueError, "does not fit this run's networks.*policy_params.*"
                                "same canvas, action space and network sizes"):
      training.run(small_config(**{"max_updates": 1, "init_from": first,
                                   "policy.lstm_size": 16}), squares_setup(),
                   self.create_tempdir().full_path)
    with self.assertRaisesRegex(pretrained.AgentError, "No agent 'no_such_agent'"):
      training.run(small_config(max_updates=1, init_from="no_such_agent"), squares_setup(),
                   self.create_tempdir().full_path)


if __name__ == "__main__":
  absltest.main()
