"""Checkpoints with orbax: the whole training state, written atomically, restored exactly.

A checkpoint holds a pytree of arrays (parameters, optimiser states, the replay, counters) and a
small JSON of metadata (frames, config). orbax writes each step into a temporary directory and
renames it when complete, so a process killed mid-save (even by SIGKILL) leaves the previous
checkpoints intact; unfinished temporary directories are never read and are removed at the next
start. Only the newest `max_to_keep` checkpoints are kept.
"""

import os

import jax
import numpy as np
import orbax.checkpoint as ocp


class CheckpointError(RuntimeError):
  """A checkpoint cannot be read or does not fit this run; the message says what to do."""


class Checkpointer:
  """Saves and restores a run's checkpoints in `directory`. With `create=False` (reading a run
  that should exist), a missing directory is a CheckpointError and nothing is created."""

  def __init__(self, directory, max_to_keep=3, create=True):
    self.directory = os.path.abspath(directory)
    if not create and not os.path.isdir(self.directory):
      raise CheckpointError(f"No checkpoints in {os.path.dirname(self.directory)}: it is not a "
                            "training run (it has no checkpoints/ directory); train there first, "
                            "or give a run's workdir.")
    options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=create,
                                           enable_async_checkpointing=False,
                                           cleanup_tmp_directories=True)
    self._manager = ocp.CheckpointManager(self.directory, options=options,
                                          item_names=("state", "meta"))

  def latest_step(self):
    return self._manager.latest_step()

  def save(self, step, state, meta):
    """Saves a pytree `state` (converted to numpy) and a JSON-able dict `meta` as `step`."""
    state = jax.tree.map(np.asarray, jax.device_get(state))
    try:
      self._manager.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                                       meta=ocp.args.JsonSave(meta)), force=True)
      self._manager.wait_until_finished()
    except Exception as e:  # pylint: disable=broad-except
      previous = [s for s in self._manager.all_steps() if s != step]
      kept = (f"checkpoint {max(previous)} is intact and --resume continues from it"
              if previous else "there is no earlier checkpoint")
      raise CheckpointError(
          f"Writing checkpoint {step} to {self.directory} failed ({type(e).__name__}: "
          f"{str(e)[:200]}); {kept}. Free disk space (or fix the directory's permissions) "
          "and resume.") from e

  def restore(self, like, step=None):
    """Restores (state shaped like the pytree `like`, meta) from `step` (default: the latest)."""
    step = self.latest_step() if step is None else step
    if step is None:
      raise CheckpointError(f"No checkpoint in {self.directory} to resume from: train without "
                            "--resume first, or point --workdir at a run that has one.")
    like = jax.tree.map(np.asarray, jax.device_get(like))
    try:
      restored = self._manager.restore(step, args=ocp.args.Composite(
          state=ocp.args.StandardRestore(like), meta=ocp.args.JsonRestore()))
    except Exception as e:  # pylint: disable=broad-except
      raise CheckpointError(
          f"Checkpoint {step} in {self.directory} cannot be restored ({type(e).__name__}: "
          f"{str(e)[:300]}). It is damaged or from a run with another configuration: resume with "
          f"the run's own config, or delete {os.path.join(self.directory, str(step))} to resume "
          "from the previous checkpoint.") from e
    state = restored["state"]
    mismatched = [
        f"{jax.tree_util.keystr(path)}: {np.shape(a)} vs {np.shape(b)}"
        for (path, a), b in zip(jax.tree_util.tree_flatten_with_path(state)[0],
                                jax.tree.leaves(like))
        if np.shape(a) != np.shape(b)]
    if mismatched:
      raise CheckpointError(f"Checkpoint {step} in {self.directory} does not fit this run's "
                            f"configuration ({'; '.join(mismatched[:3])}).")
    return state, dict(restored["meta"])

  def restore_raw(self, step=None):
    """(state as nested dicts of numpy arrays, meta) without knowing the run's structure: enough
    to read the policy's parameters (`policy_params`) for evaluation."""
    step = self.latest_step() if step is None else step
    if step is None:
      raise CheckpointError(f"No checkpoint in {self.directory}: train first, or point at the "
                            "run's workdir.")
    try:
      restored = self._manager.restore(step, args=ocp.args.Composite(
          state=ocp.args.StandardRestore(), meta=ocp.args.JsonRestore()))
    except Exception as e:  # pylint: disable=broad-except
      raise CheckpointError(f"Checkpoint {step} in {self.directory} cannot be read "
                            f"({type(e).__name__}: {str(e)[:300]}).") from e
    return restored["state"], dict(restored["meta"])

  def close(self):
    self._manager.close()


def learner_state_of(raw_state):
  """The learner's part (policy_params, d_params ...) of a raw checkpoint state of either training
  mode (`Checkpointer.restore_raw`)."""
  return raw_state["anakin"]["learner"] if "anakin" in raw_state else raw_state["learner"]
