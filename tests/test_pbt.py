"""Population-based training on Ray Tune: a tiny population exploits, explores, and every
checkpoint it reported restores."""

import json
import os

from absl.testing import absltest
import numpy as np
from ray import tune

from experiments import measure
from experiments import population
from experiments import setups
from experiments.configs import mnist_conditional
from spiral_jax import checkpoint as checkpoint_lib


def tiny_config():
  config = mnist_conditional.get_config("small")
  config.update_from_flattened_dict({
      "max_minutes": 0.0, "checkpoint_every_minutes": 0.0, "picture_every_minutes": 0.0,
      "log_every_updates": 1, "learner.batch_size": 8, "env.kwargs.canvas_size": 16,
      "env.kwargs.grid_size": 4, "env.kwargs.episode_length": 3,
      # the paper's policy, without the location heads' branch: each trial compiles faster
      "policy.location_skip_channels": 0})
  config.pbt.entropy_cost = (1e-3, 0.1)
  return config


class FitnessTest(absltest.TestCase):

  def test_fitness_is_minus_l2_or_d_score(self):
    metrics = {"l2": 0.05, "score": 1.5}
    self.assertEqual(population.fitness_of(metrics, "auto", conditional=True), -0.05)
    self.assertEqual(population.fitness_of(metrics, "auto", conditional=False), 1.5)
    self.assertEqual(population.fitness_of(metrics, "score", conditional=True), 1.5)
    with self.assertRaisesRegex(ValueError, "not 'accuracy'"):
      population.fitness_of(metrics, "accuracy", conditional=True)
    with self.assertRaisesRegex(ValueError, "logs no 'l2'.*fitness=score"):
      population.fitness_of({"score": 1.0}, "l2", conditional=False)

  def test_first_hyper_parameters_lie_in_their_ranges(self):
    ranges = {"entropy_cost": (1e-3, 0.1), "policy_learning_rate": (1e-4, 1e-3),
              "discriminator_learning_rate": (1e-5, 1e-4)}
    starts = population.initial_hypers(ranges, 12, seed=0)
    self.assertLen(starts, 12)
    for name, (low, high) in ranges.items():
      values = [s[name] for s in starts]
      self.assertTrue(all(low <= v <= high for v in values), name)
      self.assertGreater(len(set(values)), 10)
    self.assertEqual(starts, population.initial_hypers(ranges, 12, seed=0))

  def test_settings_take_the_configs_ranges_over_the_defaults(self):
    config = mnist_conditional.get_config("small")
    config.pbt.entropy_cost = (0.002, 0.02)
    settings, ranges = population.pbt_settings(config)
    self.assertEqual(ranges["entropy_cost"], (0.002, 0.02))
    self.assertEqual(ranges["policy_learning_rate"], tuple(config.pbt.policy_learning_rate))
    self.assertEqual(settings["population"], config.pbt.population)
    del config.pbt
    self.assertEqual(population.pbt_settings(config)[0], population.base_pbt_settings())

  def test_the_checkpoint_reported_at_an_update_is_found_by_its_member_file(self):
    trial_dir = self.create_tempdir().full_path
    for i, updates in enumerate((3, 4, 5)):
      os.makedirs(os.path.join(trial_dir, f"checkpoint_{i:06d}"))
      with open(os.path.join(trial_dir, f"checkpoint_{i:06d}", "member.json"), "w",
                encoding="utf-8") as f:
        json.dump({"trial_id": "a", "updates": updates, "hypers": {}}, f)
    os.makedirs(os.path.join(trial_dir, "checkpoint_000003"))  # being written: no member.json
    self.assertEqual(population.reported_checkpoint(trial_dir, 4),
                     os.path.join(trial_dir, "checkpoint_000001"))
    self.assertEqual(population.reported_checkpoint(trial_dir, 5),
                     os.path.join(trial_dir, "checkpoint_000002"))
    self.assertIsNone(population.reported_checkpoint(trial_dir, 2))  # pruned
    self.assertIsNone(population.reported_checkpoint(os.path.join(trial_dir, "gone"), 4))

  def test_pruning_keeps_the_newest_checkpoints_only(self):
    trial_dir = self.create_tempdir().full_path
    for i in range(6):
      os.makedirs(os.path.join(trial_dir, f"checkpoint_{i:06d}"))
    os.makedirs(os.path.join(trial_dir, "run"))
    population.prune_checkpoints(trial_dir, 3)
    self.assertEqual(sorted(os.listdir(trial_dir)),
                     ["checkpoint_000003", "checkpoint_000004", "checkpoint_000005", "run"])


