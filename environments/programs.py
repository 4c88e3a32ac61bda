"""Programs as data: the actions of an episode plus the config that gives them meaning.

A program is what an agent writes: a painting `Program` (strokes) or a `SceneProgram` (MuJoCo
objects). Each is saved as JSON tagged with its format (`FORMAT`, `SCENE_FORMAT`), written
atomically (a crash never leaves a half-written file), and re-rendered at any canvas size, e.g.
`environments.libmypaint.render_program(program, canvas_size=256)` or
`environments.mujoco_render.render_program(scene_program, 256)`. `load(path)` reads either kind.
"""

import dataclasses
import json
import os
import tempfile
from typing import List
from xml.sax import saxutils

from environments import paint_actions
from environments import scene_actions

FORMAT = "spiral-jax/painting-program/v1"
SCENE_FORMAT = "spiral-jax/mujoco-scenes-program/v1"


@dataclasses.dataclass
class Program:
  config: paint_actions.PaintConfig
  actions: List[dict] = dataclasses.field(default_factory=list)

  def __post_init__(self):
    self.actions = [paint_actions.validate_action(a, self.config) for a in self.actions]

  def __len__(self):
    return len(self.actions)

  def to_json(self):
    return json.dumps({
        "format": FORMAT,
        "config": self.config.to_dict(),
        "actions": [{k: list(v) if isinstance(v, tuple) else v for k, v in a.items()}
                    for a in self.actions],
    }, indent=1)

  @classmethod
  def from_json(cls, text):
    try:
      data = json.loads(text)
    except ValueError as e:
      raise ValueError(f"Not a painting program (invalid JSON: {e}).") from e
    if not isinstance(data, dict) or data.get("format") != FORMAT:
      raise ValueError(f"Not a painting program: expected a JSON object with format {FORMAT!r}.")
    return cls(paint_actions.PaintConfig.from_dict(data["config"]), data["actions"])

  def save(self, path):
    """Writes the program to `path` atomically."""
    _write_atomically(path, self.to_json())

  def strokes(self):
    """The painted strokes in order: dicts of start, control, end ((x, y) in canvas pixels),
    radius (the brush size, pixels), pressure in (0, 1] and pressure_start (the pressure ramps
    from the previous stroke's unless a move or the reset came between), width (the diameter the
    brush really paints, pixels, averaged over the ramp), rgb in [0, 1] and the action's index."""
    from environments import jax_brush  # pylint: disable=import-outside-toplevel
    config = self.config
    pressures = paint_actions.pressure_levels(config)
    location = (0, 0)
    previous = None
    out = []
    for index, action in enumerate(self.actions):
      if action["flag"] == paint_actions.PAINT:
        radius = float(config.brush_sizes[action["size"]])
        pressure = float(pressures[action["pressure"]])
        start = pressure if previous is None else previous
        width = sum(jax_brush.stroke_radius(radius, p, config.brush) for p in (start, pressure))
        out.append({"start": paint_actions.grid_to_pixel(location, config),
                    "control": paint_actions.grid_to_pixel(action["control"], config),
                    "end": paint_actions.grid_to_pixel(action["end"], config),
                    "radius": radius, "pressure": pressure, "pressure_start": start,
                    "width": width,
                    "rgb": paint_actions.stroke_colour(action, config), "index": index})
        previous = pressure
      else:
        previous = None
      location = action["end"]
    return out

  def to_svg(self, size=None, colours=None):
    """The program as an SVG document: one quadratic Bezier path per painted stroke, opaque (the
    pen's ink is, at every pressure), its width the diameter the brush paints at that size and
    pressure (`strokes()`), its colour the ink (or colours[i] for stroke i, as
    (r, g, b) in [0, 1], e.g. to show each stroke in its own colour). Coordinates are canvas
    pixels (the viewBox), drawn at `size` pixels (default: the canvas size)."""
    w = self.config.canvas_size
    size = w if size is None else size
    hex_colour = lambda rgb: "#" + "".join(f"{int(round(255 * min(max(c, 0.0), 1.0))):02x}"
                                           for c in rgb)
    lines = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
             f'viewBox="0 0 {w} {w}">',
             f'<rect x="0" y="0" width="{w}" height="{w}" fill="#ffffff"/>']
    for i, stroke in enumerate(self.strokes()):
      (x0, y0), (cx, cy), (x1, y1) = stroke["start"], stroke["control"], stroke["end"]
      rgb = stroke["rgb"] if colours is None else colours[i % len(colours)]
      lines.append(
          f'<path d="M {x0:g} {y0:g} Q {cx:g} {cy:g} {x1:g} {y1:g}" fill="none" '
          f'stroke="{hex_colour(rgb)}" stroke-width="{stroke["width"]:.4g}" '
          f'stroke-linecap="round" data-pressure="{stroke["pressure"]:.3g}" '
          f'data-action="{stroke["index"]}"/>')
    lines.append(f"<!-- {saxutils.escape(FORMAT)} -->")
    lines.append("</svg>")
    return "\n".join(lines) + "\n"

  def save_svg(self, path, size=None, colours=None):
    """Writes `to_svg()` to path atomically."""
    _write_atomically(path, self.to_svg(size, colours))

  @classmethod
  def load(cls, path):
    return _load(cls, path)


class SceneProgram:
  """A recorded MuJoCo Scenes program: its SceneConfig and validated actions."""

  def __init__(self, config, actions):
    self.config = config
    self.actions = [scene_actions.validate_action(a, config) for a in actions]

  def __len__(self):
    return len(self.actions)

  @property
  def objects(self):
    return scene_actions.scene_objects(self.actions)

  def to_json(self):
    return json.dumps({"format": SCENE_FORMAT, "environment": "mujoco_scenes",
                       "config": self.config.to_dict(),
                       "actions": [dict(a, location=list(a["location"])) for a in self.actions]})

  @classmethod
  def from_json(cls, text):
    try:
      d = json.loads(text)
      # Programs written before the format tag carry only "environment".
      if d.get("format", SCENE_FORMAT) != SCENE_FORMAT or d.get("environment") != "mujoco_scenes":
        raise ValueError(f"expected a JSON object with format {SCENE_FORMAT!r}")
      config = scene_actions.SceneConfig.from_dict(d["config"])
      actions = [scene_actions.validate_action(a, config) for a in d["actions"]]
    except (ValueError, KeyError, TypeError, AttributeError) as e:
      raise ValueError(f"Not a MuJoCo Scenes program: {e}") from e
    return cls(config, actions)

  def save(self, path):
    """Writes the program to `path` atomically."""
    _write_atomically(path, self.to_json())

  @classmethod
  def load(cls, path):
    return _load(cls, path)


def _load(cls, path):
  with open(path, encoding="utf-8") as f:
    text = f.read()
  try:
    return cls.from_json(text)
  except (ValueError, KeyError, TypeError) as e:
    raise ValueError(f"{path}: {e}") from e


def load(path):
  """A program file of either kind, told apart by its format tag."""
  try:
    with open(path, encoding="utf-8") as f:
      data = json.load(f)
  except ValueError as e:
    raise ValueError(f"{path}: not a program (invalid JSON: {e}).") from e
  is_scene = isinstance(data, dict) and (data.get("format") == SCENE_FORMAT
                                         or data.get("environment") == "mujoco_scenes")
  return (SceneProgram if is_scene else Program).load(path)


def _write_atomically(path, text):
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=directory, prefix=".program-", suffix=".tmp")
  try:
    with os.fdopen(fd, "w") as f:
      f.write(text)
    os.replace(tmp, path)
  except BaseException:
    os.unlink(tmp)
    raise
