"""The painting renderers' shared environment base: the painting action space and Program."""

from environments import base
from environments import paint_actions
from environments import programs


class PaintingEnvironment(base.ProgramEnvironment):
  """Base of LibMyPaint and JaxPaint (`self._config` is a PaintConfig)."""
  _action_space = paint_actions
  _program_class = programs.Program
