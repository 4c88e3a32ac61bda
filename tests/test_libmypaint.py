"""The libmypaint environment, with the real libmypaint doing the painting."""

import subprocess
import sys
import threading

from absl.testing import absltest
from absl.testing import parameterized
import dm_env
from dm_env import test_utils
import numpy as np

from environments import libmypaint
from environments import paint_actions
from environments import programs


def random_action(spec, rng):
  return paint_actions.random_actions(spec, rng)


def make_action(env, flag=1, end=(16, 16), control=None, size=2, pressure=9, rgb=(0, 0, 0)):
  action = {"flag": flag, "end": np.array(end, np.int32),
            "control": np.array(end if control is None else control, np.int32),
            "size": size, "pressure": pressure}
  if not env.config.grayscale:
    action.update(red=rgb[0], green=rgb[1], blue=rgb[2])
  return action


def ink(canvas):
  """How much darker than white paper each pixel is."""
  return 1.0 - canvas.min(axis=-1)


# Bad actions, each as (name, how to corrupt a good action, what the error must say).
BAD_ACTIONS = (
    ("missing", lambda a: a.pop("pressure"), "pressure"),
    ("float_dtype", lambda a: a.update(size=1.5), "size"),
    ("float_location", lambda a: a.update(end=np.array([1.0, 2.0])), "end"),
    ("too_high", lambda a: a.update(pressure=10), r"pressure.*\[0, 9\]"),
    ("negative", lambda a: a.update(red=-1), r"red.*\[0, 19\]"),
    ("location_out_of_grid", lambda a: a.update(control=np.array([3, 32])),
     r"control.*\[0, 31\]"),
    ("location_shape", lambda a: a.update(end=np.array(5)), "end"),
    ("unknown", lambda a: a.update(colour=3), "colour"),
)


class ColourConformanceTest(test_utils.EnvironmentTestMixin, absltest.TestCase):

  def make_object_under_test(self):
    return libmypaint.LibMyPaint(episode_length=5)

  def make_action_sequence(self):
    rng = np.random.default_rng(0)
    for _ in range(12):  # crosses two episode ends
      yield random_action(self.environment.action_spec(), rng)


class GreyConformanceTest(ColourConformanceTest):

  def make_object_under_test(self):
    return libmypaint.LibMyPaint(grayscale=True, canvas_size=48, grid_size=16, episode_length=4)


