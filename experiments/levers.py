"""What makes the agent learn: named set-ups trained at equal frames and measured on validation
targets they never trained on (docs/levers.md and docs/scene_levers.md record the results).

  python -m experiments.levers --data_dir=/data/mnist --variants=base,tc,pathwise_d \
      --frames=1000000 --root=outputs/levers
  python -m experiments.levers --setup=mujoco_scenes --variants=base,tc,recipe \
      --frames=500000 --root=outputs/scene_levers

--setup=mnist (default): each variant is the paper's method on the small conditional MNIST set-up
(PAPER_METHOD: the config `experiments/configs/mnist_conditional.py` without what the lever study
added to it) with the overrides in VARIANTS ("recipe" is the config as it ships), trained on MNIST
train[:55000], then run greedily on the first --num_images digits of train[55000:] (validation:
the test split is kept for the final figures).
--setup=mujoco_scenes: the same on the small MuJoCo Scenes set-up
(`experiments/configs/mujoco_conditional.py`, generated scenes; the paper's method is that config
as it is, with 16 environments per actor) with the overrides in SCENE_VARIANTS, trained on the config's first generated train
scenes and measured on train scenes 49,000 on, which no variant trains on. Its figures add the
scene-matching scores (`count_accuracy`, `object_accuracy`).
A variant already trained (ROOT/NAME/done) is only measured again.
Writes ROOT/levers.jsonl (one JSON object per variant: the l2 and recognised figures, frames/s)
and ROOT/levers.png (training l2 against frames for all of them); the last line printed is one
flat JSON object of each variant's validation l2.
"""

import json
import os

from absl import app
from absl import flags
from absl import logging

from experiments import measure
from experiments import figures
from experiments import setups
from experiments.configs import mnist_conditional
from experiments.configs import mujoco_conditional
from spiral_jax import training

# The small conditional MNIST config without the levers this study added to it: D reward at the
# final step, the paper's policy (no location branch), policy learning rate 4e-4.
PAPER_METHOD = {"learner.temporal_credit": False, "policy.location_skip_channels": 0,
                "learner.policy_learning_rate": 4e-4}
TC = {"learner.temporal_credit": True}
RECIPE = {"learner.temporal_credit": True, "policy.location_skip_channels": 16,
          "learner.policy_learning_rate": 1e-3}
