"""Multi-host training on one machine: two processes joined by `jax.distributed`, each giving half
of the batch, make the same update as one process with the whole batch."""

import os
import socket
import subprocess
import sys
import tempfile

from absl.testing import absltest
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCRIPT = r"""
import sys
import jax
process_id, num_processes, address, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
if num_processes > 1:
  jax.distributed.initialize(address, num_processes, process_id)
import numpy as np
from spiral_jax import actor as actor_lib, learner as learner_lib, training
from tests import test_training as tt

config = tt.small_config()
setup = tt.paint_setup(functional=False)
policy, disc, lc = training.build_agent(config, setup)
state = learner_lib.init(policy, disc, lc, jax.random.PRNGKey(0))
envs = [setup.env_factory() for _ in range(8)]
batch = actor_lib.run_episodes(envs, policy, jax.jit(policy.step), state.policy_params,
                               jax.random.PRNGKey(1), np.repeat(setup.images, 8, axis=0))
share = 8 // num_processes
local = jax.tree.map(lambda x: x[process_id * share:(process_id + 1) * share], batch)
learner = learner_lib.Learner(policy, disc, lc, state)
assert learner.num_devices == num_processes, learner.num_devices
learner.update_policy(local, jax.random.PRNGKey(2))
np.savez(out, *[np.asarray(x) for x in jax.tree.leaves(learner.host_state().policy_params)])
print("DONE", jax.process_index(), jax.process_count())
"""


def _free_port():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


class MultiHostTest(absltest.TestCase):

  def test_two_processes_make_the_same_update_as_one(self):
    tmp = tempfile.mkdtemp()
    env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS="")
    address = f"127.0.0.1:{_free_port()}"
    single = subprocess.run([sys.executable, "-c", SCRIPT, "0", "1", address,
                             os.path.join(tmp, "single.npz")], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    self.assertEqual(single.returncode, 0, single.stderr[-3000:])
    workers = [subprocess.Popen([sys.executable, "-c", SCRIPT, str(i), "2", address,
                                 os.path.join(tmp, f"host{i}.npz")], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for i in range(2)]
    outputs = [w.communicate(timeout=300) for w in workers]
    for worker, (out, err) in zip(workers, outputs):
      self.assertEqual(worker.returncode, 0, err[-3000:])
      self.assertIn("DONE", out)
    expected = np.load(os.path.join(tmp, "single.npz"))
    for i in range(2):
      got = np.load(os.path.join(tmp, f"host{i}.npz"))
      for name in expected.files:
        # A share of one Adam step (lr 3e-3): see test_multidevice.
        np.testing.assert_allclose(got[name], expected[name], rtol=0, atol=1.5e-4)


if __name__ == "__main__":
  absltest.main()
