"""Population-based training on Ray Tune: the logic behind `spiral-jax pbt` (experiments/pbt.py,
which documents it), without flags, so that Ray's workers and the tests import it alone."""

import json
import logging
import math
import os
import random
import shutil
import tempfile

import ml_collections
import numpy as np

from experiments import setups
from spiral_jax import metrics as metrics_lib
from spiral_jax import training

MUTATED = ("entropy_cost", "policy_learning_rate", "discriminator_learning_rate")
# What a member's history keeps of each report (members.json, the plot).
HISTORY_KEYS = ("frames", "updates", "fitness", "exploited") + MUTATED
# Reported checkpoints each member keeps in its trial directory. Ray keeps them all (its own
# retention fails when PBT registers a member's newest checkpoint a second time, which then stops
# exploits), so the member prunes its older ones itself; an exploit copies the one it clones
# first (`_exploits_scheduler`), so pruning never takes a checkpoint from under a restore.
CHECKPOINTS_KEPT = 4
# Each member's reports, one JSON line each, in its run directory: its history (Ray's own
# per-trial results lose a member's reports after it was restored from another's checkpoint).
REPORTS_FILE = "reports.jsonl"
# Under the population's directory: the checkpoints being cloned, until their clones report.
EXPLOITS_DIR = "exploits"


def _import_ray():
  try:
    import ray  # pylint: disable=import-outside-toplevel
    from ray import tune  # pylint: disable=import-outside-toplevel
  except ImportError as e:
    raise ImportError("Population-based training runs on Ray Tune, which is not installed: "
                      "pip install 'spiral-jax[pbt]' (or pip install 'ray[tune]').") from e
  return ray, tune


def fitness_of(metrics, fitness, conditional):
  """The member's fitness from a report's metrics: -l2 or D's score (see the module doc)."""
  if fitness == "auto":
    fitness = "l2" if conditional else "score"
  if fitness not in ("l2", "score"):
    raise ValueError(f"pbt.fitness must be 'auto', 'l2' or 'score', not {fitness!r}.")
  value = metrics.get(fitness)
  if value is None:
    raise ValueError(f"The run logs no {fitness!r} to use as fitness: choose pbt.fitness="
                     f"{'score' if fitness == 'l2' else 'l2'}.")
  return -value if fitness == "l2" else value


def member_config(base, hypers):
  """The run config (a ConfigDict) of a member: the base config with its hyper-parameters."""
  config = ml_collections.ConfigDict(base)
  for name in MUTATED:
    if name in hypers:
      config.learner[name] = float(hypers[name])
  config.progress = False
  return config


def initial_hypers(ranges, population, seed):
  """Each member's first hyper-parameters: drawn log-uniformly from the ranges."""
  rng = np.random.default_rng(seed)
  return [{name: float(math.exp(rng.uniform(math.log(ranges[name][0]),
                                            math.log(ranges[name][1]))))
           for name in MUTATED} for _ in range(population)]


def pbt_settings(config):
  """The config's `pbt` section over the defaults, and the mutated values' (low, high) ranges."""
  settings = dict(base_pbt_settings(), **dict(training.training_config(config).pbt))
  return settings, {name: tuple(settings[name]) for name in MUTATED}


def _restore_into(checkpoint, workdir):
  """Puts a reported checkpoint (an orbax step directory and member.json) into workdir's
  checkpoints/ in place of the member's own; returns what member.json says of its writer."""
  checkpoints = os.path.join(workdir, "checkpoints")
  with checkpoint.as_directory() as directory:
    with open(os.path.join(directory, "member.json"), encoding="utf-8") as f:
      writer = json.load(f)
    shutil.rmtree(checkpoints, ignore_errors=True)
    os.makedirs(checkpoints)
    step = str(writer["updates"])
    shutil.copytree(os.path.join(directory, step), os.path.join(checkpoints, step))
  return writer


def reported_checkpoint(trial_dir, updates):
  """The checkpoint directory (checkpoint_NNNNNN) that a member reported at `updates` (its
  member.json says so) in its trial directory, or None where it is gone or not a local path."""
  if updates is None or not os.path.isdir(trial_dir):
    return None
  for name in sorted((n for n in os.listdir(trial_dir) if n.startswith("checkpoint_")),
                     reverse=True):
    try:
      with open(os.path.join(trial_dir, name, "member.json"), encoding="utf-8") as f:
        if json.load(f)["updates"] == updates:
          return os.path.join(trial_dir, name)
    except (OSError, ValueError, KeyError):
      continue
  return None


