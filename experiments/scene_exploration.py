"""How often one `add` pays, on MuJoCo Scenes: the exploration problem of docs/scene_levers.md.

For each of the first --num_scenes generated train scenes, renders the empty platform with one
object added, chosen five ways, and counts how often that object lowers the l2 to the scene
below the empty platform's:

  true_object             the scene's first true object itself;
  true_cell_true_colour   in that object's cell, with its colour, a random shape and size;
  true_cell               in that object's cell, everything else random;
  random                  a uniformly random object (what an untrained agent adds).

  python -m experiments.scene_exploration --num_scenes=200 --canvas_size=32 --grid_size=8

The last line printed is one flat JSON object: each way's share of scenes where the l2 fell
(`*_lowers_l2`) and mean l2 (`*_l2`), and the empty platform's mean l2.
"""

import json

from absl import app
from absl import flags
import numpy as np

from environments import mujoco_render
from environments import mujoco_scenes_dataset as ds
from environments import scene_actions

FLAGS = flags.FLAGS
flags.DEFINE_integer("num_scenes", 200, "Train scenes (the first N).")
flags.DEFINE_integer("canvas_size", 32, "Render size (the small set-up's: 32).")
flags.DEFINE_integer("grid_size", 8, "Locations per side (the small set-up's: 8).")
flags.DEFINE_integer("probe_seed", 0, "Seed of the random choices.")


def one_object_l2s(config, num_scenes, seed=0):
  """{way: per-scene l2 of the empty platform plus one object added that way} and the empty
  platform's per-scene l2."""
  images, arrays = ds.generate(num_scenes, seed=ds.TRAIN_SEED, config=config)
  targets = images.astype(np.float32) / 255.0
  rng = np.random.default_rng(seed)
  renderer = mujoco_render.SceneRenderer(config, max_objects=1)
  l2 = lambda objects, target: float(np.mean((renderer.render(objects) - target) ** 2))
  colour = lambda: tuple(int(c) for c in rng.integers(config.colour_bins, size=3))
  shape = lambda: int(rng.integers(len(scene_actions.SHAPES)))
  size = lambda: int(rng.integers(len(config.sizes)))
  ways = {"true_object": [], "true_cell_true_colour": [], "true_cell": [], "random": []}
  empty = []
  try:
    for i, target in enumerate(targets):
      true = ds.arrays_to_objects({k: v[i] for k, v in arrays.items()})[0]
      cell = tuple(int(c) for c in rng.integers(config.grid_size, size=2))
      empty.append(l2([], target))
      ways["true_object"].append(l2([true], target))
      ways["true_cell_true_colour"].append(l2(
          [scene_actions.SceneObject(shape(), true.location, size(), true.colour)], target))
      ways["true_cell"].append(l2(
          [scene_actions.SceneObject(shape(), true.location, size(), colour())], target))
      ways["random"].append(l2([scene_actions.SceneObject(shape(), cell, size(), colour())],
                               target))
  finally:
    renderer.close()
  return {k: np.array(v) for k, v in ways.items()}, np.array(empty)


def main(argv):
  del argv
  config = scene_actions.SceneConfig(canvas_size=FLAGS.canvas_size, grid_size=FLAGS.grid_size)
  ways, empty = one_object_l2s(config, FLAGS.num_scenes, FLAGS.probe_seed)
  result = {"num_scenes": FLAGS.num_scenes, "canvas_size": FLAGS.canvas_size,
            "grid_size": FLAGS.grid_size, "empty_l2": round(float(empty.mean()), 5)}
  for way, values in ways.items():
    result[f"{way}_lowers_l2"] = round(float(np.mean(values < empty)), 3)
    result[f"{way}_l2"] = round(float(values.mean()), 5)
  print(json.dumps(result))


if __name__ == "__main__":
  app.run(main)
