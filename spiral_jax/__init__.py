"""spiral-jax: the SPIRAL agent library.

It knows environments only through their dm_env specs (see `spiral_jax.specs`), so any renderer
with a dm_env interface can be plugged in.
"""

__version__ = "0.1.0"
