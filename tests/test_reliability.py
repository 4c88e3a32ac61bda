"""benchmarks/reliability.py --quick: fuzzed environments, a killed and resumed run, a faulty
renderer, command-line errors and hostile files, each with its outcome counted."""

import json
import os
import subprocess
import sys

from absl.testing import absltest
import numpy as np

from benchmarks import reliability

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class ReliabilityTest(absltest.TestCase):

  def test_quick_run(self):
    result = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "reliability.py"),
                             "--quick"], cwd=ROOT, capture_output=True, text=True, timeout=1200,
                            env=dict(os.environ, OMP_NUM_THREADS="1"))
    self.assertEqual(result.returncode, 0, result.stderr[-3000:])
    out = json.loads(result.stdout.strip().splitlines()[-1])
    problems = [line for line in result.stdout.splitlines() if line.startswith("problem:")]
    self.assertEqual(problems, [])
    self.assertEqual(out["fuzz_actions"], out["fuzz_valid"] + out["fuzz_rejected"])
    self.assertGreater(out["fuzz_rejected"], 0.3 * out["fuzz_actions"])
    self.assertEqual(out["fuzz_unexpected"], 0)
    self.assertGreaterEqual(out["kills"], 1)
    self.assertEqual(out["kills_lost"], 0)
    self.assertEqual(out["faults_unnamed"], 0)
    self.assertLess(out["fault_stop_s_max"], 10.0)
    self.assertEqual(out["cli_errors_unclear"], 0)
    self.assertGreaterEqual(out["bad_files"], 15)
    self.assertEqual(out["bad_files_unclear"], 0)


class RssGrowthTest(absltest.TestCase):

  def test_growth_compares_window_medians_not_single_samples(self):
    seconds = np.arange(0, 1800, 10)
    swinging = [(t, 1000.0 + (100.0 if (t // 10) % 2 else -100.0)) for t in seconds]
    growth, start_mb, swing = reliability.rss_growth(swinging)
    self.assertAlmostEqual(growth, 0.0)
    self.assertAlmostEqual(start_mb, 1000.0)
    self.assertAlmostEqual(swing, 1100.0 / 900.0 - 1.0)
    leaking = [(t, 1000.0 + t / 10.0) for t in seconds]  # +6 MB a minute
    growth, _, _ = reliability.rss_growth(leaking)
    self.assertGreater(growth, 0.1)
    self.assertTrue(np.isnan(reliability.rss_growth(leaking[:50])[0]))  # under 15 minutes


if __name__ == "__main__":
  absltest.main()
