"""Re-renders a saved program at any size (PNG): a painting (and optionally its SVG), or a MuJoCo
scene; the file's format tag says which.

  python -m experiments.render --program=outputs/paint/program.json --size=512 --out=big.png
"""

from absl import app
from absl import flags

from environments import jax_paint
from environments import libmypaint
from environments import programs
from spiral_jax import pictures

FLAGS = flags.FLAGS
flags.DEFINE_string("program", None, "A program JSON file (a painting or scene program's save).")
flags.DEFINE_integer("size", 256, "Canvas size of the render.")
flags.DEFINE_string("out", "render.png", "The PNG to write.")
flags.DEFINE_enum("renderer", "libmypaint", ["libmypaint", "jax_paint"],
                  "Which renderer paints a painting program.")
flags.DEFINE_string("svg", None, "Also write the program as SVG here.")


def main(argv):
  del argv
  if not FLAGS.program:
    raise app.UsageError("Give the program to render: --program=PATH.")
  program = programs.load(FLAGS.program)
  if isinstance(program, programs.SceneProgram):
    if FLAGS.svg:
      raise app.UsageError("--svg is for painting programs; this is a MuJoCo scene.")
    from environments import mujoco_render  # pylint: disable=import-outside-toplevel
    render = mujoco_render.render_program
  else:
    render = {"libmypaint": libmypaint.render_program,
              "jax_paint": jax_paint.render_program}[FLAGS.renderer]
  pictures.save_png(pictures.to_uint8(render(program, FLAGS.size)), FLAGS.out)
  if FLAGS.svg:
    program.save_svg(FLAGS.svg, size=FLAGS.size)
  print(f"Rendered {len(program)} actions at {FLAGS.size}x{FLAGS.size}: {FLAGS.out}")


if __name__ == "__main__":
  app.run(main)
