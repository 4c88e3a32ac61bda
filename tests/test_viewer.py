"""The viewer: its runtime (no window) on a shipped agent and the real renderer, and its pyglet
window on a virtual display (Xvfb), checked by a screenshot."""

import json
import os
import shutil
import subprocess
import sys

from absl.testing import absltest
import numpy as np

from environments import libmypaint
from environments import programs
from experiments import viewing
from spiral_jax.viewer import runtime as runtime_lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.path.join(os.path.dirname(sys.executable), "spiral-jax")


class RuntimeTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.runtime = viewing.make_runtime(agent="mnist_small", num_images=3, speed=4.0, hold_s=1.0)

  def setUp(self):
    super().setUp()
    self.runtime.paused = False
    self.runtime.speed = 4.0
    self.runtime.target_index = 0
    self.runtime.restart()

  def test_plays_at_its_speed_and_pauses(self):
    runtime = self.runtime
    self.assertEqual(runtime.t, 0)
    self.assertTrue(np.all(runtime.canvas == 1.0))  # a blank canvas
    self.assertEqual(runtime.advance(1.0), 4)  # 4 actions per second
    self.assertEqual(runtime.t, 4)
    self.assertLen(runtime.actions, 4)
    runtime.toggle_pause()
    self.assertEqual(runtime.advance(5.0), 0)
    self.assertEqual(runtime.t, 4)
    runtime.toggle_pause()
    runtime.faster()
    self.assertEqual(runtime.speed, 8.0)
    self.assertEqual(runtime.advance(0.5), 4)
    for _ in range(10):
      runtime.slower()
    self.assertEqual(runtime.speed, runtime_lib.SPEEDS[0])

  def test_an_episode_ends_holds_then_paints_the_next_target(self):
    runtime = self.runtime
    length = runtime.episode_length
    self.assertGreater(length, 1)
    runtime.speed = 32.0
    # Long enough for the episode, not for the 1 s hold after it.
    self.assertEqual(runtime_lib.run_headless(runtime, length / 32.0 + 0.3), length)
    self.assertTrue(runtime.done)
    self.assertIn(f"step {length}/{length}", runtime.status_line())
    self.assertIn("done", runtime.status_line())
    l2 = float(np.mean(np.square(runtime.canvas - runtime.targets[0])))
    self.assertIn(f"l2 {l2:.4f}", runtime.status_line())
    self.assertLess(l2, float(np.mean(np.square(1.0 - runtime.targets[0]))))  # it painted
    runtime.advance(0.6)
    self.assertEqual(runtime.target_index, 0)  # still held
    runtime.advance(0.6)
    self.assertEqual((runtime.target_index, runtime.t), (1, 0))  # the next target, blank again
    self.assertTrue(np.all(runtime.canvas == 1.0))

  def test_step_restart_next_target(self):
    runtime = self.runtime
    action = runtime.step()
    self.assertEqual(runtime.t, 1)
    self.assertIn("action: flag=", runtime.status_line())
    self.assertEqual(runtime_lib.describe(action).split()[0], f"flag={int(action['flag'])}")
    runtime.restart()
    self.assertEqual((runtime.t, runtime.target_index), (0, 0))
    for _ in range(3):
      runtime.next_target()
    self.assertEqual(runtime.target_index, 0)  # three targets, in a cycle
    picture = runtime.picture()
    self.assertEqual(picture.shape[0], runtime.canvas.shape[0])
    self.assertGreater(picture.shape[1], 2 * runtime.canvas.shape[1])  # target | canvas

  def test_saved_program_repaints_the_canvas(self):
    runtime = self.runtime
    while not runtime.done:
      runtime.step()
    out_dir = self.create_tempdir().full_path
    paths = runtime.save(out_dir)
    self.assertEqual(sorted(os.path.splitext(p)[1] for p in paths), [".json", ".png", ".svg"])
    program = programs.load([p for p in paths if p.endswith(".json")][0])
    self.assertLen(program.actions, runtime.episode_length)
    np.testing.assert_allclose(libmypaint.render_program(program), runtime.canvas, atol=1e-6)
    self.assertIn("saved 3 files", runtime.status_line())

  def test_newer_parameters_load_between_episodes(self):
    calls = []
    params = self.runtime.driver.params

    def reload():
      calls.append(1)
      return (params, "checkpoint 7") if len(calls) == 2 else None

    runtime = runtime_lib.Runtime(self.runtime.env, self.runtime.driver.policy, params,
                                  self.runtime.targets, reload=reload, label="checkpoint 6")
    self.assertIn("checkpoint 6", runtime.status_line())
    runtime.next_target()
    self.assertIn("checkpoint 7", runtime.status_line())
    self.assertIn("loaded checkpoint 7", runtime.status_line())
    self.assertLen(calls, 2)

  def test_a_conditional_agent_needs_targets(self):
    with self.assertRaisesRegex(ValueError, "target images"):
      runtime_lib.Runtime(self.runtime.env, self.runtime.driver.policy,
                          self.runtime.driver.params, None)