VARIANTS = {
    "recipe": RECIPE,
    # The paper's method and SPIRAL++'s levers.
    "base": {},
    "tc": TC,
    "tc_entropy_0.003": dict(TC, **{"learner.entropy_cost": 0.003}),
    "tc_lr_1e-3": dict(TC, **{"learner.policy_learning_rate": 1e-3}),
    "tc_complement": dict(TC, **{"learner.discriminator": "complement"}),
    "tc_spectral_norm": dict(TC, **{"discriminator.spectral_norm": True}),
    "tc_d_steps_2": dict(TC, **{"learner.discriminator_steps": 2}),
    "tc_batch_32": dict(TC, **{"learner.batch_size": 32}),
    "l2": {"learner.reward": "l2", "learner.empty_canvas_cost": 0.1},
    "l2_tc": {"learner.reward": "l2", "learner.temporal_credit": True,
              "learner.reward_scale": 100.0},
    # The renderer's gradients (learner.pathwise_cost).
    "pathwise_l2": {"learner.reward": "l2", "learner.policy_gradient_cost": 0.0,
                    "learner.pathwise_cost": 10.0, "learner.entropy_cost": 0.003},
    "pathwise_l2_pyramid": {"learner.reward": "l2", "learner.l2_levels": 4,
                            "learner.policy_gradient_cost": 0.0, "learner.pathwise_cost": 10.0,
                            "learner.entropy_cost": 0.003},
    "pathwise_d": {"learner.policy_gradient_cost": 0.0, "learner.pathwise_cost": 1.0,
                   "learner.entropy_cost": 0.003},
    "tc_pathwise_d": dict(TC, **{"learner.pathwise_cost": 1.0}),
    # A convolutional branch for the location heads (policy.location_skip_channels).
    "tc_skip": dict(TC, **{"policy.location_skip_channels": 16}),
    "l2_tc_skip": {"learner.reward": "l2", "learner.temporal_credit": True,
                   "learner.reward_scale": 100.0, "policy.location_skip_channels": 16},
    "tc_skip_32": dict(TC, **{"policy.location_skip_channels": 32}),
    "tc_skip_lr_2e-3": dict(TC, **{"policy.location_skip_channels": 16,
                                   "learner.policy_learning_rate": 2e-3}),
    # The other levers, on top of the recipe.
    **{f"recipe_{name}": dict(RECIPE, **overrides) for name, overrides in {
        "final_reward": {"learner.temporal_credit": False},
        "l2": {"learner.reward": "l2", "learner.temporal_credit": False,
               "learner.empty_canvas_cost": 0.1},
        "l2_tc": {"learner.reward": "l2", "learner.reward_scale": 100.0},
        "entropy_0.003": {"learner.entropy_cost": 0.003},
        "complement": {"learner.discriminator": "complement"},
        "spectral_norm": {"discriminator.spectral_norm": True},
        "d_steps_2": {"learner.discriminator_steps": 2},
        "batch_32": {"learner.batch_size": 32},
        "branch_8": {"policy.location_skip_channels": 8},
        # D's learning rate where population-based training ended (README): twice the default;
        # the D reward scaled up (a smaller entropy cost relative to it, and larger advantages).
        "d_lr_2e-4": {"learner.discriminator_learning_rate": 2e-4},
        "reward_scale_3": {"learner.reward_scale": 3.0},
        # The policy's learning rate falling linearly to a tenth over 1M frames (1,563 updates).
        "lr_decay": {"learner.policy_learning_rate_decay_updates": 1563},
        "lr_2e-3_decay": {"learner.policy_learning_rate": 2e-3,
                          "learner.policy_learning_rate_decay_updates": 1563},
        # A network between SMALL and PAPER: 4x4 patches, twice the channels and widths.
        "medium_network": {"policy.first_kernel": 4, "policy.first_stride": 4,
                           "policy.torso_channels": 32, "policy.num_res_blocks": 2,
                           "policy.fc_size": 128, "policy.lstm_size": 128,
                           "policy.embed_dim": 16, "policy.location_channels": 8},
    }.items()},
    "pathwise_l2_pyramid_skip": {"learner.reward": "l2", "learner.l2_levels": 4,
                                 "learner.policy_gradient_cost": 0.0,
                                 "learner.pathwise_cost": 10.0, "learner.entropy_cost": 0.003,
                                 "policy.location_skip_channels": 16},
}

# The small MuJoCo Scenes config is the paper's method as it is; the painting study's levers on top.
SCENE_RECIPE = dict(RECIPE)
SCENE_VARIANTS = {
    "base": {},
    "tc": TC,
    "tc_skip": dict(TC, **{"policy.location_skip_channels": 16}),
    "recipe": SCENE_RECIPE,
    **{f"recipe_{name}": dict(SCENE_RECIPE, **overrides) for name, overrides in {
        "data_20000": {"data.limit": 20000},
        "entropy_0.003": {"learner.entropy_cost": 0.003},
        "l2_tc": {"learner.reward": "l2", "learner.reward_scale": 100.0},
        # The branch's features moved from image cells to grid cells (the camera's perspective),
        # and read at the chosen cell by the components after the location.
        "warp": {"policy.location_skip_warp": True},
        "warp_readout": {"policy.location_skip_warp": True, "policy.location_readout": True},
        "warp_readout_l2_tc": {"policy.location_skip_warp": True,
                               "policy.location_readout": True, "learner.reward": "l2",
                               "learner.reward_scale": 100.0},
        # A cost for an episode that leaves the platform as it began (no object): the paper's
        # empty-canvas penalty, against the collapse to skipping every step.
        "warp_readout_empty_cost": {"policy.location_skip_warp": True,
                                    "policy.location_readout": True,
                                    "learner.empty_canvas_cost": 0.1},
        "warp_readout_l2_tc_empty_cost": {"policy.location_skip_warp": True,
                                          "policy.location_readout": True,
                                          "learner.reward": "l2", "learner.reward_scale": 100.0,
                                          "learner.empty_canvas_cost": 1.0},
        # The l2 over 4 scales: a near miss (the right colour a cell away) earns some reward.
        "warp_readout_pyramid_l2_tc": {"policy.location_skip_warp": True,
                                       "policy.location_readout": True, "learner.reward": "l2",
                                       "learner.l2_levels": 4, "learner.reward_scale": 100.0},
    }.items()},
}
# What each set-up trains on by default: its base config, the overrides that make it the paper's
# method, its variants, and the train and validation splits.
SETUPS = {
    "mnist": (lambda: mnist_conditional.get_config("small"), PAPER_METHOD, VARIANTS,
              "train[:55000]", "train[55000:]"),
    # (the scene study ran with 16 environments per actor, the config's default then)
    "mujoco_scenes": (lambda: mujoco_conditional.get_config("small"), {"envs_per_actor": 16},
                      SCENE_VARIANTS, "train", "train[49000:]"),
}