class LibMyPaintTest(parameterized.TestCase):

  def test_default_is_paper_setup(self):
    env = libmypaint.LibMyPaint()
    config = env.config
    self.assertEqual((config.canvas_size, config.grid_size, config.episode_length), (64, 32, 20))
    self.assertFalse(config.grayscale)
    spec = env.action_spec()
    self.assertEqual(list(spec), ["flag", "end", "control", "size", "pressure",
                                  "red", "green", "blue"])
    self.assertEqual(spec["end"].shape, (2,))
    self.assertEqual(int(spec["end"].maximum), 31)
    self.assertEqual(spec["pressure"].num_values, 10)
    self.assertEqual(spec["red"].num_values, 20)
    self.assertEqual(env.observation_spec()["canvas"].shape, (64, 64, 3))

  def test_reset_gives_white_canvas_at_top_left(self):
    env = libmypaint.LibMyPaint(grayscale=True)
    timestep = env.reset()
    obs = timestep.observation
    self.assertEqual(timestep.step_type, dm_env.StepType.FIRST)
    np.testing.assert_array_equal(obs["canvas"], np.ones((64, 64, 1), np.float32))
    np.testing.assert_array_equal(obs["brush_location"], [0, 0])
    self.assertEqual(int(obs["episode_step"]), 0)
    self.assertTrue(all(v == 0 for v in obs["action_mask"].values()))

  def test_stroke_lands_between_its_end_points(self):
    env = libmypaint.LibMyPaint(grayscale=True)
    env.reset()
    env.step(make_action(env, flag=paint_actions.MOVE, end=(4, 10)))
    # A straight stroke along grid row 10 (pixel y = 20) from x = 8 to x = 56, radius 2.
    obs = env.step(make_action(env, end=(28, 10), control=(16, 10), size=1)).observation
    dark = ink(obs["canvas"]) > 0.5
    ys, xs = np.nonzero(dark)
    self.assertTrue(np.all(np.abs(ys - 20) <= 4), (ys.min(), ys.max()))
    self.assertLessEqual(abs(xs.min() - 8), 4)
    self.assertLessEqual(abs(xs.max() - 56), 4)
    # Every column along the stroke is inked; the paper elsewhere stays white.
    self.assertTrue(dark[18:23, 10:54].any(axis=0).all())
    self.assertEqual(ink(obs["canvas"])[30:, :].max(), 0.0)
    np.testing.assert_array_equal(obs["brush_location"], [28, 10])
    self.assertEqual(obs["action_mask"]["control"], 1.0)

  def test_curved_stroke_follows_its_control_point(self):
    env = libmypaint.LibMyPaint(grayscale=True)
    env.reset()
    env.step(make_action(env, flag=paint_actions.MOVE, end=(4, 24)))
    # Bezier from (8, 48) through control (32, 0) to (56, 48): its apex is at (32, 24).
    canvas = env.step(make_action(env, end=(28, 24), control=(16, 0), size=1)).observation["canvas"]
    dark = ink(canvas) > 0.5
    self.assertTrue(dark[20:29, 29:36].any())
    self.assertFalse(dark[40:, 28:37].any())  # the chord between the end points stays white
    self.assertFalse(dark[:16].any())  # the curve never reaches its control point

  def test_move_paints_nothing_and_records_x_and_y(self):
    env = libmypaint.LibMyPaint()
    env.reset()
    obs = env.step(make_action(env, flag=paint_actions.MOVE, end=(25, 7), control=(3, 30),
                               rgb=(19, 0, 0))).observation
    np.testing.assert_array_equal(obs["canvas"], np.ones((64, 64, 3), np.float32))
    np.testing.assert_array_equal(obs["brush_location"], [25, 7])  # not (7, 7)
    self.assertEqual(obs["action_mask"]["control"], 0.0)
    self.assertEqual(obs["action_mask"]["end"], 1.0)
    # The next stroke starts from the moved-to point (50, 14) and runs right to (58, 14).
    canvas = env.step(make_action(env, end=(29, 7), size=1, rgb=(0, 0, 0))).observation["canvas"]
    ys, xs = np.nonzero(ink(canvas) > 0.5)
    self.assertLessEqual(abs(xs.min() - 50), 3)
    self.assertLessEqual(np.abs(ys - 14).max(), 4)

  @parameterized.parameters(((19, 0, 0), 0), ((0, 19, 0), 1), ((0, 0, 19), 2))
  def test_colour_components_set_the_ink(self, rgb, channel):
    env = libmypaint.LibMyPaint()
    env.reset()
    env.step(make_action(env, flag=paint_actions.MOVE, end=(4, 16)))
    canvas = env.step(make_action(env, end=(28, 16), rgb=rgb)).observation["canvas"]
    core = canvas[31:34, 20:44]
    np.testing.assert_allclose(core[..., channel], 1.0, atol=0.02)
    others = [c for c in range(3) if c != channel]
    self.assertLess(core[..., others].max(), 0.05)

  def test_mid_grey_colour(self):
    env = libmypaint.LibMyPaint()
    env.reset()
    env.step(make_action(env, flag=paint_actions.MOVE, end=(4, 16)))
    canvas = env.step(make_action(env, end=(28, 16), rgb=(10, 10, 10))).observation["canvas"]
    level = paint_actions.colour_levels(env.config)[10]
    np.testing.assert_allclose(canvas[31:34, 20:44], level, atol=0.02)

  def test_bigger_size_and_pressure_paint_more(self):
    def inked_area(size, pressure):
      env = libmypaint.LibMyPaint(grayscale=True)
      env.reset()
      env.step(make_action(env, flag=paint_actions.MOVE, end=(6, 16)))
      canvas = env.step(make_action(env, end=(26, 16), size=size, pressure=pressure)
                        ).observation["canvas"]
      return float(ink(canvas).sum())
    areas = [inked_area(size, 9) for size in range(4)]
    self.assertEqual(areas, sorted(areas))
    self.assertGreater(areas[3], 3 * areas[0])
    self.assertGreater(inked_area(2, 9), 1.3 * inked_area(2, 0))

  def test_episode_ends_after_episode_length_actions(self):
    env = libmypaint.LibMyPaint(episode_length=3)
    env.reset()
    action = make_action(env)
    types = [env.step(action).step_type for _ in range(4)]
    self.assertEqual(types, [dm_env.StepType.MID, dm_env.StepType.MID, dm_env.StepType.LAST,
                             dm_env.StepType.FIRST])

  @parameterized.named_parameters(*BAD_ACTIONS)
  def test_bad_action_raises_and_changes_nothing(self, corrupt, message):
    env = libmypaint.LibMyPaint()
    env.reset()
    env.step(make_action(env, end=(10, 10), rgb=(5, 5, 5)))
    before = env.step(make_action(env, flag=paint_actions.MOVE, end=(20, 3))).observation
    bad = make_action(env, end=(30, 30), control=(0, 30), rgb=(19, 19, 0))
    corrupt(bad)
    with self.assertRaisesRegex(ValueError, message):
      env.step(bad)
    self.assertLen(env.program, 2)
    # The same stroke after the failed call paints as if the failure never happened.
    good = make_action(env, end=(30, 30), control=(0, 30), rgb=(19, 19, 0))
    after = env.step(good).observation
    self.assertEqual(int(after["episode_step"]), int(before["episode_step"]) + 1)
    expected = libmypaint.render_program(programs.Program(env.config, env.program.actions))
    np.testing.assert_array_equal(after["canvas"], expected)

  def test_grey_env_refuses_colour_components(self):
    env = libmypaint.LibMyPaint(grayscale=True)
    env.reset()
    with self.assertRaisesRegex(ValueError, "grayscale=False"):
      env.step(dict(make_action(env), red=3, green=0, blue=0))

  def test_any_canvas_size(self):
    env = libmypaint.LibMyPaint(canvas_size=100, grid_size=20, grayscale=True)
    canvas = env.reset().observation["canvas"]
    self.assertEqual(canvas.shape, (100, 100, 1))
    env.step(make_action(env, flag=paint_actions.MOVE, end=(2, 15)))
    # Pixel (10, 75) to (90, 75): across the tile boundary at x = 64.
    canvas = env.step(make_action(env, end=(18, 15), size=1)).observation["canvas"]
    cols = np.nonzero((ink(canvas) > 0.5).any(axis=0))[0]
    rows = np.nonzero((ink(canvas) > 0.5).any(axis=1))[0]
    self.assertLessEqual(abs(cols.min() - 10), 4)
    self.assertLessEqual(abs(cols.max() - 90), 4)
    self.assertTrue(np.all(np.abs(rows - 75) <= 4))

  def test_episodes_are_reproducible(self):
    env = libmypaint.LibMyPaint(brush="classic/dry_brush", episode_length=6)
    rng = np.random.default_rng(1)
    actions = [random_action(env.action_spec(), rng) for _ in range(6)]
    finals = []
    for _ in range(2):
      env.reset()
      for a in actions:
        timestep = env.step(a)
      finals.append(timestep.observation["canvas"])
    self.assertLess(finals[0].min(), 0.9)
    np.testing.assert_array_equal(finals[0], finals[1])


