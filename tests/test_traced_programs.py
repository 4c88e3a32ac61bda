"""Programs traced from a picture's ink (`environments.traced_programs`): thinning, tracing a
picture the JAX renderer painted back into a program that repaints it, the best-of-candidates
expert, the demonstrations file, and `python -m experiments.trace_expert`."""

import dataclasses
import json
import os
import subprocess
import sys

from absl.testing import absltest
import jax
import numpy as np

from environments import jax_paint
from environments import paint_actions
from environments import traced_programs
from experiments import setups
from experiments.configs import mnist_conditional
from experiments.configs import mnist_long
from spiral_jax import training

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAINT = setups.paint_config(mnist_long.get_config().env)  # 64x64, 32x32 grid, 20 steps
SMALL = setups.paint_config(mnist_conditional.get_config("small").env)  # 32x32, 16x16, 10


def program(config, steps):
  """A program from (flag, end, control) steps, brush size 1 and pressure 7, then staying put."""
  actions = {c: np.zeros((config.episode_length, 2) if c in paint_actions.LOCATION_COMPONENTS
                         else (config.episode_length,), np.int32) for c in config.components}
  for t, (flag, end, control) in enumerate(steps):
    actions["flag"][t], actions["end"][t], actions["control"][t] = flag, end, control
    actions["size"][t], actions["pressure"][t] = 1, 7
  actions["end"][len(steps):] = steps[-1][1]
  return actions


def render(config, actions):
  return np.asarray(jax_paint.render_actions(actions, jax_paint.default_params(config)))


def l2(a, b):
  return float(np.mean((np.asarray(a) - np.asarray(b)) ** 2))


# A "7" and a separate hook: two pen-down runs.
SEVEN = [(0, (8, 8), (0, 0)), (1, (24, 8), (16, 8)), (1, (24, 24), (28, 16)),
         (0, (8, 26), (0, 0)), (1, (16, 18), (12, 26))]


