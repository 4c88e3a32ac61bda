"""What every painting environment shares: specs, config and the recorded program."""

import dm_env

from environments import paint_actions
from environments import programs


class PaintingEnvironment(dm_env.Environment):
  """Base of the painting renderers' dm_env environments.

  A subclass sets `self._config` (a PaintConfig) and keeps the validated actions of the current
  episode in `self._actions`.
  """

  _config: paint_actions.PaintConfig
  _actions: list

  @classmethod
  def from_config(cls, config, **kwargs):
    return cls(**config.to_dict(), **kwargs)

  @property
  def config(self):
    return self._config

  @property
  def program(self):
    """The actions of the current episode so far, as a re-renderable `Program`."""
    return programs.Program(self._config, list(self._actions))

  def action_spec(self):
    return paint_actions.action_spec(self._config)

  def observation_spec(self):
    return paint_actions.observation_spec(self._config)

  def reward_spec(self):
    return paint_actions.reward_spec()

  def discount_spec(self):
    return paint_actions.discount_spec()
