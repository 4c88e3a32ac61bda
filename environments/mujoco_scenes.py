"""MuJoCo Scenes (paper sections 4.2, 4.6): the agent builds a 3-D scene object by object.

A square platform seen by a fixed camera. Each step the agent picks a mode and an object:

  mode      0 add the object, 1 skip (nothing changes), 2 change the most recently added object
            (a change before any object is added changes nothing).
  shape     0 sphere, 1 box, 2 cylinder, 3 capsule.
  location  (x, y) on a grid_size x grid_size grid over the platform; x runs left to right and y
            from the far edge to the near edge, as they appear in the picture.
  size      one of `sizes` (the object's radius, in platform half-widths).
  red, green, blue   colour_bins levels each, from 0 to 1.

Every episode has exactly `episode_length` steps, so at most that many objects; the agent must
learn how many to place. `MujocoScenes()` is the paper's set-up (64x64, 16x16 grid, 3 sizes,
4 colour bins, 20 steps).

Observations are a dict, like the painting environments':
  canvas         float32 (W, W, 3) in [0, 1], the render after the step.
  episode_step   int32, actions taken so far in this episode.
  num_objects    int32, objects in the scene.
  action_mask    per component, 1.0 where the previous action used it (a skip uses only `mode`).
Rewards are always 0: SPIRAL's reward comes from a discriminator, not from the renderer.

Rendering is offscreen. `MUJOCO_GL` picks the OpenGL backend; when it is unset, this module sets
it before MuJoCo is imported: "egl" on a machine with an NVIDIA GPU, else "osmesa" (software,
Debian package libosmesa6). Anti-aliasing (multisampling) is off unless `antialias=True`: it makes
64x64 renders several times slower.

Programs are recorded (`env.program`) and can be rendered again at any size with
`render_program`, as the painting programs can.
"""

import atexit
import dataclasses
import json
import os
import sys
from typing import Tuple
import weakref


def _default_gl_backend():
  if os.path.exists("/dev/nvidia0") or os.path.exists("/dev/dri/renderD128"):
    return "egl"
  return "osmesa"


_IMPORTED_TOO_LATE = "mujoco" in sys.modules and not os.environ.get("MUJOCO_GL")
if not os.environ.get("MUJOCO_GL"):
  os.environ["MUJOCO_GL"] = _default_gl_backend()
if os.environ["MUJOCO_GL"] == "osmesa":
  os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")
  # One rasteriser thread per context: a 64x64 render is too small to split, and threaded actors
  # each render on their own core.
  os.environ.setdefault("LP_NUM_THREADS", "1")
elif os.environ["MUJOCO_GL"] == "egl":
  os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

import dm_env  # pylint: disable=g-import-not-at-top,wrong-import-position
from dm_env import specs  # pylint: disable=g-import-not-at-top,wrong-import-position
import mujoco  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position

ADD, SKIP, CHANGE = 0, 1, 2
MODES = ("add", "skip", "change")
SHAPES = ("sphere", "box", "cylinder", "capsule")
_GEOM_TYPES = (mujoco.mjtGeom.mjGEOM_SPHERE, mujoco.mjtGeom.mjGEOM_BOX,
               mujoco.mjtGeom.mjGEOM_CYLINDER, mujoco.mjtGeom.mjGEOM_CAPSULE)
COMPONENTS = ("mode", "shape", "location", "size", "red", "green", "blue")
COLOUR_COMPONENTS = ("red", "green", "blue")
_HIDDEN_GROUP = 5  # geom group of unused object slots; not drawn
PLATFORM_COLOUR = (0.75, 0.75, 0.75)


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


# Rendering.

