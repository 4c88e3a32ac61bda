"""Watch an agent paint, stroke by stroke, in a window (pyglet).

  spiral-jax view --agent=mnist                         # a shipped agent on the shipped test digits
  spiral-jax view --workdir=runs/mnist                  # a run: newer checkpoints load as it trains
  spiral-jax view --agent=mnist --renderer=jax_paint    # any painting or MuJoCo renderer
  xvfb-run spiral-jax view --agent=mnist --screenshot=view.png --seconds=5   # no desktop needed

The window shows the target and the canvas side by side (a conditional agent) or the canvas
alone, with a status line: the step, the action just taken, the current l2 to the target, the
speed and the parameters' checkpoint. Keys: space pause, right arrow or n one step, r restart,
t or enter next target, + and - speed, s save the painting (PNG, SVG, program.json) into
--save_dir, q or escape quit.
"""

import os

from absl import app
from absl import flags
from absl import logging
import jax

from experiments import setups
from spiral_jax import pictures
from spiral_jax import training
from spiral_jax.checkpoint import Checkpointer
from spiral_jax.viewer import runtime as runtime_lib

FLAGS = flags.FLAGS
flags.DEFINE_string("agent", None, "A shipped agent (spiral-jax agents lists them) or an agent "
                    "file.")
flags.DEFINE_string("workdir", None, "A training run's directory (instead of --agent); its newest "
                    "checkpoint is loaded again between paintings while it trains.")
flags.DEFINE_string("renderer", None, "The environment to paint with: libmypaint, jax_paint or "
                    "mujoco_scenes (default: libmypaint for painting agents, else the agent's).")
flags.DEFINE_string("dataset", None, "Targets from this dataset (default: the agent's own).")
flags.DEFINE_string("split", "test", "The targets' split, optionally sliced.")
flags.DEFINE_string("data_dir", None, "The dataset's directory, if not the agent's.")
flags.DEFINE_integer("num_images", 100, "How many targets to cycle through.")
flags.DEFINE_float("speed", 4.0, "Actions per second.")
flags.DEFINE_bool("sample", False, "Sample actions instead of taking the most likely ones.")
flags.DEFINE_string("save_dir", "outputs/view", "Where the s key saves paintings.")
flags.DEFINE_integer("scale", 0, "Screen pixels per canvas pixel (0: fit about 512 pixels).")
flags.DEFINE_float("seconds", 0.0, "Close the window after this many seconds (0: never).")
flags.DEFINE_string("screenshot", None, "Save a PNG of the window when it closes.")


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
    if env_config.name == "mujoco_scenes":
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


def make_runtime(agent=None, workdir=None, renderer=None, dataset=None, split="test",
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
  if workdir:
    step = info.get("updates")
    label = f"checkpoint {step:.0f}"
    reload = checkpoint_reloader(workdir, None)
    reload()  # remembers the step just loaded
  return runtime_lib.Runtime(setup.env_factory(), policy, params, targets, reload=reload,
                             save=save_painting(config.env), speed=speed, hold_s=hold_s,
                             greedy=not sample, key=jax.random.PRNGKey(0), label=label,
                             episode_length=setup.episode_length)


def main(argv):
  del argv
  if not FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)
  if not FLAGS.agent and not FLAGS.workdir:
    raise app.UsageError("Give a shipped agent (--agent=NAME) or a training run (--workdir=DIR).")
  from spiral_jax.viewer import window  # pylint: disable=import-outside-toplevel
  window.import_pyglet()  # a missing display is one clear error before anything loads
  runtime = make_runtime(FLAGS.agent, FLAGS.workdir, FLAGS.renderer, FLAGS.dataset, FLAGS.split,
                         FLAGS.data_dir, FLAGS.num_images, FLAGS.speed, FLAGS.sample)
  viewer = window.Viewer(runtime, scale=FLAGS.scale or None, save_dir=FLAGS.save_dir)
  shot = {}

  def finish(dt=0.0):
    del dt
    if FLAGS.screenshot:
      shot["image"] = viewer.screenshot()
    viewer.window.close()
    viewer.pyglet.app.exit()

  if FLAGS.seconds:
    viewer.pyglet.clock.schedule_once(finish, FLAGS.seconds)
  elif FLAGS.screenshot:
    viewer.window.push_handlers(on_close=finish)
  viewer.run()
  if "image" in shot:
    pictures.save_png(shot["image"], FLAGS.screenshot)
    print(f"Wrote {FLAGS.screenshot}")

if __name__ == "__main__":
  app.run(main)
