"""Renders per second of MuJoCo Scenes (OSMesa on a CPU machine, EGL on a GPU one), one core.

Times the scene renderer on dataset-like scenes (1-5 random objects) at 64x64, anti-aliasing off
(the environment's default) and on (4x multisampling), and the dm_env environment on whole
episodes of random actions (every `add` or `change` renders once; a `skip` does not). Each figure
is the median of several repeats. The process is pinned to one CPU core when it can be.

  python benchmarks/mujoco_render.py [--repeats 5] [--renders 1000]

The last line printed is one JSON object.
"""

import argparse
import json
import os
import statistics
import time

import numpy as np

from environments import mujoco_scenes
from environments import mujoco_scenes_dataset
from environments import paint_actions


def renders_per_s(config, scenes, repeats):
  renderer = mujoco_scenes.SceneRenderer(config, max_objects=mujoco_scenes_dataset.MAX_OBJECTS)
  try:
    for objects in scenes[:20]:  # warm-up
      renderer.render(objects)
    rates = []
    for _ in range(repeats):
      start = time.perf_counter()
      for objects in scenes:
        renderer.render(objects)
      rates.append(len(scenes) / (time.perf_counter() - start))
    return statistics.median(rates)
  finally:
    renderer.close()


def env_steps_per_s(episodes, repeats, seed=0):
  env = mujoco_scenes.MujocoScenes()
  actions = paint_actions.random_actions(env.action_spec(), np.random.default_rng(seed),
                                         (episodes, env.config.episode_length))
  actions = [[{name: a[i, t] for name, a in actions.items()}
              for t in range(env.config.episode_length)] for i in range(episodes)]
  rates = []
  try:
    for _ in range(repeats):
      start = time.perf_counter()
      for episode in actions:
        env.reset()
        for action in episode:
          env.step(action)
      rates.append(episodes * env.config.episode_length / (time.perf_counter() - start))
  finally:
    env.close()
  return statistics.median(rates)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--repeats", type=int, default=5)
  parser.add_argument("--renders", type=int, default=1000)
  parser.add_argument("--episodes", type=int, default=50)
  args = parser.parse_args()
  if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
  config = mujoco_scenes.SceneConfig()
  scenes = [mujoco_scenes_dataset.random_scene(mujoco_scenes_dataset.scene_rng(99, i), config)
            for i in range(args.renders)]
  result = {"backend": os.environ.get("MUJOCO_GL")}
  result["renders_per_s_64"] = round(renders_per_s(config, scenes, args.repeats))
  print(f"64x64, anti-aliasing off: {result['renders_per_s_64']} renders/s")
  aa = mujoco_scenes.SceneConfig(antialias=True)
  result["renders_per_s_64_antialiased"] = round(renders_per_s(aa, scenes, args.repeats))
  print(f"64x64, 4x multisampling: {result['renders_per_s_64_antialiased']} renders/s")
  result["env_steps_per_s"] = round(env_steps_per_s(args.episodes, args.repeats))
  print(f"environment, random actions: {result['env_steps_per_s']} steps/s")
  print(json.dumps(result))


if __name__ == "__main__":
  main()
