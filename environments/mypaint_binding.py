"""A thin ctypes binding to the system libmypaint (1.5/1.6 ABI).

Only what the painting environment needs: brushes loaded from MyPaint brush files, a fixed-size
tiled surface whose pixels are exposed as one zero-copy numpy view, and stroke events.

The fixed tiled surface keeps its 64x64-pixel tiles in one linear buffer, tile (tx, ty) at index
``ty * tiles_wide + tx``, each tile row-major RGBA ``uint16`` in fix15 (1.0 == 1 << 15),
premultiplied by alpha. libmypaint fills a new surface with 0xFFFF, so :meth:`Surface.clear`
must run before the first use.

ctypes releases the GIL around every call, so surfaces and brushes owned by different threads
paint in parallel. libmypaint processes dabs with OpenMP; ``OMP_NUM_THREADS`` defaults to 1 here
(set before the library is loaded) because small canvases only lose time to thread start-up.
"""

import ctypes
import ctypes.util
import functools
import glob
import json
import os

import numpy as np

TILE_SIZE = 64
FIX15_ONE = 1 << 15

# Environment variables a user may set to point at non-standard installs.
LIBRARY_ENV_VAR = "SPIRAL_LIBMYPAINT"
BRUSH_DIR_ENV_VAR = "SPIRAL_MYPAINT_BRUSHES"

_INSTALL_HINT = (
    "On Debian/Ubuntu install it with `sudo apt-get install libmypaint-1.5-1 mypaint-brushes` "
    "(or run scripts/bootstrap.sh)")


class MissingLibMyPaintError(RuntimeError):
  """libmypaint (the shared library) or its brushes cannot be found."""


class _TileRequest(ctypes.Structure):
  _fields_ = [
      ("tx", ctypes.c_int),
      ("ty", ctypes.c_int),
      ("readonly", ctypes.c_int),
      ("buffer", ctypes.POINTER(ctypes.c_uint16)),
      ("context", ctypes.c_void_p),
      ("thread_id", ctypes.c_int),
      ("mipmap_level", ctypes.c_int),
  ]


class _Rectangle(ctypes.Structure):
  _fields_ = [("x", ctypes.c_int), ("y", ctypes.c_int),
              ("width", ctypes.c_int), ("height", ctypes.c_int)]


def _library_candidates():
  explicit = os.environ.get(LIBRARY_ENV_VAR)
  if explicit:
    return [explicit]
  names = []
  for name in ("mypaint", "mypaint-1.5", "mypaint-1.6"):
    found = ctypes.util.find_library(name)
    if found:
      names.append(found)
  names += ["libmypaint-1.5.so.1", "libmypaint.so.0", "libmypaint.so"]
  return names


_SIGNATURES = {
    "mypaint_brush_new": (ctypes.c_void_p, []),
    "mypaint_brush_unref": (None, [ctypes.c_void_p]),
    "mypaint_brush_from_string": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p]),
    "mypaint_brush_reset": (None, [ctypes.c_void_p]),
    "mypaint_brush_new_stroke": (None, [ctypes.c_void_p]),
    "mypaint_brush_set_base_value": (None, [ctypes.c_void_p, ctypes.c_int, ctypes.c_float]),
    "mypaint_brush_get_base_value": (ctypes.c_float, [ctypes.c_void_p, ctypes.c_int]),
    "mypaint_brush_setting_from_cname": (ctypes.c_int, [ctypes.c_char_p]),
    "mypaint_brush_stroke_to": (ctypes.c_int, [
        ctypes.c_void_p, ctypes.c_void_p, ctypes.c_float, ctypes.c_float, ctypes.c_float,
        ctypes.c_float, ctypes.c_float, ctypes.c_double]),
    "mypaint_fixed_tiled_surface_new": (ctypes.c_void_p, [ctypes.c_int, ctypes.c_int]),
    "mypaint_fixed_tiled_surface_interface": (ctypes.c_void_p, [ctypes.c_void_p]),
    "mypaint_surface_unref": (None, [ctypes.c_void_p]),
    "mypaint_surface_begin_atomic": (None, [ctypes.c_void_p]),
    "mypaint_surface_end_atomic": (None, [ctypes.c_void_p, ctypes.POINTER(_Rectangle)]),
    "mypaint_tiled_surface_tile_request_start": (None, [ctypes.c_void_p, ctypes.POINTER(_TileRequest)]),
    "mypaint_tiled_surface_tile_request_end": (None, [ctypes.c_void_p, ctypes.POINTER(_TileRequest)]),
}


