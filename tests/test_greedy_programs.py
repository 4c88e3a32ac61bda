"""Programs found by greedy search against a picture (`environments.greedy_programs`): they
repaint colour and grey pictures, replay to the same canvas, pick each stroke's colour in
closed form, and `python -m experiments.trace_expert` writes them for colour configs into a file
that a cloning run learns from."""

import dataclasses
import json
import os
import subprocess
import sys

from absl.testing import absltest
import numpy as np
from PIL import Image

from environments import greedy_programs
from environments import jax_paint
from environments import paint_actions
from environments import traced_programs
from experiments import setups
from experiments.configs import celeba_long

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLOUR = paint_actions.PaintConfig(canvas_size=16, grid_size=8, grayscale=False, episode_length=6,
                                   colour_bins=11)
GREY = dataclasses.replace(COLOUR, grayscale=True)


def _program(config, strokes):
  """A program of (end, control, size, colour levels) strokes, each after a move to its start
  (start, ...), then staying put."""
  actions = {c: np.zeros((config.episode_length, 2) if c in paint_actions.LOCATION_COMPONENTS
                         else (config.episode_length,), np.int32) for c in config.components}
  t = 0
  for start, end, control, size, colour in strokes:
    actions["end"][t] = start
    t += 1
    actions["flag"][t], actions["end"][t], actions["control"][t] = 1, end, control
    actions["size"][t], actions["pressure"][t] = size, config.pressure_levels - 1
    for c, level in zip(paint_actions.COLOUR_COMPONENTS, colour if not config.grayscale else ()):
      actions[c][t] = level
    t += 1
  actions["end"][t:] = actions["end"][t - 1]
  return actions


def _render(config, actions):
  return np.asarray(jax_paint.render_actions(actions, jax_paint.default_params(config)))


class GreedyProgramsTest(absltest.TestCase):

  def _check_replays(self, config, actions, weights, renders):
    _, move, paint = paint_actions.action_masks(config)
    for i in range(len(renders)):
      program = {c: v[i] for c, v in actions.items()}
      np.testing.assert_allclose(_render(config, program), renders[i], atol=1e-5)
      for t in range(config.episode_length):
        mask = paint if program["flag"][t] == paint_actions.PAINT else move
        self.assertEqual({c: weights[c][i, t] for c in config.components}, mask)
        paint_actions.validate_action({c: v[t] for c, v in program.items()}, config)

  def test_colour_pictures_are_repainted_and_the_programs_replay(self):
    targets = np.stack([
        _render(COLOUR, _program(COLOUR, [((1, 1), (6, 6), (1, 6), 2, (10, 0, 0)),
                                          ((6, 1), (1, 6), (4, 4), 2, (0, 0, 10))])),
        _render(COLOUR, _program(COLOUR, [((0, 4), (7, 4), (4, 4), 2, (2, 8, 3))]))])
    actions, weights, renders, l2 = greedy_programs.greedy_programs(
        targets, COLOUR, candidates=64, rounds=2, batch_size=1)
    blank = ((1.0 - targets) ** 2).mean(axis=(1, 2, 3))
    self.assertTrue(np.all(l2 < 0.25 * blank), (l2, blank))
    np.testing.assert_allclose(l2, ((renders - targets) ** 2).mean(axis=(1, 2, 3)), rtol=1e-5)
    self._check_replays(COLOUR, actions, weights, renders)

  def test_straight_strokes_end_on_their_control_point_at_full_pressure(self):
    targets = _render(COLOUR, _program(COLOUR, [((1, 1), (6, 6), (6, 6), 2, (10, 0, 0)),
                                                ((6, 1), (1, 6), (1, 6), 1, (0, 0, 10))]))[None]
    actions, weights, renders, l2 = greedy_programs.greedy_programs(
        targets, COLOUR, candidates=64, rounds=2, straight=True)
    painted = actions["flag"][0] == paint_actions.PAINT
    self.assertTrue(painted.any())
    np.testing.assert_array_equal(actions["control"][0][painted], actions["end"][0][painted])
    np.testing.assert_array_equal(actions["pressure"][0][painted], COLOUR.pressure_levels - 1)
    self.assertLess(l2[0], 0.25 * ((1.0 - targets) ** 2).mean())
    self._check_replays(COLOUR, actions, weights, renders)

  def test_a_stroke_takes_the_colour_closest_to_the_target(self):
    colour = np.array([0.2, 0.6, 0.9], np.float32)  # levels 2, 6 and 9 of 11
    target = np.broadcast_to(colour, (1, 16, 16, 3)).copy()
    actions, _, renders, _ = greedy_programs.greedy_programs(target, COLOUR, candidates=32,
                                                             rounds=0)
    first = int(np.argmax(actions["flag"][0] == paint_actions.PAINT))
    levels = [int(actions[c][0, first]) for c in paint_actions.COLOUR_COMPONENTS]
    # (a stroke's soft edge can take a level beyond the target's: one level off at most)
    np.testing.assert_allclose(levels, [2, 6, 9], atol=1)
    self.assertLess(float(np.abs(renders[0] - colour).mean()), 0.2)

  def test_grey_pictures_are_painted_in_black_ink(self):
    target = _render(GREY, _program(GREY, [((1, 2), (6, 2), (4, 0), 2, ()),
                                           ((3, 0), (3, 7), (3, 4), 2, ())]))[None]
    actions, weights, renders, l2 = greedy_programs.greedy_programs(target, GREY, candidates=64,
                                                                    rounds=2)
    self.assertNotIn("red", actions)
    self.assertLess(float(l2[0]), 0.3 * float(((1.0 - target) ** 2).mean()))
    self._check_replays(GREY, actions, weights, renders)

  def test_a_blank_picture_gets_no_strokes_and_bad_input_is_one_clear_error(self):
    actions, _, _, l2 = greedy_programs.greedy_programs(np.ones((1, 16, 16, 3), np.float32),
                                                        COLOUR, candidates=8, rounds=0)
    self.assertEqual(int(actions["flag"].sum()), 0)
    self.assertEqual(float(l2[0]), 0.0)
    with self.assertRaisesRegex(ValueError, r"\(N, 16, 16, 3\)"):
      greedy_programs.greedy_programs(np.ones((1, 16, 16, 1)), COLOUR)
    with self.assertRaisesRegex(ValueError, "candidates"):
      greedy_programs.greedy_programs(np.ones((1, 16, 16, 3)), COLOUR, candidates=0)


