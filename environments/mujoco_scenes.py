"""MuJoCo Scenes (paper sections 4.2, 4.6): the agent builds a 3-D scene object by object.

A square platform seen by a fixed camera; each step adds, changes or skips an object (the action
space: `environments.scene_actions`). Every episode has exactly `episode_length` steps, so at most
that many objects; the agent must learn how many to place. `MujocoScenes()` is the paper's set-up
(64x64, 16x16 grid, 3 sizes, 4 colour bins, 20 steps). Rewards are always 0: SPIRAL's reward
comes from a discriminator, not from the renderer.

Rendering (`environments.mujoco_render`) is offscreen, with the OpenGL backend `MUJOCO_GL`
names (chosen for you when unset: EGL with a GPU, else OSMesa). Programs are recorded
(`env.program`, an `environments.programs.SceneProgram`) and can be rendered again at any size
with `render_program`, as the painting programs can.

The names of the action space, the renderer and the program are importable from here too.
"""

import dm_env
import numpy as np

from environments import base
# The renderer first: it sets MUJOCO_GL before MuJoCo is imported.
from environments import mujoco_render
from environments import programs
from environments import scene_actions
from environments.mujoco_render import (  # pylint: disable=unused-import
    BackendError, SceneRenderer, render_program)
from environments.programs import SceneProgram as Program  # pylint: disable=unused-import
from environments.scene_actions import (  # pylint: disable=unused-import
    ADD, CHANGE, COLOUR_COMPONENTS, COMPONENTS, MODES, SHAPES, SKIP, SceneConfig, SceneObject,
    action_mask, action_spec, colour_levels, grid_to_platform, num_values, observation_spec,
    scene_objects, validate_action)


class MujocoScenes(base.ProgramEnvironment):
  """The MuJoCo Scenes environment; `MujocoScenes()` is the paper's set-up."""
  _action_space = scene_actions
  _program_class = programs.SceneProgram

  def __init__(self, canvas_size=64, grid_size=16, sizes=SceneConfig.sizes, colour_bins=4,
               episode_length=20, antialias=False):
    self._config = SceneConfig(canvas_size=canvas_size, grid_size=grid_size, sizes=sizes,
                               colour_bins=colour_bins, episode_length=episode_length,
                               antialias=antialias)
    self._renderer = mujoco_render.SceneRenderer(self._config)
    self._actions = []
    self._objects = []
    self._needs_reset = True
    self._canvas = None

  def reset(self):
    self._actions = []
    self._objects = []
    self._needs_reset = False
    self._canvas = self._renderer.render(self._objects)
    return dm_env.TimeStep(dm_env.StepType.FIRST, None, None, self._observation(None))

  def step(self, action):
    if self._needs_reset:
      return self.reset()
    action = validate_action(action, self._config)
    changed = False
    if action["mode"] == ADD:
      self._objects.append(SceneObject.from_action(action))
      changed = True
    elif action["mode"] == CHANGE and self._objects:
      self._objects[-1] = SceneObject.from_action(action)
      changed = True
    self._actions.append(action)
    if changed:
      self._canvas = self._renderer.render(self._objects)
    else:
      self._canvas = self._canvas.copy()
    observation = self._observation(action)
    if len(self._actions) >= self._config.episode_length:
      self._needs_reset = True
      return dm_env.TimeStep(dm_env.StepType.LAST, np.float32(0.0), np.float32(0.0), observation)
    return dm_env.TimeStep(dm_env.StepType.MID, np.float32(0.0), np.float32(1.0), observation)

  def _observation(self, action):
    return {"canvas": self._canvas, "episode_step": np.int32(len(self._actions)),
            "num_objects": np.int32(len(self._objects)), "action_mask": action_mask(action)}

  def close(self):
    self._renderer.close()


