"""docs/quickstart.ipynb runs top to bottom (so that it never rots), as a user's Jupyter would."""

import os

from absl.testing import absltest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOK = os.path.join(ROOT, "docs", "quickstart.ipynb")


class QuickstartTest(absltest.TestCase):

  def test_runs_top_to_bottom(self):
    import nbclient  # pylint: disable=import-outside-toplevel
    import nbformat  # pylint: disable=import-outside-toplevel
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    for cell in notebook.cells:  # the committed outputs must not count
      if cell.cell_type == "code":
        cell.outputs = []
    client = nbclient.NotebookClient(notebook, timeout=900, kernel_name="python3",
                                     resources={"metadata": {"path": self.create_tempdir().full_path}})
    client.execute()  # raises CellExecutionError, naming the cell, on any error
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    kinds = [kind for o in outputs for kind in o.get("data", {})]
    self.assertRegex(text, r"agents that ship: \[[^\]]*'mnist'")
    self.assertIn("l2 to the targets:", text)
    self.assertIn("policy heads, from the action spec: ['where', 'radius']", text)
    self.assertIn("'updates':", text)  # the minute of training finished and summarised
    self.assertIn("image/svg+xml", kinds)
    self.assertGreaterEqual(kinds.count("image/png"), 4)  # paintings, re-render, curve, discs


if __name__ == "__main__":
  absltest.main()
