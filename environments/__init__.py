"""dm_env renderers for spiral-jax: they know nothing of the agent.

  libmypaint      the paper's painting environment on the system libmypaint
  paint_actions   the painting action space shared by painting renderers
  programs        painting programs as data (save, load, re-render)
"""
