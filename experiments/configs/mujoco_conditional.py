"""MuJoCo Scenes, conditional (paper sections 4.2, 4.6): rebuild held-out 3-D scenes object by
object; reward from a conditional D, no auxiliary rewards. Threaded actors render with MuJoCo.

The dataset is generated (1-5 non-overlapping objects per scene). With data.data_dir empty the
scenes are generated in memory; give a directory to build and reuse the tfds dataset there
(`environments.mujoco_scenes_dataset`; paper config only, since it holds 64x64 scenes).
"""

from experiments.configs import base


def get_config(size="small"):
  config = base.get_config(size)
  config.env.name = "mujoco_scenes"
  config.env.kwargs = {"canvas_size": 64, "grid_size": 16, "episode_length": 20}
  config.data.name = "mujoco_scenes"
  config.data.limit = 0
  config.mode = "threaded"
  # 64 environments per actor: the policy's batched step costs little more for 64 than for 16
  # (benchmarks/training_throughput.py --modes=mujoco_scenes: 1,365 frames/s with 16, 1,868 with 64).
  config.envs_per_actor = 64
  config.learner.discriminator = "conditional"
  config.learner.reward = "discriminator"
  if size == "small":
    # 32x32 renders on an 8x8 grid, 6 steps (scenes hold up to 5 objects), 2,000 scenes.
    config.env.kwargs = {"canvas_size": 32, "grid_size": 8, "episode_length": 6}
    config.data.limit = 2000
    config.num_actors = 2
  return config