FLAGS = flags.FLAGS
flags.DEFINE_enum("setup", "mnist", list(SETUPS), "Which set-up the variants change.")
flags.DEFINE_string("data_dir", None, "The original MNIST files (--setup=mnist).")
flags.DEFINE_list("variants", ["base", "tc"],
                  f"Which of {sorted(VARIANTS)} (mnist) or {sorted(SCENE_VARIANTS)} "
                  "(mujoco_scenes).")
flags.DEFINE_integer("frames", 1000000, "Frames each variant trains.")
flags.DEFINE_string("root", "outputs/levers", "Where the runs go.")
flags.DEFINE_string("train_split", None, "What the variants train on (default: the set-up's).")
flags.DEFINE_string("validation_split", None,
                    "What they are measured on (default: the set-up's).")
flags.DEFINE_integer("num_images", 1000, "Validation targets.")
flags.DEFINE_integer("seed", 0, "The runs' seed.")


def variant_config(name, frames, data_dir, split=None, seed=0, setup="mnist"):
  """Set-up `setup`'s small config with variant `name`'s overrides."""
  get_config, paper_method, variants, train_split, _ = SETUPS[setup]
  if name not in variants:
    raise ValueError(f"Unknown {setup} variant {name!r}; known: {sorted(variants)}.")
  config = get_config()
  data = {"data.split": split or train_split}
  if setup == "mnist":
    data.update({"data.name": "mnist", "data.data_dir": data_dir})
  config.update_from_flattened_dict({
      **data, "seed": seed, "max_frames": frames, "max_minutes": 0.0, "progress": False,
      "checkpoint_every_minutes": 5.0, **paper_method, **variants[name]})
  return config


def run_variant(name, root, frames, data_dir, train_split=None, validation_split=None,
                num_images=1000, seed=0, setup="mnist"):
  """Trains variant `name` (unless done) and measures it: a dict of figures."""
  workdir = os.path.join(root, name)
  done = os.path.join(workdir, "done")
  summary = {}
  if not os.path.exists(done):
    config = variant_config(name, frames, data_dir, train_split, seed, setup)
    summary = training.run(config, setups.make_setup(config), workdir,
                           resume=os.path.isdir(os.path.join(workdir, "checkpoints")))
    with open(done, "w", encoding="utf-8") as f:
      json.dump(summary, f)
  else:
    with open(done, encoding="utf-8") as f:
      text = f.read()
    summary = json.loads(text) if text.strip() else {}
  validation_split = validation_split or SETUPS[setup][4]
  figures_, _, _ = measure.evaluate(workdir, validation_split, data_dir, num_images)
  scores = {key: figures_[key] for key in ("recognised", "count_accuracy", "object_accuracy")
            if key in figures_}
  return {"variant": name, "overrides": SETUPS[setup][2][name], "frames": figures_["frames"],
          "l2_mean": figures_["l2_mean"], "l2_ci95": figures_["l2_ci95"], **scores,
          "blank_l2": figures_["blank_l2"], "frames_per_s": summary.get("frames_per_s"),
          "split": validation_split}


def main(argv):
  del argv
  if not FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)
  if FLAGS.setup == "mnist" and not FLAGS.data_dir:
    raise app.UsageError("Give the original MNIST files: --data_dir=DIR.")
  os.makedirs(FLAGS.root, exist_ok=True)
  results = []
  for name in FLAGS.variants:
    result = run_variant(name, FLAGS.root, FLAGS.frames, FLAGS.data_dir, FLAGS.train_split,
                         FLAGS.validation_split, FLAGS.num_images, FLAGS.seed, FLAGS.setup)
    results.append(result)
    with open(os.path.join(FLAGS.root, "levers.jsonl"), "a", encoding="utf-8") as f:
      f.write(json.dumps(result) + "\n")
    print(json.dumps(result), flush=True)
  figures.compare_runs([os.path.join(FLAGS.root, r["variant"]) for r in results],
                       os.path.join(FLAGS.root, "levers.png"))
  print(json.dumps({r["variant"]: round(r["l2_mean"], 4) for r in results}))


if __name__ == "__main__":
  app.run(main)
