"""The blocked Metropolis-Hastings baseline: its acceptance rule, its stationary distribution on a
toy target, and the experiment script on real MuJoCo scenes."""

import json
import os

from absl.testing import absltest
from absl.testing import flagsaver
import numpy as np

from experiments import figures
from experiments import mcmc as mcmc_script
from spiral_jax import mcmc
from spiral_jax import metrics as metrics_lib
from spiral_jax import specs


class AcceptanceRuleTest(absltest.TestCase):

  def test_better_proposals_are_always_accepted(self):
    for u in (0.0, 0.5, 0.999999):
      self.assertTrue(mcmc.accept(0.0, u))
      self.assertTrue(mcmc.accept(3.0, u))

  def test_worse_proposals_are_accepted_with_probability_alpha(self):
    log_alpha = np.log(0.3)
    self.assertTrue(mcmc.accept(log_alpha, 0.29))
    self.assertFalse(mcmc.accept(log_alpha, 0.31))
    u = np.random.default_rng(0).random(20000)
    rate = np.mean([mcmc.accept(log_alpha, x) for x in u])
    self.assertAlmostEqual(rate, 0.3, delta=0.015)

  def test_log_likelihood_is_gaussian_with_the_given_variance(self):
    image, target = np.zeros((2, 2)), np.full((2, 2), 0.5)
    self.assertAlmostEqual(mcmc.log_likelihood(image, target, 0.25), -0.5 * 4 * 0.25 / 0.25)
    self.assertAlmostEqual(mcmc.log_likelihood(image, target, 1.0), -0.5)


class ToyChainTest(absltest.TestCase):

  def test_chain_samples_the_posterior(self):
    # One slot, one attribute with 3 values: the image is 0 when the slot is absent, else v + 1.
    # Traces are (present, v): 6 states, so absent (image 0) holds 3 of them.
    components = (specs.Component("v", "scalar", 3),)
    render = lambda blocks: np.array([blocks[0]["v"] + 1.0 if blocks else 0.0])
    target, variance = np.array([2.0]), 1.0
    chain = mcmc.Chain(render, target, components, num_slots=1, variance=variance)
    rng = np.random.default_rng(1)
    counts = np.zeros(4)
    for _ in range(60000):
      chain.step(rng)
      counts[int(chain.image[0])] += 1
    weights = np.exp(-0.5 * np.square(np.arange(4) - 2.0) / variance) * np.array([3, 1, 1, 1])
    np.testing.assert_allclose(counts / counts.sum(), weights / weights.sum(), atol=0.015)
    self.assertEqual(chain.calls, 60001)

  def test_proposals_change_one_block(self):
    components = (specs.Component("a", "scalar", 5), specs.Component("xy", "location", 16, (4, 4)))
    rng = np.random.default_rng(0)
    blocks = [mcmc.random_block(rng, components) for _ in range(500)]
    self.assertEqual({b["a"] for b in blocks}, set(range(5)))
    self.assertEqual({b["xy"] for b in blocks}, {(x, y) for x in range(4) for y in range(4)})
    self.assertEqual({b[mcmc.PRESENT] for b in blocks}, {True, False})


class RecordTest(absltest.TestCase):

  def test_l2_after_a_number_of_calls_reads_the_last_point_logged_before_it(self):
    history = [{"frames": c, "l2": l2, "acceptance": 0.5}
               for c, l2 in ((1, 0.3), (20, 0.2), (1000, 0.1), (5000, 0.05))]
    record = mcmc.curve_record(history, "test[:4]", seed=3)
    self.assertEqual((record["split"], record["seed"], record["acceptance"]), ("test[:4]", 3, 0.5))
    self.assertEqual(mcmc.mcmc_l2_after(record, 5000), 0.05)
    self.assertEqual(mcmc.mcmc_l2_after(record, 999), 0.2)
    with self.assertRaisesRegex(ValueError, "ran 5000 renderer calls per scene, fewer than 6000"):
      mcmc.mcmc_l2_after(record, 6000)
    with self.assertRaisesRegex(ValueError, "Not an MCMC curve record"):
      mcmc.mcmc_l2_after({"calls": [1]}, 1)
    path = os.path.join(self.create_tempdir().full_path, "mcmc.json")
    with open(path, "w", encoding="utf-8") as f:
      f.write('{"calls": [1, 2], "l2": [0.1')
    with self.assertRaisesRegex(ValueError, "Cannot read the MCMC record .*experiments.mcmc"):
      mcmc.load_curve_record(path)


class ScriptTest(absltest.TestCase):

  def test_mcmc_on_held_out_scenes_logs_l2_against_renderer_calls(self):
    workdir = self.create_tempdir().full_path
    with flagsaver.flagsaver(mcmc_dir=workdir, num_scenes=3, calls=300):
      mcmc_script.main([])
    records = metrics_lib.read_jsonl(os.path.join(workdir, "metrics.jsonl"))
    calls = [r["frames"] for r in records]
    self.assertEqual(calls, sorted(calls))
    self.assertEqual((calls[0], calls[-1]), (1, 300))
    self.assertIn(20, calls)
    l2 = [r["l2"] for r in records]
    self.assertLess(l2[-1], l2[0])  # the chains move toward their targets ...
    self.assertGreater(l2[-1], 0.0)  # ... without solving them in 300 calls
    self.assertTrue(os.path.exists(os.path.join(workdir, "fig9.png")))
    record = mcmc.load_curve_record(os.path.join(workdir, "mcmc.json"))
    self.assertEqual((record["calls"], record["l2"]), (calls, l2))
    self.assertEqual((record["split"], record["num_scenes"]), ("test[:3]", 3))
    self.assertEqual(record["scene"]["canvas_size"], 64)
    # The log is in the training metrics' format: the figures script compares it with runs.
    series = figures.compare_runs([workdir], os.path.join(workdir, "compare.png"))
    self.assertLen(list(series.values())[0][0], len(records))


if __name__ == "__main__":
  absltest.main()