class ProgramTest(parameterized.TestCase):

  def _random_episode(self, **kwargs):
    env = libmypaint.LibMyPaint(**kwargs)
    rng = np.random.default_rng(3)
    env.reset()
    for _ in range(env.config.episode_length):
      timestep = env.step(random_action(env.action_spec(), rng))
    return env.program, timestep.observation["canvas"]

  def test_rerender_at_same_size_is_exact(self):
    program, canvas = self._random_episode(episode_length=8)
    np.testing.assert_array_equal(libmypaint.render_program(program), canvas)

  @parameterized.parameters(True, False)
  def test_rerender_at_256_scales_the_strokes(self, grayscale):
    program, canvas = self._random_episode(episode_length=8, grayscale=grayscale)
    big = libmypaint.render_program(program, canvas_size=256)
    self.assertEqual(big.shape, (256, 256, canvas.shape[-1]))
    shrunk = big.reshape(64, 4, 64, 4, -1).mean(axis=(1, 3))
    self.assertLess(float(np.abs(shrunk - canvas).mean()), 0.03)
    # Re-rendering a different program does not match: the comparison can fail.
    other, _ = ProgramTest._random_episode(self, episode_length=3, grayscale=grayscale)
    other_big = libmypaint.render_program(other, canvas_size=256).reshape(
        64, 4, 64, 4, -1).mean(axis=(1, 3))
    self.assertGreater(float(np.abs(other_big - canvas).mean()), 0.03)

  def test_save_and_load_round_trip(self):
    program, canvas = self._random_episode(episode_length=5, grayscale=True, brush_sizes=(2, 5))
    path = self.create_tempfile().full_path
    program.save(path)
    loaded = programs.Program.load(path)
    self.assertEqual(loaded.config, program.config)
    self.assertEqual(loaded.actions, program.actions)
    np.testing.assert_array_equal(libmypaint.render_program(loaded), canvas)

  def test_loading_a_broken_file_names_it(self):
    path = self.create_tempfile(content='{"format": "spiral-jax/painting-program/v1", "con').full_path
    with self.assertRaisesRegex(ValueError, "invalid JSON"):
      programs.Program.load(path)