def _is_exploit_copy(path, exploits_dir):
  return os.path.abspath(path).startswith(os.path.abspath(exploits_dir) + os.sep)


def _exploits_scheduler(pbt_class):
  """`pbt_class` (Ray's PopulationBasedTraining) where a member behind clones the checkpoint that
  the member ahead reported with the score that ranked it, copied under `exploits_dir` first.

  Ray's own asks the member ahead to save again and clones what that resolves to, which is
  nothing while members pause and restart (in a population of two, about 20 exploits skipped to
  1 made); and a copy cannot be pruned (`prune_checkpoints`) before the clone restores it. A
  member that was just cloned into is not ranked until it reports again (Ray's would rank it by
  the score of what it was). Where the trial directories are not local paths (cloud storage),
  Ray's own way is kept."""

  class ClonesReportedCheckpoints(pbt_class):

    def __init__(self, exploits_dir, **kwargs):
      super().__init__(**kwargs)
      self._exploits_dir = exploits_dir
      self._copies = 0

    def _checkpoint_or_exploit(self, trial, tune_controller, upper_quantile, lower_quantile):
      if not os.path.isdir(trial.path):
        return super()._checkpoint_or_exploit(trial, tune_controller, upper_quantile,
                                              lower_quantile)
      if trial not in lower_quantile:
        return None
      trial_to_clone = random.choice(upper_quantile)
      state = self._trial_state[trial_to_clone]
      updates = (state.last_result or {}).get("updates")
      source = reported_checkpoint(trial_to_clone.path, updates)
      copied = os.path.join(self._exploits_dir,
                            f"{trial_to_clone.trial_id}-{updates}-{self._copies}")
      self._copies += 1
      try:
        if source is None:
          raise FileNotFoundError(f"no checkpoint at update {updates}")
        shutil.copytree(source, copied)
      except OSError as e:
        shutil.rmtree(copied, ignore_errors=True)
        logging.info("PBT: %s's checkpoint is gone (%s); %s goes on without an exploit.",
                     trial_to_clone.trial_id, e, trial.trial_id)
        return None
      from ray import tune  # pylint: disable=import-outside-toplevel
      state.last_checkpoint = tune.Checkpoint.from_directory(copied)
      self._exploit(tune_controller, trial, trial_to_clone)
      # Its score was of what it no longer is: it is ranked again when it next reports.
      self._trial_state[trial].last_score = None
      return None

  return ClonesReportedCheckpoints


def prune_checkpoints(trial_dir, keep):
  """Deletes all but the newest `keep` reported checkpoints (checkpoint_NNNNNN) in trial_dir (a
  local path; remote storage is left to its own retention)."""
  if not os.path.isdir(trial_dir):
    return
  names = sorted(n for n in os.listdir(trial_dir)
                 if n.startswith("checkpoint_") and os.path.isdir(os.path.join(trial_dir, n)))
  for name in names[:max(0, len(names) - keep)]:
    shutil.rmtree(os.path.join(trial_dir, name), ignore_errors=True)


