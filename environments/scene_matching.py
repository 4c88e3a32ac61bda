"""Whether a scene was rebuilt: predicted objects matched to the true ones (paper section 4.6).

l2 says how close a render is; these say what a person would check. Each scene's predicted objects
are matched one-to-one to its true objects by their positions on the platform (the Hungarian
algorithm on the distances between cell centres); a true object left without a match (the agent
placed fewer objects) counts as wrong in every attribute.

  scores = score_scenes(predicted_scenes, true_scenes, config)
  scores["count_accuracy"]    # share of scenes with the right number of objects
  scores["object_accuracy"]   # share of true objects matched with shape, size, colour and cell right
"""

import numpy as np
from scipy import optimize

from environments import scene_actions

ATTRIBUTES = ("shape", "size", "colour", "cell")


def match(predicted, true, config):
  """[(i, j)]: predicted object i matched to true object j, minimising the summed distances of
  their platform positions (at most min(len(predicted), len(true)) pairs)."""
  if not predicted or not true:
    return []
  where = lambda obj: np.array(scene_actions.grid_to_platform(obj.location, config))
  cost = np.array([[np.linalg.norm(where(p) - where(t)) for t in true] for p in predicted])
  rows, cols = optimize.linear_sum_assignment(cost)
  return list(zip(rows.tolist(), cols.tolist()))


def _right(p, t):
  return {"shape": p.shape == t.shape, "size": p.size == t.size,
          "colour": tuple(p.colour) == tuple(t.colour),
          "cell": tuple(p.location) == tuple(t.location)}


def score_scene(predicted, true, config):
  """One scene: {"count_right": bool, "objects": true objects, and per attribute (and "all") the
  number of true objects whose match has it right}."""
  counts = {name: 0 for name in ATTRIBUTES + ("all",)}
  for i, j in match(predicted, true, config):
    right = _right(predicted[i], true[j])
    for name in ATTRIBUTES:
      counts[name] += int(right[name])
    counts["all"] += int(all(right.values()))
  return dict(counts, count_right=len(predicted) == len(true), objects=len(true))


def score_scenes(predicted_scenes, true_scenes, config):
  """Over scenes (lists of `SceneObject`s): `count_accuracy`, `object_accuracy` (every attribute
  right) and `shape_accuracy`, `size_accuracy`, `colour_accuracy`, `cell_accuracy` (shares of
  the true objects), and `num_scenes`."""
  if len(predicted_scenes) != len(true_scenes):
    raise ValueError(f"{len(predicted_scenes)} predicted scenes for {len(true_scenes)} true ones.")
  if not true_scenes:
    raise ValueError("No scenes to score.")
  scores = [score_scene(p, t, config) for p, t in zip(predicted_scenes, true_scenes)]
  objects = max(sum(s["objects"] for s in scores), 1)
  summary = {"count_accuracy": float(np.mean([s["count_right"] for s in scores])),
             "object_accuracy": sum(s["all"] for s in scores) / objects,
             "num_scenes": len(scores)}
  summary.update({f"{name}_accuracy": sum(s[name] for s in scores) / objects
                  for name in ATTRIBUTES})
  return summary


def visible_pixels(renderer, objects, threshold=0.02):
  """[n]: for each object of a scene, how many pixels of its render change when that object alone
  is taken away (a pixel counts where a channel moves by more than `threshold`). 0 is an object
  no image of the scene can show; `renderer` is a `mujoco_render.SceneRenderer`."""
  objects = list(objects)
  full = renderer.render(objects)
  return [int((np.abs(full - renderer.render(objects[:i] + objects[i + 1:])).max(-1)
               > threshold).sum()) for i in range(len(objects))]


def unmatched(predicted, true, config):
  """Indices of the true objects that `match` leaves without a predicted object."""
  matched = {j for _, j in match(predicted, true, config)}
  return [j for j in range(len(true)) if j not in matched]
