"""Regenerates the shipped agents' figures (the README's result rows) and compares each with the
record its file was shipped with: every agent is evaluated as `spiral-jax evaluate --agent=NAME`
does (greedy, its own held-out targets and count), with the renderer its record names.

  python benchmarks/agent_figures.py                        # every agent whose test data ships
  python benchmarks/agent_figures.py --agents mnist,omniglot --libmypaint
  python benchmarks/agent_figures.py --data_dir celeba=/data/celeba   # adds celeba (user's data)

For each agent and figure (l2_mean, recognised, confident, class_min_share, count_accuracy,
object_accuracy, whichever it has): NAME_FIGURE as measured now, NAME_FIGURE_recorded as shipped,
and NAME_l2_ratio (measured over recorded l2); with --libmypaint the same with `_libmypaint` after
NAME. `max_l2_deviation` is the largest |ratio - 1| and `max_share_deviation` the largest
difference in a share, over all agents: both near 0 when the shipped figures regenerate.
About 4 minutes for every agent with --libmypaint (3.5 for those whose test data ships, 0.75 for
celeba), measured with a training run sharing the two cores.
The last line printed is one JSON object.
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

from experiments import measure  # pylint: disable=wrong-import-position
from experiments import setups  # pylint: disable=wrong-import-position
from spiral_jax import pretrained  # pylint: disable=wrong-import-position

SHARES = ("recognised", "confident", "class_min_share", "count_accuracy", "object_accuracy")


def compare(name, measured, recorded):
  """The flat figures of one agent's evaluation against its record: measured, recorded, ratio."""
  out = {}
  if "l2_mean" in recorded:
    out[f"{name}_l2_mean"] = float(f"{measured['l2_mean']:.4g}")
    out[f"{name}_l2_mean_recorded"] = float(f"{recorded['l2_mean']:.4g}")
    out[f"{name}_l2_ratio"] = round(measured["l2_mean"] / recorded["l2_mean"], 4)
  for share in SHARES:
    if share in recorded:
      out[f"{name}_{share}"] = round(measured[share], 4)
      out[f"{name}_{share}_recorded"] = round(recorded[share], 4)
  return out


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--agents", default="", help="Comma-separated shipped agents (default: "
                      "every one whose test data ships or is given by --data_dir).")
  parser.add_argument("--libmypaint", action="store_true",
                      help="Also the painting agents' libmypaint figures.")
  parser.add_argument("--data_dir", action="append", default=[], metavar="DATASET=DIR",
                      help="Where a dataset whose test data does not ship lies, for the agents "
                      "trained on it, e.g. celeba=/data/celeba (repeatable).")
  args = parser.parse_args()
  data_dirs = {}
  for given in args.data_dir:
    dataset, _, directory = given.partition("=")
    if not dataset or not directory:
      sys.exit(f"agent_figures: --data_dir {given!r} is not DATASET=DIR, e.g. "
               "--data_dir celeba=/data/celeba.")
    data_dirs[dataset] = directory
  names = [n for n in args.agents.split(",") if n] or pretrained.names()
  unknown = sorted(set(names) - set(pretrained.names()))
  if unknown:
    sys.exit(f"agent_figures: no shipped agent named {', '.join(unknown)}; shipped: "
             f"{', '.join(pretrained.names())}.")
  out = {}
  for name in names:
    agent = pretrained.load(name)
    own = setups.own_dataset(agent.config.data["name"])
    data_dir = None
    if setups.needs_user_data(own):
      if own not in data_dirs:
        print(f"agent_figures: skipping {name}: its test data ({own}) does not ship; give "
              f"--data_dir {own}=DIR.", file=sys.stderr)
        continue
      data_dir = data_dirs[own]
    for renderer, recorded in agent.info["evaluation"].items():
      is_own = renderer == agent.config.env["name"]
      if not is_own and not args.libmypaint:
        continue
      start = time.perf_counter()
      try:
        measured, _, _ = measure.evaluate(agent=name, data_dir=data_dir,
                                          num_images=recorded["num_images"],
                                          renderer=None if is_own else renderer)
      except (ValueError, OSError) as error:  # e.g. a --data_dir without the images
        sys.exit(f"agent_figures: {name}: {error}")
      label = name if is_own else f"{name}_{renderer}"
      if (measured.get("dataset"), measured.get("split")) != (recorded.get("dataset"),
                                                              recorded.get("split")):
        print(f"agent_figures: {label} was evaluated on {measured.get('dataset')} "
              f"{measured.get('split')}, its record on {recorded.get('dataset')} "
              f"{recorded.get('split')}.", file=sys.stderr)
      figures = compare(label, measured, recorded)
      figures[f"{label}_seconds"] = round(time.perf_counter() - start, 1)
      print(json.dumps(figures), file=sys.stderr)
      out.update(figures)
  ratios = [abs(v - 1.0) for k, v in out.items() if k.endswith("_l2_ratio")]
  shares = [abs(out[k] - out[f"{k}_recorded"]) for k in list(out)
            if k.endswith(SHARES) and f"{k}_recorded" in out]
  out["max_l2_deviation"] = round(max(ratios, default=0.0), 4)
  out["max_share_deviation"] = round(max(shares, default=0.0), 4)
  print(json.dumps(out))


if __name__ == "__main__":
  main()