class OtherRenderersAndRunsTest(absltest.TestCase):

  def test_mujoco_scenes_with_an_unconditional_agent(self):
    import jax  # pylint: disable=import-outside-toplevel
    from environments import mujoco_scenes  # pylint: disable=import-outside-toplevel
    from experiments import setups  # pylint: disable=import-outside-toplevel
    from spiral_jax.networks import policy as policy_lib  # pylint: disable=import-outside-toplevel
    config = mujoco_scenes.SceneConfig(canvas_size=32, episode_length=3)
    env = mujoco_scenes.MujocoScenes.from_config(config)
    policy = policy_lib.Policy(env.observation_spec(), env.action_spec())
    env_config = {"name": "mujoco_scenes", "kwargs": config.to_dict()}
    runtime = runtime_lib.Runtime(env, policy, policy.init(jax.random.PRNGKey(0)),
                                  save=viewing.save_painting(env_config), speed=8.0,
                                  episode_length=3)
    self.assertEqual(runtime.picture().shape, (32, 32, 3))  # the canvas alone
    self.assertEqual(runtime.advance(1.0), 3)
    self.assertTrue(runtime.done)
    self.assertNotIn("l2", runtime.status_line())
    paths = runtime.save(self.create_tempdir().full_path)
    self.assertEqual(sorted(os.path.splitext(p)[1] for p in paths), [".json", ".png"])
    scene = programs.load([p for p in paths if p.endswith(".json")][0])
    self.assertLen(scene.actions, 3)
    self.assertEqual(setups.scene_config(env_config), scene.config)

  def test_a_run_reloads_its_newest_checkpoint(self):
    workdir = self.create_tempdir().full_path
    tiny = ["--config.max_minutes=0", "--config.progress=False", "--config.learner.batch_size=8",
            "--config.imitation.updates=0",
            "--config.env.kwargs.canvas_size=16", "--config.env.kwargs.grid_size=4",
            "--config.env.kwargs.episode_length=3", "--config.checkpoint_every_updates=1",
            "--config.checkpoint_every_minutes=0"]
    train = lambda updates, *more: subprocess.run(
        [sys.executable, "-m", "experiments.train", f"--workdir={workdir}",
         f"--config.max_updates={updates}", *tiny, *more], cwd=ROOT, capture_output=True,
        text=True, timeout=600)
    result = train(1)
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    runtime = viewing.make_runtime(workdir=workdir, num_images=2)
    self.assertIn("checkpoint 1", runtime.status_line())
    first = runtime.driver.params
    runtime.next_target()
    self.assertIn("checkpoint 1", runtime.status_line())  # nothing newer yet
    result = train(2, "--resume")
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    runtime.next_target()
    self.assertIn("checkpoint 2", runtime.status_line())
    self.assertIn("loaded checkpoint 2", runtime.status_line())
    import jax  # pylint: disable=import-outside-toplevel
    changed = [not np.array_equal(a, b) for a, b in zip(jax.tree.leaves(first),
                                                         jax.tree.leaves(runtime.driver.params))]
    self.assertTrue(any(changed))


WINDOW_SCRIPT = r"""
import json, sys
import numpy as np
from experiments import viewing
from spiral_jax.viewer import window
runtime = viewing.make_runtime(agent="mnist_small", num_images=2)
viewer = window.Viewer(runtime, save_dir=sys.argv[1])
key = viewer.pyglet.window.key
viewer.on_key_press(key.SPACE, 0)
paused = runtime.paused
for _ in range(5):
  viewer.on_key_press(key.N, 0)  # five single steps
viewer.on_key_press(key.S, 0)
shot = viewer.screenshot()
top, left, h, w = viewer.picture_box()
expected = window.to_pixels(runtime.picture(), viewer.scale)
shown = shot[top:top + h, left:left + w]
status = shot[viewer.height - window.STATUS_HEIGHT:]
print(json.dumps({"paused": paused, "t": runtime.t, "shape_ok": shown.shape == expected.shape,
                  "max_diff": int(np.abs(shown.astype(int) - expected).max()),
                  "canvas_ink": int((expected < 128).sum()),
                  "status_pixels": int((status > 128).sum()),
                  "saved": sorted(__import__("os").listdir(sys.argv[1]))}))
"""


def xvfb_run(*command):
  return subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1024x768x24", *command], cwd=ROOT,
                        capture_output=True, text=True, timeout=600)


@absltest.skipIf(shutil.which("xvfb-run") is None,
                 "xvfb-run is missing: scripts/bootstrap.sh installs it (Debian package xvfb)")
class WindowTest(absltest.TestCase):

  def test_window_shows_the_canvas_and_works_from_the_keyboard(self):
    save_dir = self.create_tempdir().full_path
    result = xvfb_run(sys.executable, "-c", WINDOW_SCRIPT, save_dir)
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    shown = json.loads(result.stdout.strip().splitlines()[-1])
    self.assertTrue(shown["paused"])
    self.assertEqual(shown["t"], 5)
    self.assertTrue(shown["shape_ok"])
    self.assertLessEqual(shown["max_diff"], 2)  # the window shows target | canvas, pixel for pixel
    self.assertGreater(shown["canvas_ink"], 0)
    self.assertGreater(shown["status_pixels"], 100)  # the status line is drawn
    self.assertEqual(shown["saved"], ["painting_000.json", "painting_000.png",
                                      "painting_000.svg"])

  def test_command_line_screenshot(self):
    path = os.path.join(self.create_tempdir().full_path, "view.png")
    result = xvfb_run(CLI, "view", "--agent=mnist_small", "--seconds=3", "--speed=32",
                      f"--screenshot={path}")
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    from PIL import Image  # pylint: disable=import-outside-toplevel
    with Image.open(path) as image:
      pixels = np.asarray(image.convert("L"))
    self.assertGreater((pixels > 200).sum(), 1000)  # white paper is shown
    self.assertGreater(((pixels < 60) & (pixels.cumsum(axis=1) > 0)).sum(), 100)


class NoDisplayTest(absltest.TestCase):

  def test_a_missing_display_is_one_clear_line(self):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    result = subprocess.run([CLI, "view", "--agent=mnist_small"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    self.assertEqual(result.returncode, 1)
    self.assertLen(result.stderr.strip().splitlines(), 1, result.stderr)
    self.assertIn("No display", result.stderr)
    self.assertIn("xvfb-run", result.stderr)


if __name__ == "__main__":
  absltest.main()
