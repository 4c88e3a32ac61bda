"""MuJoCo rendering of scenes: the OpenGL backend, the scene model and `SceneRenderer`.

Rendering is offscreen. `MUJOCO_GL` picks the OpenGL backend; when it is unset, this module sets
it before MuJoCo is imported: "egl" on a machine with an NVIDIA GPU, else "osmesa" (software,
Debian package libosmesa6). Anti-aliasing (multisampling) is off unless the scene config's
`antialias` is set: it makes 64x64 renders several times slower.
"""

import atexit
import os
import sys
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

import mujoco  # pylint: disable=g-import-not-at-top,wrong-import-position
import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position

from environments import scene_actions  # pylint: disable=g-import-not-at-top,wrong-import-position

_GEOM_TYPES = (mujoco.mjtGeom.mjGEOM_SPHERE, mujoco.mjtGeom.mjGEOM_BOX,
               mujoco.mjtGeom.mjGEOM_CYLINDER, mujoco.mjtGeom.mjGEOM_CAPSULE)
_HIDDEN_GROUP = 5  # geom group of unused object slots; not drawn
PLATFORM_COLOUR = (0.75, 0.75, 0.75)


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
    self._levels = scene_actions.colour_levels(config)

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
      size, height = scene_actions.geom_extent(obj.shape, radius)
      x, y = scene_actions.grid_to_platform(obj.location, config)
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

  def grid_homography(self, height=None):
    """The homography (3x3, normalised so its last entry is 1) that takes a grid cell's
    (x + 0.5, y + 0.5, 1) to the image's (column, row, 1), up to scale, for points `height` above
    the platform (default: the middle size's radius, about an object's centre). A policy's glimpse
    reads the image where a chosen cell lies (`PolicyConfig.location_glimpse_homography`)."""
    config = self._config
    if height is None:
      height = config.sizes[len(config.sizes) // 2]
    rows = []
    for x in range(config.grid_size):
      for y in range(config.grid_size):
        u, v = self.project(scene_actions.grid_to_platform((x, y), config) + (height,))
        gx, gy = x + 0.5, y + 0.5
        rows.append([gx, gy, 1, 0, 0, 0, -u * gx, -u * gy, -u])
        rows.append([0, 0, 0, gx, gy, 1, -v * gx, -v * gy, -v])
    matrix = np.linalg.svd(np.asarray(rows))[2][-1].reshape(3, 3)
    return matrix / matrix[2, 2]

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


def render_program(program, canvas_size=None):
  """Renders a recorded Program afresh, optionally at another size: float32 (W, W, 3)."""
  config = program.config if canvas_size is None else program.config.scaled(canvas_size)
  objects = program.objects
  renderer = SceneRenderer(config, max_objects=max(1, len(objects)))
  try:
    return renderer.render(objects)
  finally:
    renderer.close()