class GreedyExpertScriptTest(absltest.TestCase):

  def test_colour_pictures_are_searched_and_the_file_trains_a_cloning_run(self):
    pictures = self.create_tempdir().full_path
    rng = np.random.default_rng(0)
    for i in range(3):  # a coloured square on a coloured ground
      image = np.full((40, 40, 3), rng.integers(0, 256, 3), np.uint8)
      image[10:30, 8:28] = rng.integers(0, 256, 3)
      Image.fromarray(image).save(os.path.join(pictures, f"{i}.png"))
    out = os.path.join(self.create_tempdir().full_path, "greedy.npz")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    run = lambda module, *args: subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=600,
        cwd=ROOT, env=env)
    config = "--config=experiments/configs/celeba_long.py"
    result = run("experiments.trace_expert", config, "--dataset=folder",
                 f"--data_dir={pictures}", "--candidates=16", "--rounds=0", f"--out={out}")
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    self.assertEqual(figures["num_images"], 3)
    self.assertLess(figures["l2_mean"], 0.5 * figures["blank_l2"])
    paint = setups.paint_config(celeba_long.get_config().env)
    self.assertLen(traced_programs.Demonstrations(out, paint), 3)
    result = run("experiments.imitate", config, f"--workdir={self.create_tempdir().full_path}",
                 f"--traced={out}", "--updates=2", "--batch_size=2", "--noise=0.1")
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    self.assertEqual(json.loads(result.stdout.strip().splitlines()[-1])["updates"], 2)
    # the skeleton tracer is for grey canvases: one clear error, no traceback
    result = run("experiments.trace_expert", config, "--dataset=folder", f"--data_dir={pictures}",
                 "--expert=traced")
    self.assertNotEqual(result.returncode, 0)
    self.assertIn("--expert=greedy", result.stderr)
    self.assertNotIn("Traceback", result.stderr)


if __name__ == "__main__":
  absltest.main()
