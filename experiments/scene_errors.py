"""Where a MuJoCo Scenes agent goes wrong: the error analysis of docs/scene_levers.md.

Runs an agent (a shipped one or a training run) greedily on scenes, as `spiral-jax evaluate` does,
matches its objects to the true ones (`environments.scene_matching`) and breaks its errors down:

  - the count: how many scenes get how many objects too few or too many, and the count accuracy
    by the number of objects in the scene;
  - shapes: the confusion between true and predicted shapes, and shape accuracy by object size;
  - what the missing objects look like: for each true object, the pixels of the target that
    change when it alone is taken away (`scene_matching.visible_pixels`), for all objects and for
    those the agent left unmatched in scenes where it placed too few. An object with (almost) no
    visible pixels is one no agent can find.

  python -m experiments.scene_errors --agent=mujoco_scenes --split="train[49000:49200]" \\
      --num_images=200

The last line printed is one flat JSON object of the figures.
"""

import collections
import json

from absl import app
from absl import flags
from absl import logging
import jax
import numpy as np

from environments import mujoco_render
from environments import programs
from environments import scene_actions
from environments import scene_matching
from experiments import setups
from spiral_jax import evaluation
from spiral_jax import training

FLAGS = flags.FLAGS
flags.DEFINE_string("agent", None, "A shipped agent (e.g. mujoco_scenes).")
flags.DEFINE_string("workdir", None, "Or a training run's directory (its newest checkpoint).")
flags.DEFINE_string("split", "train[49000:49200]",
                    "Which generated scenes (default: validation scenes no agent trains on).")
flags.DEFINE_integer("num_images", 200, "How many scenes.")
flags.DEFINE_integer("seed", 0, "Seed of the episodes (greedy decoding uses none).")


def error_figures(predicted, true, config, visible):
  """Flat figures from predicted and true scenes (lists of SceneObjects) and each true object's
  visible pixels (`visible[k][j]` for object j of scene k)."""
  figures = {"num_scenes": len(true)}
  diff = collections.Counter(len(p) - len(t) for p, t in zip(predicted, true))
  for d, n in sorted(diff.items()):
    figures[f"scenes_count_{d:+d}"] = n
  by_count = collections.defaultdict(list)
  for p, t in zip(predicted, true):
    by_count[len(t)].append(len(p) == len(t))
  for n, right in sorted(by_count.items()):
    figures[f"count_accuracy_{n}_objects"] = float(np.mean(right))
  shape_by_size = collections.defaultdict(list)
  confusion = np.zeros((len(scene_actions.SHAPES),) * 2, int)
  for p, t in zip(predicted, true):
    for i, j in scene_matching.match(p, t, config):
      confusion[t[j].shape, p[i].shape] += 1
      shape_by_size[t[j].size].append(p[i].shape == t[j].shape)
  for size, right in sorted(shape_by_size.items()):
    figures[f"shape_accuracy_size_{size}"] = float(np.mean(right))
  for a, name_a in enumerate(scene_actions.SHAPES):
    for b, name_b in enumerate(scene_actions.SHAPES):
      if a != b and confusion[a, b]:
        figures[f"shape_{name_a}_as_{name_b}"] = int(confusion[a, b])
  every = [v for scene in visible for v in scene]
  missing = [visible[k][j] for k, (p, t) in enumerate(zip(predicted, true)) if len(p) < len(t)
             for j in scene_matching.unmatched(p, t, config)]
  figures.update({"visible_pixels_median": float(np.median(every)),
                  "visible_pixels_p05": float(np.percentile(every, 5)),
                  "missing_objects": len(missing)})
  if missing:
    figures.update({"missing_visible_pixels_median": float(np.median(missing)),
                    "missing_visible_pixels_min": int(min(missing)),
                    "missing_visible_pixels_max": int(max(missing)),
                    "missing_under_10_pixels": int(sum(v < 10 for v in missing))})
  return figures


def main(argv):
  del argv
  if not FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)
  try:
    config, params, _ = setups.load_agent(FLAGS.agent, FLAGS.workdir)
  except (ValueError, FileNotFoundError) as e:
    raise app.UsageError(str(e)) from e
  if config.env.name != "mujoco_scenes":
    raise app.UsageError(f"{FLAGS.agent or FLAGS.workdir} paints {config.env.name!r}: this "
                         "analysis is for MuJoCo Scenes agents.")
  setups.choose_targets(config, bool(FLAGS.agent), FLAGS.split, limit=FLAGS.num_images)
  setup, labels = setups.make_setup(config, with_labels=True, in_memory=True)
  policy, _, _ = training.build_agent(config, setup)
  targets = setup.images.first(FLAGS.num_images)
  _, actions = evaluation.reconstruct_dm_env(setup.env_factory, policy, params, targets,
                                             jax.random.PRNGKey(FLAGS.seed), greedy=True)
  scene = setups.scene_config(config.env)
  predicted = [programs.SceneProgram(scene, evaluation.episode_steps(e)).objects for e in actions]
  true = list(labels[:len(predicted)])
  renderer = mujoco_render.SceneRenderer(scene, max_objects=max(len(t) for t in true))
  try:
    visible = [scene_matching.visible_pixels(renderer, t) for t in true]
  finally:
    renderer.close()
  figures = error_figures(predicted, true, scene, visible)
  figures.update({k: v for k, v in scene_matching.score_scenes(predicted, true, scene).items()
                  if k != "num_scenes"})
  print(json.dumps(figures))


if __name__ == "__main__":
  app.run(main)
