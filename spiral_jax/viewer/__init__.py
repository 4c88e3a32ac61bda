"""Watch an agent paint: `runtime` (the episode state machine, no window) and `window` (pyglet).

Structured as dm_control's viewer: the runtime holds the environment, the agent and the playback
state and is driven by plain method calls (tested without a display); the window only draws the
runtime's pictures and maps keys to its methods.
"""
