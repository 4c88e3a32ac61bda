"""What makes the agent learn: named set-ups trained at equal frames and measured on validation
digits they never trained on (docs/levers.md records the results).

  python -m experiments.levers --data_dir=/data/mnist --variants=base,tc,pathwise_d \
      --frames=1000000 --root=outputs/levers

Each variant is the paper's method on the small conditional MNIST set-up (PAPER_METHOD: the
config `experiments/configs/mnist_conditional.py` without what the lever study added to it) with
the overrides in VARIANTS ("recipe" is the config as it ships), trained on MNIST train[:55000]
for --frames frames, then run greedily on the first --num_images digits of train[55000:]
(validation: the test split is kept for the final figures). A variant already trained (ROOT/NAME/done) is only measured again.
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

FLAGS = flags.FLAGS
flags.DEFINE_string("data_dir", None, "The original MNIST files.")
flags.DEFINE_list("variants", ["base", "tc"], f"Which of {sorted(VARIANTS)}.")
flags.DEFINE_integer("frames", 1000000, "Frames each variant trains.")
flags.DEFINE_string("root", "outputs/levers", "Where the runs go.")
flags.DEFINE_string("train_split", "train[:55000]", "What the variants train on.")
flags.DEFINE_string("validation_split", "train[55000:]", "What they are measured on.")
flags.DEFINE_integer("num_images", 1000, "Validation digits.")
flags.DEFINE_integer("seed", 0, "The runs' seed.")


def variant_config(name, frames, data_dir, split, seed=0):
  """The small conditional MNIST config with variant `name`'s overrides."""
  if name not in VARIANTS:
    raise ValueError(f"Unknown variant {name!r}; known: {sorted(VARIANTS)}.")
  config = mnist_conditional.get_config("small")
  config.update_from_flattened_dict({
      "data.name": "mnist", "data.data_dir": data_dir, "data.split": split, "seed": seed,
      "max_frames": frames, "max_minutes": 0.0, "progress": False,
      "checkpoint_every_minutes": 5.0, **PAPER_METHOD, **VARIANTS[name]})
  return config


def run_variant(name, root, frames, data_dir, train_split, validation_split, num_images,
                seed=0):
  """Trains variant `name` (unless done) and measures it: a dict of figures."""
  workdir = os.path.join(root, name)
  done = os.path.join(workdir, "done")
  summary = {}
  if not os.path.exists(done):
    config = variant_config(name, frames, data_dir, train_split, seed)
    summary = training.run(config, setups.make_setup(config), workdir,
                           resume=os.path.isdir(os.path.join(workdir, "checkpoints")))
    with open(done, "w", encoding="utf-8") as f:
      json.dump(summary, f)
  else:
    with open(done, encoding="utf-8") as f:
      text = f.read()
    summary = json.loads(text) if text.strip() else {}
  figures_, _, _ = measure.evaluate(workdir, validation_split, data_dir, num_images)
  return {"variant": name, "overrides": VARIANTS[name], "frames": figures_["frames"],
          "l2_mean": figures_["l2_mean"], "l2_ci95": figures_["l2_ci95"],
          "recognised": figures_.get("recognised"), "blank_l2": figures_["blank_l2"],
          "frames_per_s": summary.get("frames_per_s"), "split": validation_split}


def main(argv):
  del argv
  if not FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)
  if not FLAGS.data_dir:
    raise app.UsageError("Give the original MNIST files: --data_dir=DIR.")
  os.makedirs(FLAGS.root, exist_ok=True)
  results = []
  for name in FLAGS.variants:
    result = run_variant(name, FLAGS.root, FLAGS.frames, FLAGS.data_dir, FLAGS.train_split,
                         FLAGS.validation_split, FLAGS.num_images, FLAGS.seed)
    results.append(result)
    with open(os.path.join(FLAGS.root, "levers.jsonl"), "a", encoding="utf-8") as f:
      f.write(json.dumps(result) + "\n")
    print(json.dumps(result), flush=True)
  figures.compare_runs([os.path.join(FLAGS.root, r["variant"]) for r in results],
                       os.path.join(FLAGS.root, "levers.png"))
  print(json.dumps({r["variant"]: round(r["l2_mean"], 4) for r in results}))


if __name__ == "__main__":
  app.run(main)
