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

from absl import app
from absl import flags
from absl import logging

from experiments import viewing
from spiral_jax import pictures

FLAGS = flags.FLAGS
flags.DEFINE_string("agent", None, "A shipped agent (spiral-jax agents lists them) or an agent "
                    "file.")
flags.DEFINE_string("workdir", None, "A training run's directory (instead of --agent); its newest "
                    "checkpoint is loaded again between paintings while it trains.")
flags.DEFINE_string("renderer", None, "The environment to paint with: libmypaint, jax_paint or "
                    "mujoco_scenes (default: libmypaint for painting agents, else the agent's).")
flags.DEFINE_string("dataset", None, "Targets from this dataset (default: the agent's own).")
flags.DEFINE_string("split", None, "The targets' split, optionally sliced (default: the "
                    "agent's held-out split).")
flags.DEFINE_string("data_dir", None, "The dataset's directory, if not the agent's.")
flags.DEFINE_integer("num_images", 100, "How many targets to cycle through.")
flags.DEFINE_float("speed", 4.0, "Actions per second.")
flags.DEFINE_bool("sample", False, "Sample actions instead of taking the most likely ones.")
flags.DEFINE_string("save_dir", "outputs/view", "Where the s key saves paintings.")
flags.DEFINE_integer("scale", 0, "Screen pixels per canvas pixel (0: fit about 512 pixels).")
flags.DEFINE_float("seconds", 0.0, "Close the window after this many seconds (0: never).")
flags.DEFINE_string("screenshot", None, "Save a PNG of the window when it closes.")


def main(argv):
  del argv
  if not FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)
  if not FLAGS.agent and not FLAGS.workdir:
    raise app.UsageError("Give a shipped agent (--agent=NAME) or a training run (--workdir=DIR).")
  from spiral_jax.viewer import window  # pylint: disable=import-outside-toplevel
  window.import_pyglet()  # a missing display is one clear error before anything loads
  runtime = viewing.make_runtime(FLAGS.agent, FLAGS.workdir, FLAGS.renderer, FLAGS.dataset, FLAGS.split,
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
