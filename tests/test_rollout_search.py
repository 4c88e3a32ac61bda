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
import optax

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

  def test_every_candidate_is_recorded_with_how_it_finished(self):
    result = jax.device_get(self.search(self.params, jax.random.PRNGKey(1), self.targets, 4))
    self.assertEqual(result.candidate_l2.shape, (6, self.env.episode_length, 4))
    # the search took, at each step, the candidate that finished closest (ties: the greedy one)
    pick = np.argmin(result.candidate_l2, axis=-1)
    for name, tried in result.candidate_actions.items():
      index = pick.reshape(pick.shape + (1,) * (tried.ndim - 2))
      np.testing.assert_array_equal(np.take_along_axis(tried, index, 2)[:, :, 0],
                                    result.actions[name], name)
      np.testing.assert_array_equal(
          np.take_along_axis(result.candidate_weights[name], pick[..., None], 2)[..., 0],
          result.weights[name], name)
    # candidate 0 of the first step is the greedy policy's episode; the last step's best is
    # the search's own final l2
    np.testing.assert_allclose(result.candidate_l2[:, 0, 0], result.greedy_l2, rtol=1e-6)
    np.testing.assert_allclose(result.candidate_l2[:, -1].min(-1), result.l2, rtol=1e-5)

  def test_learning_from_the_candidates_makes_the_better_ones_likelier(self):
    result = jax.device_get(self.search(self.params, jax.random.PRNGKey(2), self.targets, 4))
    traj = imitation.scripted_rollout(self.env, self.policy, result.actions, target=self.targets)
    candidates = imitation.Candidates(result.candidate_actions, result.candidate_weights,
                                      result.candidate_l2)
    demos = imitation.Demonstrations(traj, result.weights, candidates)
    optimiser = optax.adam(3e-4)
    update = jax.jit(functools.partial(imitation.candidate_update, self.policy, optimiser, 0.2))

    def margin(params):  # log pi(best) - log pi(greedy), where a candidate beat the greedy one
      flat = imitation._candidates_time_major(candidates)  # pylint: disable=protected-access
      log_prob = imitation._candidate_log_probs(  # pylint: disable=protected-access
          self.policy, params, imitation.trajectory_lib.time_major(traj), flat)
      log_prob = np.asarray(log_prob).reshape(-1, 4, len(result.l2))
      l2 = np.moveaxis(result.candidate_l2, 0, 2)  # (T, K, B)
      beaten = l2.min(1) < l2[:, 0] - 1e-5
      self.assertGreater(np.sum(beaten), 3)
      best = np.take_along_axis(log_prob, l2.argmin(1)[:, None], 1)[:, 0]
      return float(np.mean((best - log_prob[:, 0])[beaten]))

    params, opt_state = self.params, optimiser.init(self.params)
    loss, metrics = imitation.candidate_loss(self.policy, params, params, demos)
    self.assertAlmostEqual(float(metrics["clip_fraction"]), 0.0)  # the ratios start at 1
    self.assertAlmostEqual(float(loss), 0.0, places=5)  # mean-zero advantages at ratio 1
    before = margin(params)
    for _ in range(10):
      params, opt_state, metrics = update(params, opt_state, self.params, demos)
    self.assertGreater(margin(params), before + 0.5)
    self.assertTrue(np.isfinite(float(metrics["candidate_loss"])))
    with self.assertRaisesRegex(ValueError, "trace_expert --expert=search"):
      imitation.candidate_loss(self.policy, params, params, demos._replace(candidates=None))

  def test_candidate_advantages_move_probability_from_a_beaten_greedy_action(self):
    l2 = np.array([[0.2, 0.1, 0.3, 0.15],  # two candidates beat the greedy action (first)
                   [0.5, 0.5, 0.5, 0.5],  # all finished alike
                   [0.1, 0.2, 0.3, 0.2]], np.float32)  # the greedy action finished best
    advantage = np.asarray(imitation.candidate_advantages(l2))
    np.testing.assert_allclose(advantage.sum(-1), 0.0, atol=1e-6)
    np.testing.assert_array_equal(advantage[1:], 0.0)  # nothing beat the greedy action
    self.assertLess(advantage[0, 0], 0)
    self.assertEqual(advantage[0, 2], 0)  # a worse candidate is left alone
    np.testing.assert_allclose(advantage[0, 1] / advantage[0, 3], 2.0, rtol=1e-5)
    np.testing.assert_allclose(np.sqrt(np.mean(advantage ** 2)), 1.0, rtol=1e-5)

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
    paint = setups.paint_config(config.env)
    demos = traced_programs.Demonstrations(out, paint)
    self.assertLen(demos, 8)
    self.assertTrue(demos.has_candidates)
    *_, (tried, tried_weights, tried_l2) = demos(5, with_candidates=True)
    self.assertEqual(tried_l2.shape, (5, paint.episode_length, 3))
    self.assertEqual(tried["end"].shape, (5, paint.episode_length, 3, 2))
    self.assertEqual(tried_weights["size"].shape, (5, paint.episode_length, 3))
    with np.load(out) as f:  # a file whose candidates lost a component: one clear error
      arrays = {name: f[name] for name in f.files if name != "candidate_action/end"}
    broken = os.path.join(self.create_tempdir().full_path, "broken.npz")
    np.savez(broken, **arrays)
    with self.assertRaisesRegex(ValueError, "incomplete search candidates"):
      traced_programs.Demonstrations(broken, paint)
    # the agent learns from every candidate (imitate --objective=candidates)
    imitate = lambda *args: subprocess.run(
        [sys.executable, "-m", "experiments.imitate",
         "--config=experiments/configs/mnist_conditional.py", f"--traced={out}",
         "--objective=candidates", "--batch_size=4", "--updates=3", "--log_every=1",
         "--max_minutes=0", "--config.progress=False", *args], capture_output=True, text=True,
        timeout=600, cwd=ROOT, env=dict(os.environ, OMP_NUM_THREADS="1"))
    workdir = self.create_tempdir().full_path
    result = imitate("--config.init_from=mnist_small", f"--workdir={workdir}")
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    self.assertEqual(json.loads(result.stdout.strip().splitlines()[-1])["updates"], 3)
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
      records = [json.loads(line) for line in f]
    self.assertLen(records, 3)
    self.assertTrue(all(np.isfinite(r["candidate_loss"]) for r in records))
    # without the agent that searched, or from programs without candidates: one clear line
    result = imitate(f"--workdir={self.create_tempdir().full_path}")
    self.assertNotEqual(result.returncode, 0)
    self.assertIn("--config.init_from", result.stderr)
    self.assertNotIn("Traceback", result.stderr)
    bare = os.path.join(self.create_tempdir().full_path, "bare.npz")
    actions, weights, _, targets = demos(4)
    traced_programs.save(bare, paint, actions, weights, targets)
    result = imitate("--config.init_from=mnist_small", f"--traced={bare}",
                     f"--workdir={self.create_tempdir().full_path}")
    self.assertNotEqual(result.returncode, 0)
    self.assertIn("--expert=search", result.stderr)
    self.assertNotIn("Traceback", result.stderr)
    # without an agent: one clear line, no traceback
    result = run("--expert=search", "--dataset=mnist_sample", "--split=test[:8]")
    self.assertNotEqual(result.returncode, 0)
    self.assertIn("--agent", result.stderr)
    self.assertNotIn("Traceback", result.stderr)


if __name__ == "__main__":
  absltest.main()
