"""The paper's MuJoCo Scenes set-up (sections 4.2, 4.6: 64x64 renders, 16x16 grid, 3 sizes, 4
colour levels per channel, 20 steps) with the small networks and the location heads' branch,
warped to the grid's cells and read at the chosen cell (docs/scene_levers.md), 32 channels wide.

Reinforcement learning alone did not teach the scene agent to add objects (docs/scene_levers.md).
The `mujoco_scenes` agent was taught the training scenes' programs by behaviour cloning; SPIRAL's
learners can continue from a cloned agent:

  python -m experiments.imitate --config=experiments/configs/mujoco_long.py \
      --workdir=runs/scenes_bc --max_minutes=60                  # --resume continues
  python -m experiments.train --config=experiments/configs/mujoco_long.py \
      --workdir=runs/scenes_rl --config.init_from=runs/scenes_bc

The shipped agent also has three parts added in its later cloning stages, each to an agent trained
without it (each starts at zero): the branch's fine path, the glimpse where the chosen cell lies
(which reads GRID_HOMOGRAPHY) and the branch's summary for the mode. Pass the same overrides to
continue from it:

  --config.policy.location_fine_channels=16 --config.policy.location_glimpse=16 \
  --config.policy.branch_summary=True --config.init_from=mujoco_scenes

Training scenes are the generated train split's first 49,000; scenes 49,000 on are the validation
scenes (`spiral-jax evaluate --workdir=DIR --split="train[49000:49200]"`), the test split the
held-out scenes of the README's figures.
"""

from experiments.configs import base
from experiments.configs import mujoco_conditional

# Where each grid cell lies in the 64x64 image (an object's centre above the platform): the
# renderer's `SceneRenderer.grid_homography()`, for the glimpse (`--config.policy.location_glimpse`;
# tests/test_mujoco_scenes.py checks it against the renderer).
GRID_HOMOGRAPHY = (2.28478, -0.52493, 13.72178, 0.0, 1.09065, 16.74891, 0.0, -0.0164, 1.0)


def get_config(size="small"):
  config = mujoco_conditional.get_config("paper")  # the paper's scene set-up
  config.size = size
  if size == "small":
    small = base.get_config("small")
    config.policy = small.policy
    config.policy.location_skip_channels = 32
    config.policy.location_skip_warp = True
    config.policy.location_readout = True
    # the object's place first: its shape, size and colour then read the target there
    config.policy.decode_first = ("mode", "location")
    config.discriminator = small.discriminator
    config.learner.policy_learning_rate = 1e-3
    config.learner.temporal_credit = True
  config.policy.location_glimpse_homography = GRID_HOMOGRAPHY
  config.data.split = "train[:49000]"
  config.max_minutes = 0.0
  config.checkpoint_every_minutes = 10.0
  config.picture_every_minutes = 10.0
  return config
