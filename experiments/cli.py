"""The `spiral-jax` command: one entry point for the experiment scripts.

  spiral-jax train    [flags of experiments.train]      train an agent
  spiral-jax evaluate [flags of experiments.evaluate]   l2 of a trained agent on a test split
  spiral-jax paint    [flags of experiments.paint]      paint your image with a trained agent
  spiral-jax render   [flags of experiments.render]     re-render a saved program at any size
  spiral-jax demo     [flags of experiments.demo]       paint scripted and random programs
  spiral-jax figures  [flags of experiments.figures]    l2 against frames for several runs
  spiral-jax mcmc     [flags of experiments.mcmc]       the MCMC baseline on MuJoCo Scenes
  spiral-jax agents                                     list the agents that ship, with figures
  spiral-jax ship     [flags of experiments.ship]       evaluate a run and ship its agent
  spiral-jax view     [flags of experiments.view]       watch an agent paint, in a window
  spiral-jax pbt      [flags of experiments.pbt]        population-based training on Ray Tune

`spiral-jax COMMAND --help` lists a command's flags. An error the user can cause (a missing or
unreadable file, directory, checkpoint or dataset; a bad flag value) is one line on stderr and exit
status 1; `--verbosity=1` (or any --verbosity) shows the traceback as well.
"""

import importlib
import sys

COMMANDS = {"train": "experiments.train", "evaluate": "experiments.evaluate",
            "paint": "experiments.paint", "render": "experiments.render",
            "demo": "experiments.demo", "figures": "experiments.figures",
            "mcmc": "experiments.mcmc", "agents": "experiments.agents",
            "ship": "experiments.ship", "view": "experiments.view", "pbt": "experiments.pbt"}


def command_help(name, module):
  """`spiral-jax NAME --help`: the command's own description and flags (absl alone would list only
  the flags of `__main__`, which is this file)."""
  from absl import flags  # pylint: disable=import-outside-toplevel
  doc = (module.__doc__ or "").strip()
  own = flags.FLAGS.module_help(module.__name__).strip()
  own = own.split("\n", 1)[1] if own.startswith(module.__name__ + ":") else own
  return (f"usage: spiral-jax {name} [flags]\n\n{doc}\n\nflags:\n{own or '  (none)'}\n\n"
          "Every command also takes absl's flags (--verbosity, ...): see --helpfull.\n")


def main(argv=None):
  if argv is None:  # run as a command: the learner's large buffers get huge pages
    from spiral_jax import host_memory  # pylint: disable=import-outside-toplevel
    host_memory.reexec_with_hugepages()
  argv = list(sys.argv if argv is None else argv)
  if len(argv) < 2 or argv[1] not in COMMANDS:
    given = f"Unknown command {argv[1]!r}. " if len(argv) > 1 and not argv[1].startswith(
        "-") else ""
    sys.stderr.write(given + __doc__)
    return 0 if len(argv) > 1 and argv[1] in ("-h", "--help") else 2
  from absl import app  # pylint: disable=import-outside-toplevel
  from spiral_jax import checkpoint  # pylint: disable=import-outside-toplevel
  module = importlib.import_module(COMMANDS[argv[1]])
  if any(a in ("-h", "--help", "-?", "--helpshort") for a in argv[2:]):
    sys.stdout.write(command_help(argv[1], module))
    return 0
  verbose = any(a.startswith(("--verbosity", "-v=")) for a in argv[2:])
  try:
    app.run(module.main, argv=[f"spiral-jax {argv[1]}"] + argv[2:])
  except (ValueError, OSError, ImportError, checkpoint.CheckpointError) as e:
    if verbose:
      raise
    message = " ".join(str(e).split()) or type(e).__name__
    sys.stderr.write(f"spiral-jax {argv[1]}: {message}\n")
    return 1
  return 0


if __name__ == "__main__":
  sys.exit(main())
