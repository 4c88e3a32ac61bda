"""dm_env renderers for spiral-jax: they know nothing of the agent.

  libmypaint      the paper's painting environment on the system libmypaint
  jax_paint       the same painting in pure JAX: functional reset/step and the JaxPaint adapter
  paint_actions   the painting action space shared by painting renderers
  painting        the dm_env plumbing painting environments share
  programs        painting programs as data (save, load, re-render)
  mypaint_binding the ctypes binding to libmypaint
"""
