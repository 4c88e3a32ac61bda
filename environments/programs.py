"""Painting programs as data: the actions of an episode plus the config that gives them meaning.

A `Program` is what an agent writes. It is saved as JSON (atomically: a crash never leaves a
half-written file) and re-rendered by any painting renderer at any canvas size, e.g.
`environments.libmypaint.render_program(program, canvas_size=256)`.
"""

import dataclasses
import json
import os
import tempfile
from typing import List

from environments import paint_actions

FORMAT = "spiral-jax/painting-program/v1"


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
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".program-", suffix=".tmp")
    try:
      with os.fdopen(fd, "w") as f:
        f.write(self.to_json())
      os.replace(tmp, path)
    except BaseException:
      os.unlink(tmp)
      raise

  @classmethod
  def load(cls, path):
    with open(path) as f:
      text = f.read()
    try:
      return cls.from_json(text)
    except (ValueError, KeyError, TypeError) as e:
      raise ValueError(f"{path}: {e}") from e
