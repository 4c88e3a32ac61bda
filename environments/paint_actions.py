"""The painting action space (paper section 4.2, Fig. 3), shared by every painting renderer.

An action is a dict of integer components:

  flag      0 = move: jump to `end` without painting; 1 = paint a stroke.
  end       (x, y) on a G x G grid: where the stroke (or jump) ends.
  control   (x, y) on the grid: control point of the quadratic Bezier stroke.
  pressure  index into `pressure_levels()` (10 levels from 0.1 to 1).
  size      index into the configured brush radii.
  red, green, blue   colour bins (20 each, 0..1); colour canvases only (grey ink is black).

Location components have spec shape (2,) with bounds [0, G-1] (x first); scalar components are
`DiscreteArray`s. Grid cell c maps to pixel W*c/G on a W x W canvas, so a program re-renders at any
canvas size with its strokes scaled. A paint stroke is the Bezier
p(t) = (1-t)^2 l + 2(1-t)t c + t^2 e from the current brush location l, sampled at
`STROKE_POINTS` points sent `stroke_dtime` apart; its pressure ramps linearly from the previous stroke's pressure, or is
constant for the first stroke after a reset or a move.
"""

import colorsys
import dataclasses
import functools
from typing import Mapping, Tuple

from dm_env import specs
import numpy as np

MOVE, PAINT = 0, 1
LOCATION_COMPONENTS = ("end", "control")
COLOUR_COMPONENTS = ("red", "green", "blue")
STROKE_POINTS = 51  # the start point plus 50 stroke events, as in DeepMind's environment
STROKE_DTIME = 0.1  # seconds between stroke events on a REFERENCE_CANVAS-pixel canvas
REFERENCE_CANVAS = 64
DEFAULT_BRUSH = "classic/pen"
DEFAULT_BRUSH_SIZES = (1.0, 2.0, 4.0, 8.0, 12.0, 24.0)


@dataclasses.dataclass(frozen=True)
class PaintConfig:
  """Everything that fixes what a painting program draws.

  Attributes:
    canvas_size: canvas width and height W in pixels (any positive size).
    grid_size: G, the number of grid cells per side for `end` and `control`.
    grayscale: one channel of black ink, or three channels with colour components.
    brush: libmypaint brush name ('classic/pen') or path to a .myb file.
    brush_sizes: brush radii in pixels of this canvas, one per `size` value.
    pressure_levels: number of pressure values, evenly spaced from 0.1 to 1.
    colour_bins: number of bins per colour channel, evenly spaced from 0 to 1.
    episode_length: number of actions in an episode.
  """
  canvas_size: int = 64
  grid_size: int = 32
  grayscale: bool = False
  brush: str = DEFAULT_BRUSH
  brush_sizes: Tuple[float, ...] = DEFAULT_BRUSH_SIZES
  pressure_levels: int = 10
  colour_bins: int = 20
  episode_length: int = 20

  def __post_init__(self):
    object.__setattr__(self, "brush_sizes", tuple(float(r) for r in self.brush_sizes))
    for name in ("canvas_size", "grid_size", "pressure_levels", "colour_bins", "episode_length"):
      value = getattr(self, name)
      if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    if self.grid_size < 2:
      raise ValueError(f"grid_size must be at least 2, got {self.grid_size}.")
    if not self.brush_sizes or min(self.brush_sizes) <= 0:
      raise ValueError(f"brush_sizes must be a non-empty list of positive radii, "
                       f"got {self.brush_sizes!r}.")

  @property
  def channels(self):
    return 1 if self.grayscale else 3

  @property
  def components(self):
    """Action component names in the order of DeepMind's autoregressive decoder."""
    names = ("flag", "end", "control", "size", "pressure")
    return names if self.grayscale else names + COLOUR_COMPONENTS

  def scaled(self, canvas_size):
    """The same program semantics on another canvas size (radii scaled with the canvas)."""
    factor = canvas_size / self.canvas_size
    return dataclasses.replace(self, canvas_size=int(canvas_size),
                               brush_sizes=tuple(r * factor for r in self.brush_sizes))

  def to_dict(self):
    return dataclasses.asdict(self)

  @classmethod
  def from_dict(cls, d):
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = set(d) - fields
    if unknown:
      raise ValueError(f"Unknown painting config keys {sorted(unknown)}; known: {sorted(fields)}.")
    return cls(**d)


