"""A tiny third renderer for the tests: coloured squares placed on a grid.

It exists to show that the agent needs no code for a new renderer: its action spec (a location on
a 4x4 grid, a colour, a size) and its canvas are all the policy reads.
"""

import dm_env
from dm_env import specs
import numpy as np

COLOURS = np.array([[0.9, 0.1, 0.1], [0.1, 0.7, 0.2], [0.1, 0.2, 0.9]], np.float32)


class Squares(dm_env.Environment):

  def __init__(self, canvas_size=16, grid=4, episode_length=3):
    self._size, self._grid, self._length = canvas_size, grid, episode_length
    self._canvas, self._t = None, None

  def action_spec(self):
    return {"where": specs.BoundedArray((2,), np.int32, 0, self._grid - 1, name="where"),
            "colour": specs.DiscreteArray(len(COLOURS), dtype=np.int32, name="colour"),
            "size": specs.DiscreteArray(2, dtype=np.int32, name="size")}

  def observation_spec(self):
    return {"canvas": specs.BoundedArray((self._size, self._size, 3), np.float32, 0.0, 1.0,
                                         name="canvas")}

  def reset(self):
    self._canvas = np.ones((self._size, self._size, 3), np.float32)
    self._t = 0
    return dm_env.restart({"canvas": self._canvas.copy()})

  def step(self, action):
    if self._t is None or self._t >= self._length:
      return self.reset()
    cell = self._size // self._grid
    x, y = (int(v) for v in action["where"])
    half = cell // 2 if int(action["size"]) else cell // 4
    cx, cy = x * cell + cell // 2, y * cell + cell // 2
    self._canvas[cy - half:cy + half, cx - half:cx + half] = COLOURS[int(action["colour"])]
    self._t += 1
    observation = {"canvas": self._canvas.copy()}
    if self._t >= self._length:
      return dm_env.termination(np.float32(0.0), observation)
    return dm_env.transition(np.float32(0.0), observation)
