"""The viewer's window (pyglet): draws a `Runtime` and maps keys to its methods.

Keys: space pause/play, right arrow or n one step, r restart, t or enter next target, + and -
speed, s save (PNG, SVG and program where the renderer has them) into the save directory, escape
or q quit. `Viewer(runtime).run()` opens the window and plays until it is closed.
"""

import os

import numpy as np

KEYS_HELP = ("space pause  |  right/n step  |  r restart  |  t/enter next target  |  +/- speed  |"
             "  s save  |  q quit")
STATUS_HEIGHT = 62


class DisplayError(OSError):
  """No window can be opened: pyglet, a display or OpenGL is missing."""


def import_pyglet(headless=False):
  """pyglet, with one clear error where it or a display is missing."""
  try:
    import pyglet  # pylint: disable=import-outside-toplevel
  except ImportError as e:
    raise DisplayError("The viewer needs pyglet: pip install pyglet (or spiral-jax[viewer]).") from e
  if headless:
    pyglet.options["headless"] = True
  elif not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    raise DisplayError("No display to open the viewer's window on (DISPLAY is not set): run it "
                       "on a desktop, through ssh -X, or under a virtual display with "
                       "xvfb-run spiral-jax view ...")
  return pyglet


def to_pixels(picture, scale):
  """float (H, W, 3) in [0, 1] -> uint8 (H*scale, W*scale, 3), nearest-neighbour."""
  pixels = np.round(np.clip(picture, 0.0, 1.0) * 255).astype(np.uint8)
  return np.ascontiguousarray(np.repeat(np.repeat(pixels, scale, axis=0), scale, axis=1))


class Viewer:
  """A pyglet window showing the runtime's picture above its status line."""

  def __init__(self, runtime, scale=None, save_dir="outputs/view", headless=False, fps=30):
    self.pyglet = import_pyglet(headless)
    self.runtime = runtime
    self.save_dir = save_dir
    self.fps = fps
    height, width = runtime.picture().shape[:2]
    self.scale = scale or max(1, min(512 // width if width < 512 else 1, 384 // height))
    self.width = max(width * self.scale, 560)
    self.height = height * self.scale + STATUS_HEIGHT
    try:
      self.window = self.pyglet.window.Window(self.width, self.height, caption="spiral-jax view")
    except Exception as e:  # pyglet raises its own types for missing displays and GL
      raise DisplayError(f"Could not open the viewer's window ({type(e).__name__}: {e}). Run it "
                         "on a desktop or under a virtual display (xvfb-run).") from e
    pyglet = self.pyglet
    self._status = [pyglet.text.Label("", font_size=10, x=6, y=y, color=(255, 255, 255, 255))
                    for y in (44, 26)]
    self._help = pyglet.text.Label(KEYS_HELP, font_size=8, x=6, y=8,
                                   color=(180, 180, 180, 255))
    self.window.push_handlers(on_draw=self.draw, on_key_press=self.on_key_press)

  def draw(self):
    pyglet = self.pyglet
    self.window.clear()
    pixels = to_pixels(self.runtime.picture(), self.scale)
    h, w = pixels.shape[:2]
    image = pyglet.image.ImageData(w, h, "RGB", pixels.tobytes(), pitch=-w * 3)
    image.blit((self.width - w) // 2, STATUS_HEIGHT)
    for label, text in zip(self._status, self.runtime.status_lines()):
      label.text = text
      label.draw()
    self._help.draw()

  def on_key_press(self, symbol, modifiers):
    del modifiers
    key = self.pyglet.window.key
    runtime = self.runtime
    actions = {key.SPACE: runtime.toggle_pause, key.RIGHT: runtime.step, key.N: runtime.step,
               key.R: runtime.restart, key.T: runtime.next_target, key.ENTER: runtime.next_target,
               key.RETURN: runtime.next_target, key.PLUS: runtime.faster,
               key.EQUAL: runtime.faster, key.NUM_ADD: runtime.faster,
               key.MINUS: runtime.slower, key.NUM_SUBTRACT: runtime.slower,
               key.S: lambda: runtime.save(self.save_dir)}
    if symbol in (key.ESCAPE, key.Q):
      self.window.close()
      self.pyglet.app.exit()
      return True
    if symbol in actions:
      if symbol in (key.RIGHT, key.N):
        runtime.paused = True  # stepping by hand pauses playback
      try:
        actions[symbol]()
      except (ValueError, OSError) as e:  # e.g. an unwritable save directory: say so, go on
        runtime.message = f"error: {e}"
      return True
    return False

  def screenshot(self):
    """What the window shows now, as uint8 (H, W, 3), top row first."""
    self.window.switch_to()
    self.draw()
    buffer = self.pyglet.image.get_buffer_manager().get_color_buffer().get_image_data()
    data = buffer.get_data("RGB", -buffer.width * 3)
    return np.frombuffer(data, np.uint8).reshape(buffer.height, buffer.width, 3)

  def picture_box(self):
    """(top, left, height, width) of the runtime's picture inside `screenshot()`."""
    h, w = np.asarray(self.runtime.picture().shape[:2]) * self.scale
    return self.height - STATUS_HEIGHT - h, (self.width - w) // 2, h, w

  def run(self):
    """Plays until the window is closed."""
    self.pyglet.clock.schedule_interval(self.runtime.advance, 1.0 / self.fps)
    self.pyglet.app.run()
