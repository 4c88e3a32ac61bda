"""Lists the trained agents that ship with the package, with their figures.

  spiral-jax agents
"""

from absl import app

from spiral_jax import pretrained


def describe(name):
  """One line: name, set-up, frames, hours, and the test figures with each renderer."""
  agent = pretrained.load(name)
  env = agent.config.env
  kwargs = env.get("kwargs", {})
  kind = ("unconditional" if not agent.config.conditional
          else "conditional, blind" if agent.config.blind else "conditional")
  line = (f"{name}: {kind}, {agent.config.data['name']}; {kwargs.get('canvas_size')}x"
          f"{kwargs.get('canvas_size')} canvas, "
          f"{kwargs.get('episode_length')} steps, {agent.config.size} networks; "
          f"{agent.info['frames'] / 1e6:.1f} M frames, {agent.info['hours']:.2f} h")
  for renderer, figures in agent.info.get("evaluation", {}).items():
    if "confident" in figures:  # an unconditional agent's samples
      line += (f"; {renderer}: {figures['confident']:.1%} of {figures['num_images']} samples "
               f"confidently digits, rarest digit {figures['class_min_share']:.1%}")
      continue
    recognised = (f", recognised {figures['recognised']:.1%}" if "recognised" in figures
                  else "")
    line += (f"; {renderer}: l2 {figures['l2_mean']:.4f} ± {figures['l2_ci95']:.4f}"
             f"{recognised} on {figures['num_images']} {figures['dataset']} {figures['split']}")
  return line


def main(argv):
  del argv
  names = pretrained.names()
  if not names:
    print("No agents ship with this version.")
  for name in names:
    print(describe(name))


if __name__ == "__main__":
  app.run(main)
