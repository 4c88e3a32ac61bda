"""What every SPIRAL renderer's dm_env environment shares.

A SPIRAL environment is a renderer driven by a program: its config fixes what the actions mean,
its action space gives the specs, rewards are always 0 (the reward comes from a discriminator),
and the actions taken so far are a re-renderable program.
"""

import dm_env
from dm_env import specs
import numpy as np


def reward_spec():
  return specs.Array((), np.float32, name="reward")


def discount_spec():
  return specs.BoundedArray((), np.float32, 0.0, 1.0, name="discount")


class ProgramEnvironment(dm_env.Environment):
  """Base of the renderers' environments.

  A subclass names its action-space module (`_action_space`, with `action_spec(config)` and
  `observation_spec(config)`) and its program class (`_program_class(config, actions)`), sets
  `self._config` and keeps the validated actions of the current episode in `self._actions`.
  """

  _action_space = None
  _program_class = None
  _config = None
  _actions: list

  @classmethod
  def from_config(cls, config, **kwargs):
    return cls(**config.to_dict(), **kwargs)

  @property
  def config(self):
    return self._config

  @property
  def program(self):
    """The actions of the current episode so far, as a re-renderable program."""
    return self._program_class(self._config, list(self._actions))

  def action_spec(self):
    return self._action_space.action_spec(self._config)

  def observation_spec(self):
    return self._action_space.observation_spec(self._config)

  def reward_spec(self):
    return reward_spec()

  def discount_spec(self):
    return discount_spec()