def trainable(tune_config):
  """One member: trains its run directory, reporting every perturbation interval."""
  _, tune = _import_ray()
  import jax  # pylint: disable=import-outside-toplevel
  # A member restarts whenever Ray pauses it (exploits pause the others too): compiled programs
  # are cached on disk, so that a restart does not compile again.
  jax.config.update("jax_compilation_cache_dir", tune_config["cache_dir"])
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
  context = tune.get_context()
  trial_id = context.get_trial_id()
  workdir = os.path.join(context.get_trial_dir(), "run")
  os.makedirs(workdir, exist_ok=True)
  hypers = {name: float(tune_config[name]) for name in MUTATED}
  config = member_config(tune_config["base"], hypers)
  tc = training.training_config(config)
  interval = int(tune_config["perturbation_interval"])
  checkpoint = tune.get_checkpoint()
  restored = _restore_into(checkpoint, workdir) if checkpoint else None
  # a copy made for this exploit (`_exploits_scheduler`), deleted once this member has reported
  exploited_copy = checkpoint.path if checkpoint and _is_exploit_copy(
      checkpoint.path, tune_config["exploits_dir"]) else None
  event = None
  if restored:  # an exploit (another member's checkpoint), or this member paused and resumed
    event = {"trial_id": trial_id, "from_trial": restored["trial_id"],
             "exploit": restored["trial_id"] != trial_id, "updates": restored["updates"],
             "hypers_before": restored["hypers"], "hypers_after": hypers}
    with open(os.path.join(workdir, "restores.jsonl"), "a", encoding="utf-8") as f:
      f.write(json.dumps(event) + "\n")
  setup = setups.make_setup(config)
  # Where Ray persists this member's reported checkpoints (its trial directory in storage).
  checkpoints_dir = context.get_storage().trial_fs_path

  def report(metrics, step_dir):
    nonlocal event, exploited_copy
    with tempfile.TemporaryDirectory() as tmp:
      shutil.copytree(step_dir, os.path.join(tmp, os.path.basename(step_dir)))
      with open(os.path.join(tmp, "member.json"), "w", encoding="utf-8") as f:
        json.dump({"trial_id": trial_id, "updates": metrics["updates"], "hypers": hypers}, f)
      result = {k: v for k, v in metrics.items() if v is not None}
      result.update(hypers)
      result["fitness"] = fitness_of(metrics, tc.pbt.get("fitness", "auto"), tc.conditional)
      result["exploited"] = event["from_trial"] if event and event["exploit"] else ""
      event = None
      with open(os.path.join(workdir, REPORTS_FILE), "a", encoding="utf-8") as f:
        f.write(json.dumps({k: np.asarray(result[k]).item() for k in HISTORY_KEYS
                            if k in result}) + "\n")
      prune_checkpoints(checkpoints_dir, CHECKPOINTS_KEPT - 1)
      tune.report(result, checkpoint=tune.Checkpoint.from_directory(tmp))
    if exploited_copy:  # Ray now restores this member from the checkpoint just reported
      shutil.rmtree(exploited_copy, ignore_errors=True)
      exploited_copy = None

  training.run(config, setup, workdir, resume=restored is not None, report=report,
               report_every_updates=interval)


def run_population(config, workdir, population=None, perturbation_interval=None,
                   max_frames=0, address=None, cpus_per_member=0.0, seed=0):
  """Trains `config` as a population; returns a summary dict (see the module doc)."""
  ray, tune = _import_ray()
  from ray.tune.schedulers import PopulationBasedTraining  # pylint: disable=import-outside-toplevel
  tc = training.training_config(config)
  settings, ranges = pbt_settings(config)
  population = int(population or settings["population"])
  interval = int(perturbation_interval or settings["perturbation_interval"])
  if population < 2:
    raise ValueError(f"A population needs at least 2 members, not {population}.")
  if max_frames:
    config.max_frames = int(max_frames)
  config.max_minutes = 0.0 if max_frames else config.max_minutes
  workdir = os.path.abspath(workdir)
  os.makedirs(workdir, exist_ok=True)
  if not ray.is_initialized():
    if address:
      ray.init(address=address, log_to_driver=False)
    else:
      ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
  cpus = cpus_per_member or max(0.1, ray.available_resources().get("CPU", 1.0) / population)
  starts = initial_hypers(ranges, population, seed)
  mutations = {name: tune.loguniform(*ranges[name]) for name in MUTATED}
  exploits_dir = os.path.join(workdir, EXPLOITS_DIR)
  scheduler = _exploits_scheduler(PopulationBasedTraining)(
      exploits_dir, time_attr="training_iteration", perturbation_interval=1,
      hyperparam_mutations=mutations, quantile_fraction=0.25, resample_probability=0.25,
      synch=False)
  base = config.to_dict()
  param_space = {"base": base, "perturbation_interval": interval, "exploits_dir": exploits_dir,
                 # the user's JAX compilation cache if there is one, else the population's
                 "cache_dir": (os.environ.get("JAX_COMPILATION_CACHE_DIR")
                               or os.path.join(workdir, "jax_cache")),
                 "member": tune.grid_search(list(range(population)))}
  for name in MUTATED:  # the start of member i is starts[i] (a function of the seed)
    param_space[name] = tune.sample_from(
        lambda config, name=name: starts[config["member"]][name])
  tuner = tune.Tuner(
      tune.with_resources(trainable, {"cpu": cpus}),
      param_space=param_space,
      tune_config=tune.TuneConfig(scheduler=scheduler, metric="fitness", mode="max",
                                  reuse_actors=False),
      run_config=tune.RunConfig(name="pbt", storage_path=workdir, verbose=0,
                                checkpoint_config=tune.CheckpointConfig(num_to_keep=None),
                                failure_config=tune.FailureConfig(fail_fast=True)))
  results = tuner.fit()
  errors = [r.error for r in results if r.error]
  if errors:
    raise RuntimeError(f"{len(errors)} member(s) failed; the first: {errors[0]}")
  shutil.rmtree(exploits_dir, ignore_errors=True)
  members = _histories(results)
  best = results.get_best_result(metric="fitness", mode="max", scope="last")
  best_dir = _best_run(best, workdir)
  _plot(members, os.path.join(workdir, "pbt.png"), tc.conditional)
  with open(os.path.join(workdir, "members.json"), "w", encoding="utf-8") as f:
    json.dump(members, f, indent=1)
  exploits = sum(len(m["exploits"]) for m in members)
  return {"population": population, "perturbation_interval": interval,
          "exploits": exploits, "best_trial": best.metrics["trial_id"],
          "best_fitness": float(best.metrics["fitness"]),
          "best_frames": int(best.metrics["frames"]), "best_dir": best_dir,
          "picture": os.path.join(workdir, "pbt.png")}


