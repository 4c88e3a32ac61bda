"""benchmarks/agent_figures.py: a shipped agent's figures regenerate from its file and match the
record it was shipped with; a wrong agent name is one line and a non-zero exit."""

import json
import os
import subprocess
import sys

from absl.testing import absltest

from benchmarks import agent_figures
from experiments import setups
from spiral_jax import pretrained

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(*args):
  return subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "agent_figures.py"),
                         *args], cwd=ROOT, capture_output=True, text=True, timeout=900,
                        env=dict(os.environ, OMP_NUM_THREADS="1"))


class AgentFiguresTest(absltest.TestCase):

  def test_the_blind_agents_figures_regenerate(self):
    result = _run("--agents", "mnist_blind")
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    out = json.loads(result.stdout.strip().splitlines()[-1])
    self.assertAlmostEqual(out["mnist_blind_l2_ratio"], 1.0, delta=0.01)
    self.assertAlmostEqual(out["mnist_blind_recognised"], out["mnist_blind_recognised_recorded"],
                           delta=0.01)
    self.assertLess(out["max_l2_deviation"], 0.01)
    self.assertNotIn("mnist_l2_mean", out)  # only the agents asked for

  def test_an_unknown_agent_is_one_line_and_a_non_zero_exit(self):
    result = _run("--agents", "mnist,picasso")
    self.assertNotEqual(result.returncode, 0)
    self.assertEqual(result.stdout, "")
    self.assertEqual(result.stderr.strip().count("\n"), 0, result.stderr)
    self.assertIn("picasso", result.stderr)
    self.assertIn("mnist_small", result.stderr)  # the names that do ship

  def test_a_missing_celeba_directory_is_one_line_and_a_non_zero_exit(self):
    result = _run("--agents", "celeba", "--data_dir",
                  "celeba=" + os.path.join(ROOT, "no_such_dir"))
    self.assertNotEqual(result.returncode, 0)
    self.assertEqual(result.stdout, "")
    self.assertEqual(result.stderr.strip().count("\n"), 0, result.stderr)
    self.assertIn("no_such_dir", result.stderr)
    result = _run("--agents", "celeba", "--data_dir", "/data/celeba")  # no DATASET=
    self.assertNotEqual(result.returncode, 0)
    self.assertEqual(result.stderr.strip().count("\n"), 0, result.stderr)
    self.assertIn("DATASET=DIR", result.stderr)

  def test_only_celeba_of_the_shipped_agents_needs_the_users_data(self):
    needs = {name: setups.needs_user_data(pretrained.load(name).config.data["name"])
             for name in pretrained.names()}
    self.assertEqual({name for name, need in needs.items() if need}, {"celeba"})
    self.assertTrue(setups.needs_user_data("folder"))
    self.assertFalse(setups.needs_user_data("mnist_sample"))

  def test_compare_reports_each_figure_its_record_has(self):
    measured = {"l2_mean": 0.033, "recognised": 0.8, "blank_l2": 0.1}
    recorded = {"l2_mean": 0.030, "recognised": 0.85, "num_images": 10}
    out = agent_figures.compare("a", measured, recorded)
    self.assertEqual(out, {"a_l2_mean": 0.033, "a_l2_mean_recorded": 0.03, "a_l2_ratio": 1.1,
                           "a_recognised": 0.8, "a_recognised_recorded": 0.85})


if __name__ == "__main__":
  absltest.main()
