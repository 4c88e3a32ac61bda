"""The agent reads action specs on its own: scalars and grid locations."""

import ast
import pathlib

from absl.testing import absltest
from dm_env import specs as dm_specs
import numpy as np

from environments import libmypaint
from spiral_jax import specs

ROOT = pathlib.Path(__file__).resolve().parents[1]


class SpecsTest(absltest.TestCase):

  def test_libmypaint_spec(self):
    comps = specs.components(libmypaint.LibMyPaint(grid_size=16).action_spec())
    by_name = {c.name: c for c in comps}
    self.assertEqual([c.name for c in comps], ["flag", "end", "control", "size", "pressure",
                                               "red", "green", "blue"])
    self.assertEqual(by_name["end"].kind, "location")
    self.assertEqual(by_name["end"].grid, (16, 16))
    self.assertEqual(by_name["end"].num_values, 256)
    self.assertEqual(by_name["control"].kind, "location")
    self.assertEqual((by_name["flag"].kind, by_name["flag"].num_values), ("scalar", 2))
    self.assertEqual(by_name["size"].num_values, 6)
    self.assertEqual(by_name["red"].num_values, 20)

  def test_rectangular_grid_and_index_round_trip(self):
    comp = specs.component("where", dm_specs.BoundedArray((2,), np.int32, 0, [7, 3]))
    self.assertEqual((comp.grid, comp.num_values), ((8, 4), 32))
    locations = np.array([[x, y] for y in range(4) for x in range(8)])
    index = specs.location_to_index(locations, comp.grid)
    np.testing.assert_array_equal(index, np.arange(32))
    np.testing.assert_array_equal(specs.index_to_location(index, comp.grid), locations)

  def test_unsupported_components_are_refused(self):
    with self.assertRaisesRegex(ValueError, "integer components only"):
      specs.component("angle", dm_specs.BoundedArray((), np.float32, 0.0, 1.0))
    with self.assertRaisesRegex(ValueError, r"shape \(3,\)"):
      specs.component("xyz", dm_specs.BoundedArray((3,), np.int32, 0, 5))
    with self.assertRaisesRegex(ValueError, "minimum 0"):
      specs.component("offset", dm_specs.BoundedArray((), np.int32, -2, 2))
    with self.assertRaisesRegex(ValueError, "non-empty dict"):
      specs.components({})

  def test_agent_library_never_imports_environments(self):
    for path in (ROOT / "spiral_jax").rglob("*.py"):
      for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
          names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
          names = [node.module]
        for name in names:
          self.assertFalse(name == "environments" or name.startswith("environments."),
                           f"{path.relative_to(ROOT)} imports {name}")


if __name__ == "__main__":
  absltest.main()