def base_pbt_settings():
  """The defaults of the `pbt` section (experiments/configs/base.py), for configs without one."""
  from experiments.configs import base  # pylint: disable=import-outside-toplevel
  return base.get_config("small").pbt.to_dict()


def _records(path):
  """The JSON lines of a member's file (`metrics.read_jsonl`), none where it does not exist."""
  return metrics_lib.read_jsonl(path) if os.path.exists(path) else []


def _histories(results):
  """Each member's reports (frames, fitness, hyper-parameters) and restores."""
  members = []
  for result in results:
    history = _records(os.path.join(result.path, "run", REPORTS_FILE))
    restores = _records(os.path.join(result.path, "run", "restores.jsonl"))
    members.append({"trial_id": result.metrics["trial_id"], "path": result.path,
                    "history": history, "exploits": [r for r in restores if r["exploit"]],
                    "resumes": [r for r in restores if not r["exploit"]]})
  return members


def _best_run(best, workdir):
  """Copies the best member's newest checkpoint and metrics into WORKDIR/best (a run dir)."""
  best_dir = os.path.join(workdir, "best")
  shutil.rmtree(best_dir, ignore_errors=True)
  _restore_into(best.checkpoint, best_dir)
  for name in ("metrics.jsonl", "metrics.csv"):
    source = os.path.join(best.path, "run", name)
    if os.path.exists(source):
      shutil.copy(source, os.path.join(best_dir, name))
  return best_dir


def _plot(members, path, conditional):
  """Each member's fitness and hyper-parameters against frames, one panel each."""
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
  names = ("fitness",) + MUTATED
  fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.4))
  for i, member in enumerate(members):
    colour = plt.cm.tab20(i % 20)
    frames = [h["frames"] for h in member["history"]]
    for ax, name in zip(axes, names):
      ax.plot(frames, [h[name] for h in member["history"]], color=colour, lw=1.2,
              drawstyle="steps-post" if name != "fitness" else "default")
    for restore in member["exploits"]:  # the member continued from a better one
      at = [h["frames"] for h in member["history"] if h["updates"] >= restore["updates"]]
      if at:
        axes[0].axvline(at[0], color=colour, lw=0.6, ls=":")
  titles = {"fitness": "fitness (-l2)" if conditional else "fitness (D score)"}
  for ax, name in zip(axes, names):
    ax.set_title(titles.get(name, name))
    ax.set_xlabel("frames")
    if name != "fitness":
      ax.set_yscale("log")
  fig.suptitle(f"population-based training: {len(members)} members (dotted: exploits)")
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)