@functools.lru_cache(maxsize=None)
def load_library():
  """Loads libmypaint once per process; raises MissingLibMyPaintError with the fix if absent."""
  os.environ.setdefault("OMP_NUM_THREADS", "1")
  errors = []
  for name in _library_candidates():
    try:
      lib = ctypes.CDLL(name)
      break
    except OSError as e:
      errors.append(f"{name}: {e}")
  else:
    raise MissingLibMyPaintError(
        "libmypaint was not found (tried " + "; ".join(errors) + "). " + _INSTALL_HINT +
        f", or set {LIBRARY_ENV_VAR} to the path of libmypaint-1.5.so.1.")
  for fname, (restype, argtypes) in _SIGNATURES.items():
    try:
      fn = getattr(lib, fname)
    except AttributeError as e:
      raise MissingLibMyPaintError(
          f"{lib._name} lacks {fname}: libmypaint 1.5 or 1.6 is required. {_INSTALL_HINT}.") from e
    fn.restype = restype
    fn.argtypes = argtypes
  return lib


def brush_directories():
  """Directories searched for MyPaint brush files, in order."""
  dirs = []
  explicit = os.environ.get(BRUSH_DIR_ENV_VAR)
  if explicit:
    dirs.append(explicit)
  for prefix in ("/usr/share", "/usr/local/share", "/opt/homebrew/share"):
    dirs += sorted(glob.glob(os.path.join(prefix, "mypaint-data", "*", "brushes")))
  return dirs


def find_brush_file(brush):
  """Resolves a brush name such as 'classic/pen' (or a path to a .myb file) to a file path."""
  if brush.endswith(".myb") and os.path.isfile(brush):
    return brush
  searched = brush_directories()
  for directory in searched:
    path = os.path.join(directory, brush + ".myb")
    if os.path.isfile(path):
      return path
  raise MissingLibMyPaintError(
      f"MyPaint brush {brush!r} was not found in {searched or 'any brush directory'}. "
      "Brush names look like 'classic/pen'. Install the brush set with "
      "`sudo apt-get install mypaint-brushes`, set "
      f"{BRUSH_DIR_ENV_VAR} to a directory of .myb files, or pass a path to a .myb file.")


@functools.lru_cache(maxsize=None)
def read_brush_file(brush):
  path = find_brush_file(brush)
  with open(path, "rb") as f:
    data = f.read()
  try:
    json.loads(data)
  except ValueError as e:
    raise ValueError(f"Brush file {path} is not valid MyPaint brush JSON: {e}") from e
  return data