def _scene_xml(config, max_objects):
  samples = 4 if config.antialias else 0
  slots = "\n".join(
      f'<geom name="object{i}" type="sphere" size="0.1" pos="0 0 -5" group="{_HIDDEN_GROUP}" '
      f'contype="0" conaffinity="0"/>' for i in range(max_objects))
  w = config.canvas_size
  grey = " ".join(str(c) for c in PLATFORM_COLOUR)
  return f"""
<mujoco model="mujoco_scenes">
  <visual>
    <global offwidth="{w}" offheight="{w}" fovy="40"/>
    <quality offsamples="{samples}" shadowsize="0" numslices="12" numstacks="8"/>
    <headlight ambient="0.35 0.35 0.35" diffuse="0.45 0.45 0.45" specular="0 0 0"/>
    <rgba haze="0 0 0 1"/>
  </visual>
  <worldbody>
    <light directional="true" pos="0 0 4" dir="0.3 0.4 -1" diffuse="0.5 0.5 0.5"
           specular="0.1 0.1 0.1" castshadow="false"/>
    <geom name="platform" type="box" size="1 1 0.05" pos="0 0 -0.05" rgba="{grey} 1"
          contype="0" conaffinity="0"/>
    {slots}
    <camera name="camera" pos="0 -3.4 3.4" xyaxes="1 0 0 0 0.7071 0.7071" fovy="36"/>
  </worldbody>
</mujoco>"""


class BackendError(RuntimeError):
  """No OpenGL backend for offscreen rendering."""


def _backend_help():
  backend = os.environ.get("MUJOCO_GL", "")
  if _IMPORTED_TOO_LATE:
    return ("mujoco was imported before MUJOCO_GL was set, so it chose its default (GLFW, which "
            "needs a display). Set MUJOCO_GL=osmesa (CPU; Debian package libosmesa6) or "
            "MUJOCO_GL=egl (GPU) in the environment, or import environments.mujoco_scenes "
            "before mujoco.")
  if backend == "osmesa":
    return ("MUJOCO_GL=osmesa needs the OSMesa library: install the Debian package libosmesa6 "
            "(apt-get install libosmesa6), or on a GPU machine set MUJOCO_GL=egl.")
  if backend == "egl":
    return ("MUJOCO_GL=egl needs an EGL driver (an NVIDIA driver or the Debian package libegl1 "
            "with a GPU); on a machine without a GPU set MUJOCO_GL=osmesa and install "
            "libosmesa6.")
  return (f"MUJOCO_GL={backend!r} cannot render offscreen here: set MUJOCO_GL=osmesa (install "
          "libosmesa6) on a CPU machine or MUJOCO_GL=egl on a GPU machine.")


_OPEN_RENDERERS = weakref.WeakSet()


@atexit.register
def _close_open_renderers():
  # OpenGL contexts must be freed before the interpreter tears PyOpenGL down.
  for renderer in list(_OPEN_RENDERERS):
    renderer.close()


class SceneRenderer:
  """Renders lists of SceneObjects with MuJoCo, offscreen, at one size.

  One renderer owns one OpenGL context; use it from one thread at a time (each environment has
  its own renderer, so threaded actors each render with their own).
  """

  def __init__(self, config, max_objects=None):
    self._config = config
    self.max_objects = int(max_objects or config.episode_length)
    self._model = mujoco.MjModel.from_xml_string(_scene_xml(config, self.max_objects))
    self._data = mujoco.MjData(self._model)
    mujoco.mj_forward(self._model, self._data)  # places the camera and light once
    self._slots = np.array([self._model.geom(f"object{i}").id for i in range(self.max_objects)])
    try:
      self._renderer = mujoco.Renderer(self._model, config.canvas_size, config.canvas_size)
    except Exception as e:  # the backend's own errors are varied: ImportError, RuntimeError...
      raise BackendError(f"MuJoCo could not open an offscreen OpenGL context ({e}). "
                         + _backend_help()) from e
    _OPEN_RENDERERS.add(self)
    self._option = mujoco.MjvOption()
    self._option.geomgroup[_HIDDEN_GROUP] = 0
    self._camera = self._model.camera("camera").id
    self._levels = colour_levels(config)

  def _place(self, objects):
    model, config = self._model, self._config
    if len(objects) > self.max_objects:
      raise ValueError(f"A scene of {len(objects)} objects: this renderer holds at most "
                       f"{self.max_objects}.")
    for i, gid in enumerate(self._slots):
      if i >= len(objects):
        model.geom_group[gid] = _HIDDEN_GROUP
        continue
      obj = objects[i]
      radius = config.sizes[obj.size]
      size, height = geom_extent(obj.shape, radius)
      x, y = grid_to_platform(obj.location, config)
      model.geom_type[gid] = _GEOM_TYPES[obj.shape]
      model.geom_size[gid] = size
      model.geom_rbound[gid] = 2 * radius
      model.geom_pos[gid] = (x, y, height)
      model.geom_rgba[gid, :3] = self._levels[list(obj.colour)]
      model.geom_rgba[gid, 3] = 1.0
      model.geom_group[gid] = 0
    mujoco.mj_kinematics(model, self._data)

  def project(self, point):
    """(column, row) in the image of a point (x, y, z) in platform coordinates."""
    cam = self._camera
    rel = self._data.cam_xmat[cam].reshape(3, 3).T @ (np.asarray(point, float)
                                                      - self._data.cam_xpos[cam])
    w = self._config.canvas_size
    focal = 0.5 * w / np.tan(np.radians(self._model.cam_fovy[cam]) / 2)
    return 0.5 * w + focal * rel[0] / -rel[2], 0.5 * w - focal * rel[1] / -rel[2]

  def render(self, objects, out=None):
    """float32 (W, W, 3) in [0, 1] of a list of SceneObjects (into `out` if given)."""
    self._place(objects)
    self._renderer.update_scene(self._data, camera=self._camera, scene_option=self._option)
    pixels = self._renderer.render()
    if out is None:
      out = np.empty(pixels.shape, np.float32)
    np.multiply(pixels, np.float32(1.0 / 255.0), out=out, casting="unsafe")
    return out

  def close(self):
    if getattr(self, "_renderer", None) is not None:
      self._renderer.close()
      self._renderer = None

  def __del__(self):
    try:
      self.close()
    except Exception:  # pylint: disable=broad-except
      pass  # interpreter shutdown


