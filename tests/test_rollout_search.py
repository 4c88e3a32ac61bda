"""Policy improvement by rollouts (`spiral_jax.rollout_search`): with one candidate it is the
greedy policy, with more it never ends further from the target, its programs replay to its
canvases with the components they used weighted, and `experiments.trace_expert --expert=search`
writes them for `experiments.imitate`."""

import functools
import json
import os
import subprocess
import sys

from absl.testing import absltest
import jax
import numpy as np

from environments import paint_actions
from environments import traced_programs
from experiments import measure
from experiments import setups
from spiral_jax import anakin
from spiral_jax import imitation
from spiral_jax import rollout_search
from spiral_jax import training
from spiral_jax.data import datasets

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class RolloutSearchTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    # the main job's shipped agent, on digits it did not train on
    cls.config, cls.params, _ = setups.load_agent(agent="mnist_small")
    cls.setup = setups.make_setup(cls.config, load_data=False)
    cls.env = cls.setup.functional_env
    cls.policy, _, _ = training.build_agent(cls.config, cls.setup)
    paint = setups.paint_config(cls.config.env)
    cls.targets, _ = datasets.load_labelled("mnist_sample", None, "test[:6]", paint.canvas_size,
                                            None, True)
    cls.search = staticmethod(jax.jit(functools.partial(
        rollout_search.search_rollout, cls.env, cls.policy), static_argnums=(3,)))

  def test_one_candidate_is_the_greedy_policy(self):
    result = self.search(self.params, jax.random.PRNGKey(0), self.targets, 1)
    greedy = anakin.rollout(self.env, self.policy, self.params, jax.random.PRNGKey(3),
                            len(self.targets), self.targets, greedy=True)
    for name, value in greedy.action.items():
      np.testing.assert_array_equal(result.actions[name], np.swapaxes(value, 0, 1), name)
    np.testing.assert_allclose(result.final_canvas, greedy.final_canvas, atol=1e-6)
    np.testing.assert_allclose(result.l2, result.greedy_l2, atol=1e-7)

  def test_more_candidates_never_end_further_and_the_programs_replay(self):
    result = jax.device_get(self.search(self.params, jax.random.PRNGKey(0), self.targets, 4))
    greedy_l2 = ((np.asarray(anakin.rollout(
        self.env, self.policy, self.params, jax.random.PRNGKey(3), len(self.targets),
        self.targets, greedy=True).final_canvas) - self.targets) ** 2).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(result.greedy_l2, greedy_l2, rtol=1e-5)
    self.assertTrue(np.all(result.l2 <= result.greedy_l2 + 1e-6), (result.l2, result.greedy_l2))
    self.assertLess(float(result.l2.mean()), float(result.greedy_l2.mean()))
    # the programs, played through the renderer, paint the search's canvases
    traj = imitation.scripted_rollout(self.env, self.policy, result.actions,
                                      target=self.targets)
    np.testing.assert_allclose(traj.final_canvas, result.final_canvas, atol=1e-5)
    # a move uses its flag and end only; a stroke every component
    moves = result.actions["flag"] == paint_actions.MOVE
    np.testing.assert_array_equal(result.weights["flag"], 1.0)
    np.testing.assert_array_equal(result.weights["size"], np.where(moves, 0.0, 1.0))

  def test_no_candidate_is_one_clear_error(self):
    with self.assertRaisesRegex(ValueError, "candidates must be >= 1"):
      rollout_search.search_rollout(self.env, self.policy, self.params, jax.random.PRNGKey(0),
                                    self.targets, 0)


class EvaluateWithSearchTest(absltest.TestCase):

  def test_the_search_paints_closer_than_the_agent_alone_and_needs_the_jax_renderer(self):
    alone, _, targets = measure.evaluate(agent="mnist_small", num_images=8)
    searched, renders, searched_targets = measure.evaluate(agent="mnist_small", num_images=8,
                                                           search=3)
    np.testing.assert_array_equal(targets, searched_targets)
    self.assertEqual(searched["search"], 3)
    self.assertNotIn("search", alone)
    self.assertLess(searched["l2_mean"], alone["l2_mean"])
    self.assertEqual(renders.shape, targets.shape)
    with self.assertRaisesRegex(ValueError, "JAX renderer"):
      measure.evaluate(agent="mnist_small", num_images=2, search=2, renderer="libmypaint")
    with self.assertRaisesRegex(ValueError, "unconditional"):
      measure.evaluate(agent="mnist_unconditional", num_images=2, search=2)


class SearchExpertScriptTest(absltest.TestCase):

  def test_a_shipped_agent_is_searched_and_its_programs_are_read_back(self):
    out = os.path.join(self.create_tempdir().full_path, "search.npz")
    run = lambda *args: subprocess.run(
        [sys.executable, "-m", "experiments.trace_expert", *args], capture_output=True,
        text=True, timeout=600, cwd=ROOT, env=dict(os.environ, OMP_NUM_THREADS="1"))
    result = run("--expert=search", "--agent=mnist_small", "--dataset=mnist_sample",
                 "--split=test[:8]", "--candidates=3", f"--out={out}")
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    self.assertEqual(figures["num_images"], 8)
    self.assertLessEqual(figures["l2_mean"], figures["agent_l2_mean"] + 1e-6)
    self.assertLess(figures["l2_mean"], 0.6 * figures["blank_l2"])
    self.assertIn("recognised", figures)
    config, _, _ = setups.load_agent(agent="mnist_small")
    self.assertLen(traced_programs.Demonstrations(out, setups.paint_config(config.env)), 8)
    # without an agent: one clear line, no traceback
    result = run("--expert=search", "--dataset=mnist_sample", "--split=test[:8]")
    self.assertNotEqual(result.returncode, 0)
    self.assertIn("--agent", result.stderr)
    self.assertNotIn("Traceback", result.stderr)


if __name__ == "__main__":
  absltest.main()
