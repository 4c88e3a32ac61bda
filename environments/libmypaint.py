"""The libmypaint painting environment (paper section 4.2), a `dm_env.Environment`.

`LibMyPaint()` is the paper's colour 64x64 environment: a 32x32 action grid, 20 actions an episode,
the pen brush. See `environments.paint_actions` for the action semantics.

Observations are a dict:
  canvas          float32 (W, W, C) in [0, 1], white paper (1) with ink; C = 1 (grey) or 3.
  episode_step    int32, actions taken so far in this episode.
  brush_location  int32 (x, y) on the action grid; the top-left corner (0, 0) after a reset.
  action_mask     per component, 1.0 where the previous action used it (all 0 after a reset).

Rewards are always 0: in SPIRAL the agent's reward comes from a discriminator, not from the
renderer. Every episode has exactly `episode_length` actions; the last step is a termination.
The brush is created anew at each reset, so an episode's canvas depends on its program alone.
"""

import math

import dm_env
import numpy as np

from environments import mypaint_binding
from environments import paint_actions
from environments import painting


class LibMyPaint(painting.PaintingEnvironment):
  """Paints stroke programs with the system libmypaint."""

  def __init__(self, canvas_size=64, grid_size=32, grayscale=False,
               brush=paint_actions.DEFAULT_BRUSH, brush_sizes=paint_actions.DEFAULT_BRUSH_SIZES,
               pressure_levels=10, colour_bins=20, episode_length=20):
    self._config = paint_actions.PaintConfig(
        canvas_size=canvas_size, grid_size=grid_size, grayscale=grayscale, brush=brush,
        brush_sizes=brush_sizes, pressure_levels=pressure_levels, colour_bins=colour_bins,
        episode_length=episode_length)
    config = self._config
    mypaint_binding.read_brush_file(config.brush)  # fail now, not at the first reset
    self._surface = mypaint_binding.Surface(config.canvas_size, config.canvas_size)
    self._dtime = paint_actions.stroke_dtime(config)
    self._log_radii = [math.log(r) for r in config.brush_sizes]
    self._brush = None
    self._stroke = None
    self._actions = []
    self._needs_reset = True

  def reset(self):
    self._surface.clear()
    self._brush = mypaint_binding.Brush(self._config.brush)
    if self._config.grayscale:
      self._set_colour((0.0, 0.0, 0.0))
    self._stroke = self._surface.stroke_function(self._brush)
    self._location = (0, 0)
    self._previous_pressure = None
    self._actions = []
    self._needs_reset = False
    self._jump_to(self._location)
    return dm_env.TimeStep(dm_env.StepType.FIRST, None, None, self._observation(None))

  def step(self, action):
    if self._needs_reset:
      return self.reset()
    action = paint_actions.validate_action(action, self._config)
    if action["flag"] == paint_actions.PAINT:
      self._paint(action)
    else:
      self._jump_to(action["end"])
      self._previous_pressure = None
    self._location = action["end"]
    self._actions.append(action)
    observation = self._observation(action)
    if len(self._actions) >= self._config.episode_length:
      self._needs_reset = True
      return dm_env.TimeStep(dm_env.StepType.LAST, np.float32(0.0), np.float32(0.0), observation)
    return dm_env.TimeStep(dm_env.StepType.MID, np.float32(0.0), np.float32(1.0), observation)

  def close(self):
    self._stroke = None
    self._brush = None
    self._surface = None

  # Rendering.

  def _set_colour(self, hsv):
    h, s, v = hsv
    self._brush.set_base_value("color_h", h)
    self._brush.set_base_value("color_s", s)
    self._brush.set_base_value("color_v", v)

  def _jump_to(self, location):
    """Lifts the brush and puts it down at a grid location without painting."""
    x, y = paint_actions.grid_to_pixel(location, self._config)
    self._brush.reset()
    self._surface.begin_atomic()
    self._stroke(x, y, 0.0, self._dtime)
    self._surface.end_atomic()

  def _paint(self, action):
    config = self._config
    if not config.grayscale:
      self._set_colour(paint_actions.stroke_hsv(action, config))
    self._brush.set_base_value("radius_logarithmic", self._log_radii[action["size"]])
    events, self._previous_pressure = paint_actions.stroke_events(
        self._location, action, self._previous_pressure, config)
    stroke, dtime = self._stroke, self._dtime
    self._surface.begin_atomic()
    for x, y, p in events:
      stroke(x, y, p, dtime)
    self._surface.end_atomic()

  def _observation(self, action):
    return {
        "canvas": self._surface.pixels(self._config.channels),
        "episode_step": np.int32(len(self._actions)),
        "brush_location": np.array(self._location, np.int32),
        "action_mask": paint_actions.action_mask(action, self._config),
    }


def render_program(program, canvas_size=None):
  """Paints a recorded program afresh, optionally on a canvas of another size.

  Strokes keep their place relative to the canvas and brush radii scale with it, so a 64x64
  episode re-rendered at 256 is the same picture in four times the detail.

  Returns:
    float32 array (canvas_size, canvas_size, channels) in [0, 1].
  """
  config = program.config
  if canvas_size is not None:
    config = config.scaled(canvas_size)
  config = paint_actions.PaintConfig.from_dict(
      dict(config.to_dict(), episode_length=max(1, len(program.actions))))
  env = LibMyPaint.from_config(config)
  timestep = env.reset()
  for action in program.actions:
    timestep = env.step(action)
  env.close()
  return timestep.observation["canvas"]
