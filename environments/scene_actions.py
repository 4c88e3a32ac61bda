"""The MuJoCo Scenes action space (paper sections 4.2, 4.6): config, specs, validation and the
objects a program builds. No rendering here (see `environments.mujoco_render`), so it imports
without MuJoCo.

Each step the agent picks a mode and an object:

  mode      0 add the object, 1 skip (nothing changes), 2 change the most recently added object
            (a change before any object is added changes nothing).
  shape     0 sphere, 1 box, 2 cylinder, 3 capsule.
  location  (x, y) on a grid_size x grid_size grid over the platform; x runs left to right and y
            from the far edge to the near edge, as they appear in the picture.
  size      one of `sizes` (the object's radius, in platform half-widths).
  red, green, blue   colour_bins levels each, from 0 to 1.

Observations are a dict, like the painting environments':
  canvas         float32 (W, W, 3) in [0, 1], the render after the step.
  episode_step   int32, actions taken so far in this episode.
  num_objects    int32, objects in the scene.
  action_mask    per component, 1.0 where the previous action used it (a skip uses only `mode`).
"""

import dataclasses
from typing import Tuple

from dm_env import specs
import numpy as np

ADD, SKIP, CHANGE = 0, 1, 2
MODES = ("add", "skip", "change")
SHAPES = ("sphere", "box", "cylinder", "capsule")
COMPONENTS = ("mode", "shape", "location", "size", "red", "green", "blue")
COLOUR_COMPONENTS = ("red", "green", "blue")


@dataclasses.dataclass(frozen=True)
class SceneConfig:
  """The scene environment's set-up; the defaults are the paper's.

  Attributes:
    canvas_size: rendered image width and height in pixels.
    grid_size: locations per side of the platform.
    sizes: object radii, in platform half-widths (the platform spans [-1, 1] x [-1, 1]).
    colour_bins: levels per colour component, evenly from 0 to 1.
    episode_length: steps per episode (and so the most objects a scene can hold).
    antialias: render with 4x multisampling (slower; off in the paper set-up).
  """
  canvas_size: int = 64
  grid_size: int = 16
  sizes: Tuple[float, ...] = (0.12, 0.18, 0.25)
  colour_bins: int = 4
  episode_length: int = 20
  antialias: bool = False

  def __post_init__(self):
    object.__setattr__(self, "sizes", tuple(float(s) for s in self.sizes))
    for name in ("canvas_size", "grid_size", "colour_bins", "episode_length"):
      if int(getattr(self, name)) < 1:
        raise ValueError(f"SceneConfig.{name} must be a positive integer, got "
                         f"{getattr(self, name)!r}.")
    if self.colour_bins < 2:
      raise ValueError(f"SceneConfig.colour_bins must be at least 2, got {self.colour_bins}.")
    if not self.sizes or min(self.sizes) <= 0 or max(self.sizes) >= 1:
      raise ValueError(f"SceneConfig.sizes must be radii in (0, 1) platform half-widths, got "
                       f"{self.sizes!r}.")

  def to_dict(self):
    return dict(dataclasses.asdict(self), sizes=list(self.sizes))

  @classmethod
  def from_dict(cls, d):
    return cls(**dict(d, sizes=tuple(d.get("sizes", cls.sizes))))

  def scaled(self, canvas_size):
    """The same scene rendered at another size."""
    return dataclasses.replace(self, canvas_size=int(canvas_size))



# Specs and actions.

def num_values(config):
  return {"mode": len(MODES), "shape": len(SHAPES), "size": len(config.sizes),
          "red": config.colour_bins, "green": config.colour_bins, "blue": config.colour_bins}


def action_spec(config):
  spec = {}
  values = num_values(config)
  for name in COMPONENTS:
    if name == "location":
      spec[name] = specs.BoundedArray((2,), np.int32, 0, config.grid_size - 1, name=name)
    else:
      spec[name] = specs.DiscreteArray(values[name], np.int32, name=name)
  return spec


def observation_spec(config):
  w = config.canvas_size
  return {
      "canvas": specs.BoundedArray((w, w, 3), np.float32, 0.0, 1.0, name="canvas"),
      "episode_step": specs.Array((), np.int32, name="episode_step"),
      "num_objects": specs.Array((), np.int32, name="num_objects"),
      "action_mask": {name: specs.BoundedArray((), np.float32, 0.0, 1.0, name=name)
                      for name in COMPONENTS},
  }