class TracedProgramsTest(absltest.TestCase):

  def test_thinning_leaves_a_one_pixel_line_along_the_middle(self):
    bar = np.zeros((20, 30), bool)
    bar[8:13, 4:26] = True  # five pixels thick, rows 8-12
    skeleton = traced_programs.thin(bar)
    rows, columns = np.nonzero(skeleton)
    self.assertTrue(np.all((rows >= 9) & (rows <= 11)))
    self.assertEqual(len(columns), len(set(columns.tolist())))  # one pixel per column
    self.assertGreaterEqual(columns.max() - columns.min(), 14)
    self.assertFalse(np.any(skeleton & ~bar))
    with self.assertRaisesRegex(ValueError, "one"):
      traced_programs.thin(np.zeros((2, 3, 4)))

  def test_a_painted_program_is_traced_back_into_one_that_repaints_it(self):
    picture = render(PAINT, program(PAINT, SEVEN))
    blank = l2(np.ones_like(picture), picture)
    actions, weights = traced_programs.trace(picture, PAINT, 1.0, size=1, pressure=7)
    self.assertLess(l2(render(PAINT, actions), picture), 0.2 * blank)
    for t in range(PAINT.episode_length):
      step = {c: actions[c][t] for c in PAINT.components}
      paint_actions.validate_action(step, PAINT)
      mask = paint_actions.action_mask(step, PAINT)
      self.assertEqual({c: float(weights[c][t]) for c in mask}, mask)
    flags = actions["flag"].tolist()
    last = max(t for t, f in enumerate(flags) if f)
    # two runs, each started by a move; after the last stroke the brush stays where it is
    self.assertEqual(flags[0], paint_actions.MOVE)
    self.assertEqual(flags[:last + 1].count(paint_actions.MOVE), 2)
    self.assertTrue(np.all(actions["end"][last:] == actions["end"][last]))
    # the tips are where the painted strokes end, within a cell
    ends = {tuple(e) for e in actions["end"][:last + 1].tolist()}
    for corner in [(8, 8), (24, 24)]:
      self.assertTrue(any(max(abs(a - b) for a, b in zip(corner, e)) <= 1 for e in ends), ends)
    with self.assertRaisesRegex(ValueError, "64x64"):
      traced_programs.trace(picture[:32], PAINT)

  def test_a_drawing_of_more_strokes_than_steps_is_fitted_into_the_episode(self):
    # two zigzags of five strokes each: 12 steps as drawn, traced on the small set-up's 10
    zigzag = lambda y0, y1: [(0, (3, y0), (0, 0))] + [
        (1, (3 + 5 * k, y1 if k % 2 else y0), (1 + 5 * k, (y0 + y1) // 2)) for k in range(1, 6)]
    picture = render(PAINT, program(PAINT, zigzag(3, 12) + zigzag(18, 28)))[::2, ::2]  # 32x32
    traced, _ = traced_programs.trace(picture, SMALL, 1.0, size=0, pressure=3)
    flags = traced["flag"].tolist()
    self.assertLen(flags, SMALL.episode_length)
    last = max(t for t, f in enumerate(flags) if f)
    self.assertEqual(flags[:last + 1].count(paint_actions.MOVE), 2)  # both zigzags drawn
    self.assertLess(l2(render(SMALL, traced), picture),
                    0.5 * l2(np.ones_like(picture), picture))
    # two steps hold one stroke: the longer zigzag, as one curve; one step holds none
    two, _ = traced_programs.trace(picture, dataclasses.replace(SMALL, episode_length=2))
    self.assertEqual(two["flag"].tolist(), [paint_actions.MOVE, paint_actions.PAINT])
    one, _ = traced_programs.trace(picture, dataclasses.replace(SMALL, episode_length=1))
    self.assertEqual(one["flag"].tolist(), [paint_actions.MOVE])

  def test_the_expert_keeps_the_closest_candidate(self):
    pictures = np.stack([render(PAINT, program(PAINT, SEVEN)),
                         render(PAINT, program(PAINT, SEVEN[:3]))])
    actions, weights, renders, scores = traced_programs.best_programs(
        pictures, PAINT, tolerances=(1.0, 2.5), sizes=(0, 1, 2), pressures=(3, 7))
    for i, picture in enumerate(pictures):
      candidates = []
      for tolerance in (1.0, 2.5):
        for size in (0, 1, 2):
          for pressure in (3, 7):
            traced, _ = traced_programs.trace(picture, PAINT, tolerance, size, pressure)
            candidates.append(l2(render(PAINT, traced), picture))
      self.assertAlmostEqual(float(scores[i]), min(candidates), places=6)
      self.assertAlmostEqual(l2(renders[i], picture), float(scores[i]), places=6)
      one = {c: v[i] for c, v in actions.items()}
      np.testing.assert_allclose(render(PAINT, one), renders[i], atol=1e-4)
      self.assertEqual(set(weights), set(PAINT.components))
    self.assertEqual(int(actions["size"][0][actions["flag"][0] == 1][0]), 1)  # drawn with size 1

  def test_the_demonstrations_file_round_trips_and_bad_files_are_clear_errors(self):
    pictures = np.stack([render(PAINT, program(PAINT, SEVEN)),
                         render(PAINT, program(PAINT, SEVEN[:3]))])
    actions, weights, _, _ = traced_programs.best_programs(pictures, PAINT, (1.0,), (1,), (7,))
    path = os.path.join(self.create_tempdir().full_path, "traced.npz")
    traced_programs.save(path, PAINT, actions, weights, pictures)
    demos = traced_programs.Demonstrations(path, PAINT)
    self.assertLen(demos, 2)
    got, got_weights, played, targets = demos(6, rng=np.random.default_rng(0))
    self.assertEqual(targets.shape, (6, 64, 64, 1))
    for i in range(6):
      k = int(np.argmin([np.abs(targets[i] - p).max() for p in pictures]))
      self.assertLessEqual(np.abs(targets[i] - pictures[k]).max(), 0.5 / 255 + 1e-6)
      for c in PAINT.components:
        np.testing.assert_array_equal(got[c][i], actions[c][k])
        np.testing.assert_array_equal(got_weights[c][i], weights[c][k])
        np.testing.assert_array_equal(played[c][i], actions[c][k])  # no noise: as written
    _, _, noisy, _ = demos(20, noise=1.0, rng=np.random.default_rng(1))
    again, _, _, _ = demos(20, rng=np.random.default_rng(1))
    strokes = again["flag"] == paint_actions.PAINT
    moved = np.abs(noisy["end"] - again["end"]).sum(-1)
    self.assertTrue(np.all(moved[strokes] <= 1) and np.all(moved[~strokes] == 0))
    self.assertGreater(np.mean(moved[strokes]), 0.5)
    np.testing.assert_array_equal(noisy["control"], again["control"])
    with self.assertRaisesRegex(ValueError, "trace again"):
      traced_programs.Demonstrations(path, SMALL)
    broken = os.path.join(self.create_tempdir().full_path, "broken.npz")
    with open(broken, "wb") as f:
      f.write(b"not a zip")
    with self.assertRaisesRegex(ValueError, "Cannot read traced programs"):
      traced_programs.Demonstrations(broken, PAINT)
    other = os.path.join(self.create_tempdir().full_path, "other.npz")
    np.savez(other, x=np.zeros(3))
    with self.assertRaisesRegex(ValueError, "not a file of traced programs"):
      traced_programs.Demonstrations(other, PAINT)
    # programs saved without their pictures: the reader gives them, as many as the programs
    bare = os.path.join(self.create_tempdir().full_path, "bare.npz")
    traced_programs.save(bare, PAINT, actions, weights)
    with self.assertRaisesRegex(ValueError, "without their pictures"):
      traced_programs.Demonstrations(bare, PAINT)
    with self.assertRaisesRegex(ValueError, "2 programs"):
      traced_programs.Demonstrations(bare, PAINT, pictures[:1])
    given = traced_programs.Demonstrations(bare, PAINT, pictures)
    got, _, _, targets = given(6, rng=np.random.default_rng(0))
    first, _, _, _ = demos(6, rng=np.random.default_rng(0))
    for c in PAINT.components:
      np.testing.assert_array_equal(got[c], first[c])
    self.assertLessEqual(np.abs(targets - demos(6, rng=np.random.default_rng(0))[3]).max(), 1e-6)

  def test_the_shipped_programs_paint_the_sample_digits(self):
    _, programs = setups.demonstrations(mnist_conditional.get_config("small"), "mnist_sample")
    self.assertLen(programs, 10000)
    actions, _, _, targets = programs(64, rng=np.random.default_rng(0))
    renders = np.stack([render(SMALL, {c: v[i] for c, v in actions.items()}) for i in range(64)])
    painted, blank = l2(renders, targets), l2(np.ones_like(targets), targets)
    self.assertLess(painted, 0.4 * blank)  # each program redraws its own digit ...
    shuffled = l2(renders, np.roll(targets, 1, axis=0))
    self.assertLess(painted, 0.5 * shuffled)  # ... not just any digit


class TraceExpertScriptTest(absltest.TestCase):

  def test_the_expert_paints_sample_digits_and_its_file_trains_a_cloning_run(self):
    out = os.path.join(self.create_tempdir().full_path, "traced.npz")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    run = lambda module, *args: subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=600,
        cwd=ROOT, env=env)
    small = "--config=experiments/configs/mnist_conditional.py:small"
    result = run("experiments.trace_expert", small, "--split=test[:16]", "--tolerances=1.0",
                 f"--out={out}")
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    self.assertEqual(figures["num_images"], 16)
    self.assertLess(figures["l2_mean"], 0.7 * figures["blank_l2"])
    self.assertGreaterEqual(figures["recognised"], 0.5)  # the shipped classifier reads them
    self.assertLen(traced_programs.Demonstrations(out, SMALL), 16)
    workdir = self.create_tempdir().full_path
    result = run("experiments.imitate", small, f"--workdir={workdir}", f"--traced={out}",
                 "--updates=2", "--batch_size=4", "--log_every=1", "--noise=0.2")
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    self.assertEqual(json.loads(result.stdout.strip().splitlines()[-1])["frames"], 2 * 4 * 10)
    # traced for another set-up: one clear error
    result = run("experiments.imitate", f"--workdir={self.create_tempdir().full_path}",
                 "--config=experiments/configs/mnist_long.py", f"--traced={out}", "--updates=1")
    self.assertNotEqual(result.returncode, 0)
    self.assertIn("trace again", result.stderr)
    self.assertNotIn("Traceback", result.stderr)

  def test_the_main_job_clones_the_shipped_programs_first(self):
    workdir = self.create_tempdir().full_path
    command = [sys.executable, "-m", "experiments.train", f"--workdir={workdir}",
               "--config.imitation.programs=mnist_sample", "--config.imitation.updates=2",
               "--config.imitation.batch_size=4", "--config.max_updates=2",
               "--config.learner.batch_size=8", "--config.progress=False",
               "--config.checkpoint_every_minutes=0"]
    run = lambda *extra: subprocess.run(command + list(extra), capture_output=True, text=True,
                                        timeout=600, cwd=ROOT,
                                        env=dict(os.environ, OMP_NUM_THREADS="1"))
    result = run()
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    clone_dir = os.path.join(workdir, "imitation")
    _, cloned, meta = setups.load_run(clone_dir)
    self.assertEqual(meta["counters"]["cloning_updates"], 2)
    self.assertEqual(meta["counters"]["frames"], 2 * 4 * 10)
    lineage = training.lineage(workdir)  # SPIRAL's learners started from the clone
    self.assertEqual(os.path.realpath(lineage["source"]), os.path.realpath(clone_dir))
    self.assertEqual(lineage["frames"], 2 * 4 * 10)
    self.assertEqual(json.loads(result.stdout.strip().splitlines()[-1])["updates"], 2)
    _, params, _ = setups.load_run(workdir)  # D learnt for 2 updates; the policy was held still
    for x, y in zip(jax.tree.leaves(cloned), jax.tree.leaves(params)):
      np.testing.assert_array_equal(x, y)
    again = run()  # the directory holds a run already
    self.assertNotEqual(again.returncode, 0)
    self.assertIn("--resume", again.stderr)
    self.assertNotIn("Traceback", again.stderr)
    # data that cannot be read: said at once, before any cloning
    missing = run("--data_dir=/no/such/dir", f"--workdir={workdir}/missing")
    self.assertNotEqual(missing.returncode, 0)
    self.assertIn("No MNIST train images", missing.stderr)
    self.assertNotIn("Traceback", missing.stderr)
    self.assertFalse(os.path.exists(os.path.join(workdir, "missing", "imitation")))
    # another set-up than the programs were traced for: one line that says what to do
    other = run("--config.env.kwargs.grid_size=8", f"--workdir={workdir}/other")
    self.assertNotEqual(other.returncode, 0)
    self.assertIn("imitation.updates=0", other.stderr)
    self.assertNotIn("Traceback", other.stderr)


if __name__ == "__main__":
  absltest.main()
