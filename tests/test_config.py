"""The run config: built once from an experiment config, frozen, validated, one source of
defaults."""

import dataclasses

from absl.testing import absltest
import ml_collections

from experiments.configs import base
from experiments.configs import mnist_conditional
from spiral_jax import config as config_lib
from spiral_jax.networks import discriminator as disc_lib
from spiral_jax.networks import policy as policy_lib


class TrainingConfigTest(absltest.TestCase):

  def test_experiment_configs_validate_with_the_library_presets(self):
    for size in base.SIZES:
      config = config_lib.TrainingConfig.from_config(mnist_conditional.get_config(size))
      paper_heads = dataclasses.replace(config.policy, location_skip_channels=0)
      self.assertEqual(paper_heads, policy_lib.SMALL if size == "small" else policy_lib.PAPER)
      self.assertEqual(config.discriminator,
                       disc_lib.SMALL if size == "small" else disc_lib.PAPER)
      self.assertEqual(config.learner.discriminator, "conditional")
      self.assertTrue(config.conditional)
      self.assertEqual(config.checkpoints_to_keep, 3)

  def test_round_trip_through_a_plain_dict(self):
    config = config_lib.TrainingConfig.from_config(mnist_conditional.get_config("small"))
    again = config_lib.TrainingConfig.from_config(config.to_dict())
    self.assertEqual(again, config)
    self.assertEqual(again.env["kwargs"]["canvas_size"], 32)

  def test_unknown_keys_are_named_with_the_known_ones(self):
    config = mnist_conditional.get_config("small")
    config.learner.entropy_cots = 0.1
    with self.assertRaisesRegex(config_lib.ConfigError,
                                r"\['entropy_cots'\] in config.learner.*'entropy_cost'"):
      config_lib.TrainingConfig.from_config(config)
    config = mnist_conditional.get_config("small")
    config.max_minute = 3.0
    with self.assertRaisesRegex(config_lib.ConfigError, r"\['max_minute'\].*'max_minutes'"):
      config_lib.TrainingConfig.from_config(config)

  def test_missing_and_bad_values_are_refused(self):
    config = mnist_conditional.get_config("small").to_dict()
    del config["actor_timeout_s"]
    with self.assertRaisesRegex(config_lib.ConfigError, r"lacks \['actor_timeout_s'\]"):
      config_lib.TrainingConfig.from_config(config)
    for key, value, message in (("mode", "sync", "mode must be one of"),
                                ("log_every_updates", 0, "at least 1"),
                                ("max_frames", 1.5, "whole number"),
                                ("progress", "yes", "True or False")):
      config = mnist_conditional.get_config("small").to_dict()  # a plain dict takes any value
      config[key] = value
      with self.assertRaisesRegex(config_lib.ConfigError, message):
        config_lib.TrainingConfig.from_config(config)
    config = mnist_conditional.get_config("small")
    config.learner.discriminator = "pairwise"
    with self.assertRaisesRegex(config_lib.ConfigError, "discriminator must be one of"):
      config_lib.TrainingConfig.from_config(config)

  def test_frozen(self):
    config = config_lib.TrainingConfig.from_config(
        ml_collections.ConfigDict(mnist_conditional.get_config("small")))
    with self.assertRaises(Exception):
      config.seed = 1
    with self.assertRaises(TypeError):
      config.env["name"] = "libmypaint"


if __name__ == "__main__":
  absltest.main()