def validate_action(action, config):
  """A dict of Python ints (location a tuple); ValueError naming the component otherwise."""
  if not hasattr(action, "keys"):
    raise ValueError(f"A MuJoCo Scenes action is a dict with components {COMPONENTS}; got "
                     f"{type(action).__name__}.")
  missing = [name for name in COMPONENTS if name not in action]
  extra = [name for name in action if name not in COMPONENTS]
  if missing or extra:
    raise ValueError(f"Action components must be exactly {COMPONENTS}: missing {missing}, "
                     f"unexpected {extra}.")
  out = {}
  values = num_values(config)
  for name in COMPONENTS:
    value = np.asarray(action[name])
    if value.dtype.kind not in "iu" and not (value.dtype.kind == "f" and
                                             np.all(value == np.round(value))):
      raise ValueError(f"Action component {name!r} must be an integer, got {action[name]!r}.")
    if name == "location":
      if value.shape != (2,):
        raise ValueError(f"Action component 'location' must be an (x, y) pair, got "
                         f"{action[name]!r}.")
      if np.any(value < 0) or np.any(value >= config.grid_size):
        raise ValueError(f"Action component 'location' {value.tolist()} is off the "
                         f"{config.grid_size}x{config.grid_size} grid: x and y must be in "
                         f"[0, {config.grid_size - 1}].")
      out[name] = (int(value[0]), int(value[1]))
    else:
      if value.shape != ():
        raise ValueError(f"Action component {name!r} must be a scalar, got {action[name]!r}.")
      if not 0 <= value < values[name]:
        raise ValueError(f"Action component {name!r} must be in [0, {values[name] - 1}], got "
                         f"{int(value)}.")
      out[name] = int(value)
  return out


def action_mask(action):
  """Which components of a validated action mattered (a skip uses only `mode`)."""
  if action is None:
    return {name: np.float32(0.0) for name in COMPONENTS}
  used = action["mode"] != SKIP
  return {name: np.float32(1.0 if used or name == "mode" else 0.0) for name in COMPONENTS}


def colour_levels(config):
  return np.linspace(0.0, 1.0, config.colour_bins)


def grid_to_platform(location, config):
  """(x, y) grid cell -> the cell centre on the platform, in [-1, 1]; grid y grows toward the
  camera, which looks along +y from the near (-y) side."""
  x, y = location
  g = config.grid_size
  return -1.0 + (2 * x + 1) / g, 1.0 - (2 * y + 1) / g


@dataclasses.dataclass(frozen=True)
class SceneObject:
  """One object of a scene, in its action's discrete terms."""
  shape: int
  location: Tuple[int, int]
  size: int
  colour: Tuple[int, int, int]

  @classmethod
  def from_action(cls, action):
    return cls(action["shape"], tuple(action["location"]), action["size"],
               tuple(action[c] for c in COLOUR_COMPONENTS))

  def to_action(self, mode=ADD):
    return {"mode": mode, "shape": self.shape, "location": tuple(self.location),
            "size": self.size, **dict(zip(COLOUR_COMPONENTS, self.colour))}


def scene_objects(actions):
  """The objects a list of validated actions builds, in order of addition."""
  objects = []
  for action in actions:
    if action["mode"] == ADD:
      objects.append(SceneObject.from_action(action))
    elif action["mode"] == CHANGE and objects:
      objects[-1] = SceneObject.from_action(action)
  return objects


def geom_extent(shape, radius):
  """(MuJoCo geom size, height of its centre above the platform) of an object of radius r."""
  if shape == 0:  # sphere
    return (radius, 0.0, 0.0), radius
  if shape == 1:  # box: a cube whose half-width is 0.8 r
    h = 0.8 * radius
    return (h, h, h), h
  if shape == 2:  # cylinder, standing, as tall as it is wide
    return (radius, radius, 0.0), radius
  # capsule, standing: radius 0.7 r, total height 2.8 r
  return (0.7 * radius, 0.7 * radius, 0.0), 1.4 * radius