@functools.lru_cache(maxsize=64)
def _levels(low, high, count):
  levels = np.linspace(low, high, count)
  levels.flags.writeable = False
  return levels


def pressure_levels(config):
  return _levels(0.1, 1.0, config.pressure_levels)


def colour_levels(config):
  return _levels(0.0, 1.0, config.colour_bins)


def _num_values(config, name):
  return {"flag": 2, "size": len(config.brush_sizes), "pressure": config.pressure_levels,
          "red": config.colour_bins, "green": config.colour_bins,
          "blue": config.colour_bins}[name]


def action_spec(config):
  spec = {}
  for name in config.components:
    if name in LOCATION_COMPONENTS:
      spec[name] = specs.BoundedArray((2,), np.int32, 0, config.grid_size - 1, name=name)
    else:
      spec[name] = specs.DiscreteArray(_num_values(config, name), dtype=np.int32, name=name)
  return spec


def observation_spec(config):
  w = config.canvas_size
  return {
      "canvas": specs.BoundedArray((w, w, config.channels), np.float32, 0.0, 1.0, name="canvas"),
      "episode_step": specs.BoundedArray((), np.int32, 0, config.episode_length,
                                         name="episode_step"),
      "brush_location": specs.BoundedArray((2,), np.int32, 0, config.grid_size - 1,
                                           name="brush_location"),
      "action_mask": {name: specs.BoundedArray((), np.float32, 0.0, 1.0, name=name)
                      for name in config.components},
  }


def random_actions(spec, rng, batch_shape=()):
  """Uniformly random valid actions for a dict action spec: int32 arrays of batch_shape + shape."""
  return {name: rng.integers(s.minimum, np.asarray(s.maximum) + 1,
                             size=tuple(batch_shape) + s.shape, dtype=np.int32)
          for name, s in spec.items()}


def _valid_range(config, name):
  if name in LOCATION_COMPONENTS:
    return f"a pair of integers (x, y), each in [0, {config.grid_size - 1}]"
  return f"an integer in [0, {_num_values(config, name) - 1}]"


@functools.lru_cache(maxsize=64)
def _bounds(config):
  """(name, is_location, highest valid value) for each component, in order."""
  return tuple((name, name in LOCATION_COMPONENTS,
                config.grid_size - 1 if name in LOCATION_COMPONENTS else _num_values(config, name) - 1)
               for name in config.components)


def _as_int(value):
  """The integer in a Python or numpy integer scalar (or 0-d array), else None."""
  if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
    return int(value)
  if isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "iu":
    return int(value)
  return None


def _as_location(value):
  """The (x, y) ints in a length-2 integer array, list or tuple, else None."""
  if isinstance(value, np.ndarray):
    if value.shape == (2,) and value.dtype.kind in "iu":
      return tuple(value.tolist())
    return None
  if isinstance(value, (list, tuple)) and len(value) == 2:
    x, y = (_as_int(v) for v in value)
    return None if x is None or y is None else (x, y)
  return None


def validate_action(action, config):
  """Checks an action against the spec; returns it as a dict of Python ints and (x, y) tuples.

  Raises:
    ValueError: naming the offending component and its valid range.
  """
  if not isinstance(action, Mapping):
    raise ValueError(f"An action must be a dict with keys {list(config.components)}, "
                     f"got {type(action).__name__}.")
  bounds = _bounds(config)
  if len(action) != len(bounds) or any(name not in action for name, _, _ in bounds):
    missing = [name for name, _, _ in bounds if name not in action]
    if missing:
      raise ValueError(f"Action is missing component(s) {missing}; each must be "
                       + "; ".join(f"{n}: {_valid_range(config, n)}" for n in missing) + ".")
    unknown = sorted(set(action) - set(config.components))
    extra = (" (colour components need grayscale=False)"
             if set(unknown) & set(COLOUR_COMPONENTS) else "")
    raise ValueError(f"Action has unknown component(s) {unknown}{extra}; expected "
                     f"{list(config.components)}.")
  out = {}
  for name, is_location, high in bounds:
    raw = action[name]
    value = _as_location(raw) if is_location else _as_int(raw)
    if value is None:
      got = np.asarray(raw)
      raise ValueError(f"Action component {name!r} must be {_valid_range(config, name)}; "
                       f"got {raw!r} (dtype {got.dtype}, shape {got.shape}).")
    if (min(value) < 0 or max(value) > high) if is_location else (value < 0 or value > high):
      raise ValueError(f"Action component {name!r} is out of range: {raw!r}; it must be "
                       f"{_valid_range(config, name)}.")
    out[name] = value
  return out