class PopulationTest(absltest.TestCase):

  def test_a_tiny_population_exploits_and_every_checkpoint_restores(self):
    workdir = self.create_tempdir().full_path
    config = tiny_config()
    frames_per_update = 8 * 3
    # A report every update: eight chances for the member behind to clone the one ahead.
    summary = population.run_population(config, workdir, population=2, perturbation_interval=1,
                                        max_frames=8 * frames_per_update)
    print(summary)
    self.assertEqual(summary["population"], 2)
    with open(os.path.join(workdir, "members.json"), encoding="utf-8") as f:
      members = json.load(f)
    self.assertLen(members, 2)
    ids = {m["trial_id"] for m in members}
    exploits = [r for m in members for r in m["exploits"]]
    self.assertNotEmpty(exploits)
    self.assertEqual(summary["exploits"], len(exploits))
    for restore in exploits:
      # a member continued from another member's checkpoint, with perturbed values
      self.assertIn(restore["from_trial"], ids)
      self.assertNotEqual(restore["from_trial"], restore["trial_id"])
      self.assertNotEqual(restore["hypers_after"], restore["hypers_before"])
    for member in members:
      frames = [h["frames"] for h in member["history"]]
      self.assertTrue(all(np.isfinite(h["fitness"]) for h in member["history"]))
      # every member trained to the end, and its history holds its reports after an exploit
      self.assertEqual(frames[-1], 8 * frames_per_update)
      after = [h for h in member["history"] if h["exploited"]]
      self.assertEqual([h["exploited"] for h in after],
                       [r["from_trial"] for r in member["exploits"]])
      for report, restore in zip(after, member["exploits"]):
        self.assertGreater(report["updates"], restore["updates"])
        for name, value in restore["hypers_after"].items():
          self.assertAlmostEqual(report[name], value)
    # the copies that exploits cloned are gone
    self.assertFalse(os.path.exists(os.path.join(workdir, population.EXPLOITS_DIR)))
    # Every checkpoint Ray kept restores as a run directory.
    restored = 0
    for member in members:
      names = [n for n in sorted(os.listdir(member["path"])) if n.startswith("checkpoint_")]
      self.assertBetween(len(names), 1, population.CHECKPOINTS_KEPT)
      for name in names:
        run_dir = self.create_tempdir().full_path
        writer = population._restore_into(  # pylint: disable=protected-access
            tune.Checkpoint.from_directory(os.path.join(member["path"], name)), run_dir)
        _, params, meta = setups.load_run(run_dir)
        self.assertEqual(meta["counters"]["updates"], writer["updates"])
        self.assertNotEmpty(params)
        restored += 1
    self.assertGreaterEqual(restored, 2)
    # The best member is a normal run directory.
    best = summary["best_dir"]
    self.assertIsNotNone(checkpoint_lib.Checkpointer(os.path.join(best, "checkpoints"),
                                                     create=False).latest_step())
    evaluated, _, _ = measure.evaluate(best, num_images=8, batch_size=8)
    self.assertTrue(np.isfinite(evaluated["l2_mean"]))
    self.assertTrue(os.path.getsize(summary["picture"]) > 10_000)


if __name__ == "__main__":
  absltest.main()
