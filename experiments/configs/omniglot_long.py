"""The `omniglot` agent (paper section 4.4, Figs. 5b and 6): the paper's painting set-up of
`mnist_long` (64x64 canvas, 32x32 grid, 20 strokes, small networks) on Omniglot's background split,
with whole alphabets kept out of training:

  background[:16260]        the first 26 alphabets (Alphabet_of_the_Magi ... N_Ko): training
  background[16260:17380]   Ojibwe and Sanskrit: validation (for choices while training)
  background[17380:]        Syriac, Tagalog and Tifinagh (1,900 drawings): the held-out test set

(the builder orders the split by alphabet name, then character, then drawer). The shipped agent
started from the `mnist` run's networks (`init_from`, fine-tuning):

  python -m experiments.train --config=experiments/configs/omniglot_long.py \
      --data_dir=/data/omniglot --workdir=runs/omniglot --config.init_from=runs/mnist_long

and was then continued with the l2 reward (docs/levers.md, "Continuing the `omniglot` agent"):

  python -m experiments.train --config=experiments/configs/omniglot_long.py \
      --data_dir=/data/omniglot --workdir=runs/omniglot_l2 --config.init_from=runs/omniglot \
      --config.learner.policy_learning_rate=5e-4 --config.learner.reward=l2 \
      --config.learner.reward_scale=100

and then improved by two rounds of expert iteration: the programs of its rollout search, cloned in
(docs/levers.md, "Rollout search"):

  python -m experiments.trace_expert --expert=search --workdir=runs/omniglot_l2 \
      --dataset=omniglot --data_dir=/data/omniglot --split='background[:4000]' --out=runs/s1.npz
  python -m experiments.imitate --config=experiments/configs/omniglot_long.py \
      --config.init_from=runs/omniglot_l2 --traced=runs/s1.npz --workdir=runs/ox1 \
      --batch_size=32 --learning_rate=3e-4 --learning_rate_final=0.1 --updates=600 --max_minutes=0
  # then the same from runs/ox1, on background[4000:8000], 400 updates, into runs/ox2

and a third round, the agent's search of background[8000:12000] cloned in with a 16-pixel glimpse
added to the policy (its weights start at zero):

  python -m experiments.imitate --config=experiments/configs/omniglot_long.py \
      --config.init_from=runs/ox2 --config.policy.location_glimpse=16 --traced=runs/s3.npz \
      --workdir=runs/ogl1 --batch_size=32 --learning_rate=3e-4 --learning_rate_final=0.1 \
      --updates=600 --max_minutes=0

and then the l2 reward again, with the policy learning rate falling from 3e-4 to 3e-5 over 2,000
updates (docs/levers.md, "The falling learning rate on `omniglot`"; shipped at 2,055 updates):

  python -m experiments.train --config=experiments/configs/omniglot_long.py \
      --data_dir=/data/omniglot --workdir=runs/om1 --config.init_from=runs/ogl1 \
      --config.policy.location_glimpse=16 --config.learner.policy_learning_rate=3e-4 \
      --config.learner.policy_learning_rate_decay_updates=2000 \
      --config.learner.policy_learning_rate_final=0.1 --config.learner.reward=l2 \
      --config.learner.reward_scale=100

and then a second, gentler cycle of the same, from the agent the first cycle shipped (the `omniglot`
file then; shipped at 653 updates; docs/levers.md):

  python -m experiments.train --config=experiments/configs/omniglot_long.py \
      --data_dir=/data/omniglot --workdir=runs/oc2a --config.init_from=omniglot \
      --config.policy.location_glimpse=16 --config.learner.policy_learning_rate=1.5e-4 \
      --config.learner.policy_learning_rate_decay_updates=1000 \
      --config.learner.policy_learning_rate_final=0.1 --config.learner.reward=l2 \
      --config.learner.reward_scale=100

and then widened (torso 32 channels, fc and LSTM 256; `init_from` a narrower agent keeps how it
acts, `spiral_jax.networks.policy.widened`) and given two more cycles: 1.5e-4 to 1.5e-5 over 1,000
updates into runs/ow1, and from its checkpoint at 1,058 updates 2e-4 to 2e-5 over 1,500 updates
(docs/levers.md, "A wider policy"; shipped at 1,499 updates), each from a copy of a run that
holds only the checkpoint named (runs/oc2a at 653 updates, the agent the second cycle shipped):

  python -m experiments.train --config=experiments/configs/omniglot_long.py \
      --data_dir=/data/omniglot --workdir=runs/ow1 --config.init_from=runs/oc2a \
      --config.policy.location_glimpse=16 --config.policy.torso_channels=32 \
      --config.policy.fc_size=256 --config.policy.lstm_size=256 \
      --config.learner.policy_learning_rate=1.5e-4 \
      --config.learner.policy_learning_rate_decay_updates=1000 \
      --config.learner.policy_learning_rate_final=0.1 --config.learner.reward=l2 \
      --config.learner.reward_scale=100
  # then the same into runs/ow2 with --config.init_from=runs/ow1 (its checkpoint at 1,058
  # updates) --config.learner.policy_learning_rate=2e-4
  # --config.learner.policy_learning_rate_decay_updates=1500

and then fc and LSTM widened again to 512 and a third cycle from ow2's checkpoint at 1,846 updates
(docs/levers.md, "A third wide cycle"; shipped then at 1,137 updates): the ow1 command above into
runs/ow3x with --config.init_from=runs/ow2 --config.policy.fc_size=512
--config.policy.lstm_size=512 --config.learner.policy_learning_rate=2e-4
--config.learner.policy_learning_rate_decay_updates=1200; then from its checkpoint at 1,137 updates
the same again into runs/ow4 (checkpoint at 1,109 updates), and from that a fifth cycle into
runs/ow5a with --config.learner.policy_learning_rate=1.5e-4
--config.learner.policy_learning_rate_decay_updates=1000 (docs/levers.md, "A fourth and fifth
cycle"; shipped at 1,071 updates).

Commands that continue from the shipped `omniglot` carry its widths:
--config.policy.location_glimpse=16 --config.policy.torso_channels=32
--config.policy.fc_size=512 --config.policy.lstm_size=512.
"""

from experiments.configs import base
from experiments.configs import mnist_long

TRAIN = "background[:16260]"
VALIDATION = "background[16260:17380]"
TEST = "background[17380:]"


def get_config(size="small"):
  config = mnist_long.get_config(size)
  base.held_out(config, "omniglot", TRAIN, TEST)
  return config