class Brush:
  """A libmypaint brush loaded from a brush file; its random generator starts fresh on creation."""

  def __init__(self, brush):
    self._lib = load_library()
    self.name = brush
    self._ptr = self._lib.mypaint_brush_new()
    if not self._lib.mypaint_brush_from_string(self._ptr, read_brush_file(brush)):
      self._lib.mypaint_brush_unref(self._ptr)
      self._ptr = None
      raise ValueError(f"libmypaint could not parse brush {brush!r} ({find_brush_file(brush)}).")

  @staticmethod
  @functools.lru_cache(maxsize=None)
  def _setting_id(name):
    setting = load_library().mypaint_brush_setting_from_cname(name.encode())
    if setting < 0:
      raise KeyError(f"Unknown libmypaint brush setting {name!r}.")
    return setting

  def set_base_value(self, name, value):
    self._lib.mypaint_brush_set_base_value(self._ptr, self._setting_id(name), value)

  def get_base_value(self, name):
    return self._lib.mypaint_brush_get_base_value(self._ptr, self._setting_id(name))

  def reset(self):
    """Forgets the brush position: the next stroke_to only places the brush."""
    self._lib.mypaint_brush_reset(self._ptr)
    self._lib.mypaint_brush_new_stroke(self._ptr)

  def __del__(self):
    if getattr(self, "_ptr", None):
      self._lib.mypaint_brush_unref(self._ptr)
      self._ptr = None


class Surface:
  """A fixed-size libmypaint surface with its pixels as a numpy view."""

  def __init__(self, width, height):
    self._lib = lib = load_library()
    self.width, self.height = int(width), int(height)
    self._fixed = lib.mypaint_fixed_tiled_surface_new(self.width, self.height)
    if not self._fixed:
      raise MemoryError(f"libmypaint could not allocate a {width}x{height} surface.")
    self._ptr = lib.mypaint_fixed_tiled_surface_interface(self._fixed)
    self._rect = _Rectangle()
    self._tiles_y = -(-self.height // TILE_SIZE)
    self._tiles_x = -(-self.width // TILE_SIZE)
    request = _TileRequest(0, 0, 0, None, None, -1, 0)
    lib.mypaint_tiled_surface_tile_request_start(self._ptr, ctypes.byref(request))
    lib.mypaint_tiled_surface_tile_request_end(self._ptr, ctypes.byref(request))
    count = self._tiles_y * self._tiles_x * TILE_SIZE * TILE_SIZE * 4
    flat = np.ctypeslib.as_array(request.buffer, shape=(count,))
    # (tiles_y, tiles_x, 64, 64, 4) -> (rows, cols, 4), a view while there is one tile column.
    self._tiles = flat.reshape(self._tiles_y, self._tiles_x, TILE_SIZE, TILE_SIZE, 4)
    self.clear()

  def clear(self):
    """Paints the whole surface opaque white."""
    self._tiles[...] = FIX15_ONE

  def begin_atomic(self):
    self._lib.mypaint_surface_begin_atomic(self._ptr)

  def end_atomic(self):
    self._lib.mypaint_surface_end_atomic(self._ptr, ctypes.byref(self._rect))

  def pixels(self, channels=3):
    """Returns a new float32 array (height, width, channels) in [0, 1] of the first channels
    (3: RGB; 1: red alone, which is the grey level of grey ink on white paper)."""
    out = np.empty((self.height, self.width, channels), np.float32)
    for ty in range(self._tiles_y):
      rows = slice(ty * TILE_SIZE, min((ty + 1) * TILE_SIZE, self.height))
      for tx in range(self._tiles_x):
        cols = slice(tx * TILE_SIZE, min((tx + 1) * TILE_SIZE, self.width))
        out[rows, cols] = self._tiles[ty, tx, :rows.stop - rows.start, :cols.stop - cols.start,
                                      :channels]
    out *= np.float32(1.0 / FIX15_ONE)  # converting first, then scaling in place, is fastest
    return out

  def stroke_function(self, brush):
    """Returns f(x, y, pressure, dtime) sending one stroke event of `brush` to this surface."""
    stroke_to = self._lib.mypaint_brush_stroke_to
    brush_ptr, surface_ptr = brush._ptr, self._ptr  # pylint: disable=protected-access
    return lambda x, y, pressure, dtime: stroke_to(brush_ptr, surface_ptr, x, y, pressure,
                                                   0.0, 0.0, dtime)

  def __del__(self):
    if getattr(self, "_ptr", None):
      self._tiles = None
      self._lib.mypaint_surface_unref(self._ptr)
      self._ptr = None