# The environment.

class Program:
  """A recorded scene program: the config and its validated actions; JSON round-trips."""

  def __init__(self, config, actions):
    self.config = config
    self.actions = [dict(a, location=tuple(a["location"])) for a in actions]

  @property
  def objects(self):
    return scene_objects(self.actions)

  def to_json(self):
    return json.dumps({"environment": "mujoco_scenes", "config": self.config.to_dict(),
                       "actions": [dict(a, location=list(a["location"])) for a in self.actions]})

  @classmethod
  def from_json(cls, text):
    try:
      d = json.loads(text)
      config = SceneConfig.from_dict(d["config"])
      actions = [validate_action(a, config) for a in d["actions"]]
    except (ValueError, KeyError, TypeError) as e:
      raise ValueError(f"Not a MuJoCo Scenes program: {e}") from e
    return cls(config, actions)


class MujocoScenes(dm_env.Environment):
  """The MuJoCo Scenes environment; `MujocoScenes()` is the paper's set-up."""

  def __init__(self, canvas_size=64, grid_size=16, sizes=SceneConfig.sizes, colour_bins=4,
               episode_length=20, antialias=False):
    self._config = SceneConfig(canvas_size=canvas_size, grid_size=grid_size, sizes=sizes,
                               colour_bins=colour_bins, episode_length=episode_length,
                               antialias=antialias)
    self._renderer = SceneRenderer(self._config)
    self._actions = []
    self._objects = []
    self._needs_reset = True
    self._canvas = None

  @classmethod
  def from_config(cls, config):
    return cls(**dataclasses.asdict(config))

  @property
  def config(self):
    return self._config

  @property
  def program(self):
    return Program(self._config, list(self._actions))

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

  def action_spec(self):
    return action_spec(self._config)

  def observation_spec(self):
    return observation_spec(self._config)

  def reward_spec(self):
    return specs.Array((), np.float32, name="reward")

  def discount_spec(self):
    return specs.BoundedArray((), np.float32, 0.0, 1.0, name="discount")

  def close(self):
    self._renderer.close()


def render_program(program, canvas_size=None):
  """Renders a recorded Program afresh, optionally at another size: float32 (W, W, 3)."""
  config = program.config if canvas_size is None else program.config.scaled(canvas_size)
  objects = program.objects
  renderer = SceneRenderer(config, max_objects=max(1, len(objects)))
  try:
    return renderer.render(objects)
  finally:
    renderer.close()