def stroke_dtime(config):
  """Seconds between stroke events: proportional to the canvas size, so that brush dynamics which
  depend on speed in pixels per second (libmypaint's speed inputs) look the same at any size."""
  return STROKE_DTIME * config.canvas_size / REFERENCE_CANVAS


def grid_to_pixel(location, config):
  """Grid (x, y) -> canvas pixel coordinates (x, y): cell c maps to W*c/G."""
  scale = config.canvas_size / config.grid_size
  return (location[0] * scale, location[1] * scale)


@functools.lru_cache(maxsize=64)
def action_masks(config):
  """The three possible action masks: (after a reset, after a move, after a paint)."""
  none = {name: np.float32(0.0) for name in config.components}
  paint = {name: np.float32(1.0) for name in config.components}
  move = {name: np.float32(1.0 if name in ("flag", "end") else 0.0) for name in config.components}
  return none, move, paint


def action_mask(action, config):
  """Which components of a validated action mattered (a move uses only flag and end)."""
  none, move, paint = action_masks(config)
  if action is None:
    return dict(none)
  return dict(paint if action["flag"] == PAINT else move)


def stroke_colour(action, config):
  """The ink colour of a validated action as RGB in [0, 1]; grey canvases paint black."""
  if config.grayscale:
    return (0.0, 0.0, 0.0)
  levels = colour_levels(config)
  return tuple(float(levels[action[c]]) for c in COLOUR_COMPONENTS)


def stroke_hsv(action, config):
  return colorsys.rgb_to_hsv(*stroke_colour(action, config))


def _bezier_weights(num_points):
  t = np.linspace(0.0, 1.0, num_points)
  return np.stack([(1 - t) ** 2, 2 * (1 - t) * t, t ** 2], axis=1)


# A stroke's STROKE_POINTS samples: Bezier weights of (start, control, end), and the 0..1 ramp
# along which pressure moves from the previous stroke's to this one's.
STROKE_WEIGHTS = _bezier_weights(STROKE_POINTS)
STROKE_RAMP = np.linspace(0.0, 1.0, STROKE_POINTS)


def bezier(start, control, end, num_points=STROKE_POINTS):
  """Samples the quadratic Bezier from `start` through `control` to `end`: (num_points, 2)."""
  weights = STROKE_WEIGHTS if num_points == STROKE_POINTS else _bezier_weights(num_points)
  return weights @ np.array((start, control, end), np.float64)


def stroke_events(location, action, previous_pressure, config):
  """The stroke events of a validated paint action that starts at grid `location`.

  Args:
    location: the brush's grid location (x, y) before the stroke.
    action: a validated action with flag PAINT.
    previous_pressure: the previous paint stroke's pressure, or None after a reset or a move.
    config: the PaintConfig.

  Returns:
    (events, pressure): a list of STROKE_POINTS - 1 tuples (x, y, pressure) in canvas pixels,
    and this stroke's pressure (the next stroke's `previous_pressure`).
  """
  points = bezier(grid_to_pixel(location, config), grid_to_pixel(action["control"], config),
                  grid_to_pixel(action["end"], config))[1:].tolist()
  pressure = float(pressure_levels(config)[action["pressure"]])
  if previous_pressure is None or previous_pressure == pressure:
    pressures = [pressure] * len(points)
  else:
    pressures = (previous_pressure + (pressure - previous_pressure) * STROKE_RAMP[1:]).tolist()
  return [(x, y, p) for (x, y), p in zip(points, pressures)], pressure