class ThreadingTest(absltest.TestCase):

  def test_two_threads_paint_as_when_alone(self):
    def run(seed, out):
      env = libmypaint.LibMyPaint(episode_length=20)
      rng = np.random.default_rng(seed)
      canvases = []
      for _ in range(15):
        env.reset()
        for _ in range(20):
          canvases.append(env.step(random_action(env.action_spec(), rng)).observation["canvas"])
      out.extend(canvases)

    alone = {seed: [] for seed in (1, 2)}
    for seed in alone:
      run(seed, alone[seed])
    threaded = {seed: [] for seed in (1, 2)}
    threads = [threading.Thread(target=run, args=(s, threaded[s])) for s in threaded]
    for t in threads:
      t.start()
    for t in threads:
      t.join()
    for seed in alone:
      self.assertLen(threaded[seed], 300)
      np.testing.assert_array_equal(np.stack(threaded[seed]), np.stack(alone[seed]))


class MissingDependencyTest(absltest.TestCase):

  def _run(self, code, **env_vars):
    import os  # pylint: disable=g-import-not-at-top
    env = dict(os.environ, **env_vars)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          check=False)

  def test_missing_library_says_what_to_install(self):
    result = self._run("from environments import libmypaint; libmypaint.LibMyPaint()",
                       SPIRAL_LIBMYPAINT="/nonexistent/libmypaint.so")
    self.assertNotEqual(result.returncode, 0)
    self.assertIn("MissingLibMyPaintError", result.stderr)
    self.assertIn("apt-get install libmypaint-1.5-1 mypaint-brushes", result.stderr)

  def test_missing_brush_says_what_to_install(self):
    with self.assertRaisesRegex(RuntimeError, "apt-get install mypaint-brushes"):
      libmypaint.LibMyPaint(brush="classic/no_such_brush")


if __name__ == "__main__":
  absltest.main()
