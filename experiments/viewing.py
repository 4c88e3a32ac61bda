"""`spiral-jax view`'s set-up, without flags (importable anywhere): the viewer's runtime for a
shipped agent or a training run, the save callback and the checkpoint reloader."""

import os

from absl import logging
import jax

from experiments import setups
from spiral_jax import pictures
from spiral_jax import training
from spiral_jax.checkpoint import Checkpointer
from spiral_jax.viewer import runtime as runtime_lib


def save_painting(env_config):
  """The viewer's save callback for this environment: PNG, program.json and (painting) SVG."""
  def save(out_dir, actions, canvas, target):
    del target
    from environments import programs  # pylint: disable=import-outside-toplevel
    os.makedirs(out_dir, exist_ok=True)
    index = len([n for n in os.listdir(out_dir) if n.endswith(".png")])
    stem = os.path.join(out_dir, f"painting_{index:03d}")
    paths = [stem + ".png", stem + ".json"]
    pictures.save_png(pictures.to_uint8(canvas), paths[0])
    if env_config["name"] == "mujoco_scenes":
      programs.SceneProgram(setups.scene_config(env_config), actions).save(paths[1])
    else:
      program = programs.Program(setups.paint_config(env_config), actions)
      program.save(paths[1])
      program.save_svg(stem + ".svg", size=256)
      paths.append(stem + ".svg")
    return paths
  return save


def checkpoint_reloader(workdir, loaded_step):
  """A runtime `reload`: the newest checkpoint's parameters once a newer one than the last is
  written (None otherwise, or while a checkpoint is being written)."""
  state = {"step": loaded_step}

  def reload():
    checkpointer = Checkpointer(os.path.join(workdir, "checkpoints"), create=False)
    try:
      step = checkpointer.latest_step()
    finally:
      checkpointer.close()
    if step is None or step == state["step"]:
      return None
    try:
      _, params, meta = setups.load_run(workdir)
    except Exception as e:  # pylint: disable=broad-except
      logging.warning("Could not load the newer checkpoint %s yet: %s", step, e)
      return None
    state["step"] = step
    return params, f"checkpoint {meta['counters'].get('updates', step):.0f}"
  return reload


def make_runtime(agent=None, workdir=None, renderer=None, dataset=None, split=None,
                 data_dir=None, num_images=100, speed=4.0, sample=False, hold_s=2.0):
  """The runtime for an agent (shipped or a run), painting with `renderer`."""
  config, params, info = setups.load_agent(agent, workdir)
  if renderer is None and config.env.name == "jax_paint":
    renderer = "libmypaint"  # the real renderer, one stroke at a time
  setups.choose_targets(config, bool(agent), split, data_dir, dataset, renderer, num_images)
  setup = setups.make_setup(config, in_memory=True)
  policy, _, _ = training.build_agent(config, setup)
  targets = setup.images.first(min(num_images, len(setup.images))) if policy.conditional else None
  reload = None
  label = info.get("agent") or ""
  if workdir:  # checkpoints are named by their update count
    label = f"checkpoint {info['updates']:.0f}"
    reload = checkpoint_reloader(workdir, int(info["updates"]))
  return runtime_lib.Runtime(setup.env_factory(), policy, params, targets, reload=reload,
                             save=save_painting(config.env), speed=speed, hold_s=hold_s,
                             greedy=not sample, key=jax.random.PRNGKey(0), label=label,
                             episode_length=setup.episode_length)
