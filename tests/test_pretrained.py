"""Shipped agents: they load without an environment, paint with one command, and paint far better
than the same network with random weights; and a run ships as one small file."""

import json
import os
import subprocess
import sys

from absl.testing import absltest
import jax
import numpy as np
from PIL import Image, ImageDraw

from experiments import measure
from experiments import setups
from experiments.configs import mnist_conditional
from spiral_jax import pretrained
from spiral_jax import training
from tests.portraits import portraits

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.path.join(os.path.dirname(sys.executable), "spiral-jax")



class ShippedAgentsTest(absltest.TestCase):

  def test_the_main_jobs_agent_ships(self):
    self.assertIn("mnist_small", pretrained.names())
    for name in pretrained.names():
      path = pretrained.path_of(name)
      self.assertLess(os.path.getsize(path), 20e6, name)
      agent = pretrained.load(name)
      self.assertGreater(agent.info["frames"], 0)
      figure = "l2_mean" if agent.policy.conditional else "confident"
      self.assertIn(figure, agent.info["evaluation"][agent.config.env["name"]])

  def test_shipped_agents_paint_far_better_than_random_weights(self):
    """Conditional agents: far lower l2 than random weights (and, on MNIST, far more digits
    recognised), on their shipped held-out sample (CelebA, which ships none: on made-up
    portraits)."""
    for name in pretrained.names():
      agent = pretrained.load(name)
      targets = {}  # the shipped sample of the agent's data, or else made-up portraits
      own = setups.own_dataset(agent.config.data["name"])
      # (a MuJoCo Scenes agent rebuilds the generated test scenes)
      if agent.policy.conditional and own not in setups.SAMPLES and own != "mujoco_scenes":
        targets = {"dataset": "folder",
                   "data_dir": portraits(self.create_tempdir().full_path, 64)}
      trained, renders, _ = measure.evaluate(agent=name, num_images=64, batch_size=64, **targets)
      random_file = os.path.join(self.create_tempdir().full_path, "random.npz")
      pretrained.save(random_file, agent.config.to_dict(),
                      agent.policy.init(jax.random.PRNGKey(1)), agent.observation_spec,
                      agent.action_spec, dict(agent.info))
      random, _, _ = measure.evaluate(agent=random_file, num_images=64, batch_size=64, **targets)
      print(name, trained, random)
      self.assertEqual(trained["num_images"], 64)
      self.assertLen(renders, 64)
      if not agent.policy.conditional:
        # Samples: painted, varied (not one picture), and far more often digits the classifier
        # is sure of than random weights' scribbles.
        self.assertGreater(np.mean((renders < 0.5).any(axis=(1, 2, 3))), 0.9, name)
        self.assertGreater(len({r.tobytes() for r in renders}), 32, name)
        if "confident" in trained:
          self.assertGreater(trained["confident"], random["confident"] + 0.2, name)
        continue
      self.assertLess(trained["l2_mean"], 0.75 * random["l2_mean"], name)
      self.assertLess(trained["l2_mean"], trained["blank_l2"], name)
      if "recognised" in trained:  # MNIST digits
        self.assertLess(trained["l2_mean"], 0.75 * trained["blank_l2"], name)
        self.assertGreater(trained["recognised"], random["recognised"] + 0.3, name)

  def test_command_line(self):
    result = subprocess.run([CLI, "agents"], cwd=ROOT, capture_output=True, text=True,
                            timeout=600)
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    self.assertIn("mnist_small:", result.stdout)
    image = os.path.join(self.create_tempdir().full_path, "digit.png")
    canvas = Image.new("L", (28, 28), 255)
    ImageDraw.Draw(canvas).line([(8, 4), (20, 4), (12, 24)], fill=0, width=3)
    canvas.save(image)
    out_dir = self.create_tempdir().full_path
    result = subprocess.run([CLI, "paint", "--agent=mnist_small", f"--image={image}",
                             f"--out_dir={out_dir}", "--big_size=64"], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    for name in ("painting.png", "painting.svg", "painting.gif", "program.json", "trace.png"):
      self.assertTrue(os.path.exists(os.path.join(out_dir, name)), name)
    held_out = self.create_tempdir().full_path
    result = subprocess.run([CLI, "paint", "--agent=mnist_small", "--held_out=2",
                             f"--out_dir={held_out}", "--big_size=64"], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    self.assertIn("Painted held-out target 2", result.stdout)
    trace = np.asarray(Image.open(os.path.join(held_out, "trace.png")))
    target = measure.evaluate(agent="mnist_small", num_images=3)[2][2]
    # the trace starts with the target as the agent saw it, enlarged to 64x64
    step = 64 // target.shape[0]
    self.assertLess(np.abs(trace[:64:step, :64:step, 0] / 255.0 - target[..., 0]).max(), 0.02)
    output = os.path.join(self.create_tempdir().full_path, "e.json")
    result = subprocess.run([CLI, "evaluate", "--agent=mnist_small", "--num_images=16",
                             f"--output={output}"], cwd=ROOT, capture_output=True, text=True,
                            timeout=600)
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    for key in ("l2_mean", "l2_ci95", "recognised", "blank_l2", "num_images"):
      self.assertIn(key, summary)
    self.assertEqual(summary["num_images"], 16)


class ShipTest(absltest.TestCase):

  def test_a_run_ships_loads_and_paints(self):
    config = mnist_conditional.get_config("small")
    config.update_from_flattened_dict({
        "max_minutes": 0.0, "max_updates": 2, "progress": False, "learner.batch_size": 8,
        "env.kwargs.canvas_size": 16, "env.kwargs.grid_size": 4, "env.kwargs.episode_length": 3})
    workdir = self.create_tempdir().full_path
    training.run(config, setups.make_setup(config), workdir)
    path = os.path.join(self.create_tempdir().full_path, "tiny.npz")
    result = subprocess.run([CLI, "ship", f"--workdir={workdir}", "--name=tiny", f"--out={path}",
                             "--num_images=16", "--note=a test"], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    info = json.loads(result.stdout.strip().splitlines()[-1])
    self.assertEqual(info["frames"], 2 * 8 * 3)
    self.assertEqual(set(info["evaluation"]), {"jax_paint", "libmypaint"})
    agent = pretrained.load(path)
    self.assertEqual(agent.name, "tiny")
    self.assertEqual(agent.info["note"], "a test")
    _, params, _ = setups.load_run(workdir)
    for a, b in zip(jax.tree.leaves(agent.params), jax.tree.leaves(params)):
      np.testing.assert_array_equal(a, b)
    image = os.path.join(self.create_tempdir().full_path, "x.png")
    Image.new("L", (16, 16), 255).save(image)
    out_dir = self.create_tempdir().full_path
    result = subprocess.run([CLI, "paint", f"--agent={path}", f"--image={image}",
                             f"--out_dir={out_dir}", "--big_size=32"], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    with open(os.path.join(out_dir, "program.json"), encoding="utf-8") as f:
      self.assertLen(json.load(f)["actions"], 3)
    with self.assertRaisesRegex(pretrained.AgentError, "No agent 'nope'.*mnist_small"):
      pretrained.load("nope")
    result = subprocess.run([CLI, "ship", f"--workdir={workdir}", "--name=bad name!"], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    self.assertNotEqual(result.returncode, 0)
    self.assertIn("letters, digits", result.stderr)


if __name__ == "__main__":
  absltest.main()
