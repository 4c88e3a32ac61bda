"""The run configuration: one frozen, validated `TrainingConfig`, built once from an experiment
config (an `ml_collections.ConfigDict` from `experiments/configs`, or a plain dict).

The experiment configs (`experiments/configs/base.py`) are the one source of defaults: every field
below must be given, and nothing here fills one in. A key that is not a field (a misspelling, or
a setting from another version) is one `ConfigError` that names it and lists the known keys.

The network and learner settings are the library's own frozen dataclasses
(`PolicyConfig`, `DiscriminatorConfig`, `LearnerConfig`), validated by them.
"""

import dataclasses
from typing import Any, Mapping

from spiral_jax import actor as actor_lib
from spiral_jax import learner as learner_lib
from spiral_jax.networks import discriminator as disc_lib
from spiral_jax.networks import policy as policy_lib

MODES = ("threaded", "anakin")
ENV_TIMEOUT_S = actor_lib.ENV_TIMEOUT_S


class ConfigError(ValueError):
  """A run config that cannot be used; the message names the key and what is expected."""


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
  """Everything a training run is told.

  Attributes:
    size: the experiment's size preset ("small" or "paper"), kept for the record.
    seed: all randomness derives from it and the run's counters.
    env, data: the environment and dataset, as `experiments/setups.py` reads them (name, kwargs;
      name, data_dir, split, limit). The library itself only records them.
    mode: "anakin" (JAX renderer, one jitted loop) or "threaded" (actor threads, any dm_env).
    num_actors: actor threads in the threaded mode (0: the learner runs the episodes itself,
      deterministically).
    envs_per_actor: environments each actor steps in lockstep (one batched policy call).
    queue_size: episode batches the actors may queue before they wait.
    actor_timeout_s: the learner's longest wait for the actors' next batch before it stops with
      an error.
    env_timeout_s: the longest an environment's step() or reset() may take in an actor thread
      (after the actor's first batch, which may compile) before the run stops with an error naming
      it (0 = forever). Configs written before it existed get ENV_TIMEOUT_S.
    iterations_per_call: Anakin iterations per jitted call.
    policy, discriminator, learner: the networks' and learners' settings.
    blind: the policy never sees its intermediate canvases (paper section 4.3).
    max_frames, max_updates, max_minutes: the run stops at the first reached (0 = no limit).
    checkpoint_every_minutes, checkpoint_every_updates: when to checkpoint (0 = never; a run
      always checkpoints at its end).
    checkpoints_to_keep: the newest checkpoints kept on disk.
    picture_every_minutes: how often reconstructions.png / samples.png are refreshed (0 = only at
      the end).
    log_every_updates: one metrics record per this many updates.
    progress: show a progress bar.
    init_from: "" (fresh networks), or where a new run's first parameters come from: a training
      run's directory (its newest checkpoint's policy and discriminator) or an agent file / shipped
      agent name (its policy). The networks must have the same shapes (the policy may add the
      location branch's fine path, the glimpse or the branch's summary, which start at zero);
      optimiser states and counters start afresh. A resumed run ignores it. Configs written
      before it existed get "".
    pbt: population-based training's settings (experiments/pbt.py reads them: the mutated
      hyper-parameters' ranges, fitness, population, perturbation interval); a single run ignores
      them. Configs written before it existed get {} (experiments/pbt.py's defaults).
    imitation: a first phase of behaviour cloning before SPIRAL's learners (experiments/train.py
      reads it: the demonstrations, updates, learning rate ...); the library only records it.
      Configs written before it existed get {} (no cloning).
  """
  size: str
  seed: int
  env: Mapping[str, Any]
  data: Mapping[str, Any]
  mode: str
  num_actors: int
  envs_per_actor: int
  queue_size: int
  actor_timeout_s: float
  iterations_per_call: int
  policy: policy_lib.PolicyConfig
  discriminator: disc_lib.DiscriminatorConfig
  learner: learner_lib.LearnerConfig
  blind: bool
  max_frames: int
  max_updates: int
  max_minutes: float
  checkpoint_every_minutes: float
  checkpoint_every_updates: int
  checkpoints_to_keep: int
  picture_every_minutes: float
  log_every_updates: int
  progress: bool
  env_timeout_s: float = ENV_TIMEOUT_S
  init_from: str = ""
  pbt: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  imitation: Mapping[str, Any] = dataclasses.field(default_factory=dict)

  def __post_init__(self):
    if self.mode not in MODES:
      raise ConfigError(f"mode must be one of {MODES}, not {self.mode!r}.")
    positive = ("envs_per_actor", "queue_size", "iterations_per_call", "checkpoints_to_keep",
                "log_every_updates")
    for name in positive:
      if getattr(self, name) < 1:
        raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)!r}.")
    non_negative = ("num_actors", "max_frames", "max_updates", "max_minutes",
                    "checkpoint_every_minutes", "checkpoint_every_updates",
                    "picture_every_minutes", "actor_timeout_s", "env_timeout_s")
    for name in non_negative:
      if getattr(self, name) < 0:
        raise ConfigError(f"{name} must not be negative, got {getattr(self, name)!r}.")

  @property
  def conditional(self) -> bool:
    """Whether the agent reconstructs targets (trajectories then carry them)."""
    return learner_lib.is_conditional(self.learner)

  @classmethod
  def from_config(cls, config) -> "TrainingConfig":
    """Validates an experiment config (ConfigDict or dict) and freezes it."""
    raw = _to_dict(config)
    raw.setdefault("env_timeout_s", ENV_TIMEOUT_S)  # runs and agents from before it existed
    raw.setdefault("init_from", "")
    raw.setdefault("pbt", {})
    raw.setdefault("imitation", {})
    _check_keys(raw, _field_types(cls), "the run config")
    values = dict(raw)
    nested = {"policy": policy_lib.PolicyConfig, "discriminator": disc_lib.DiscriminatorConfig,
              "learner": learner_lib.LearnerConfig}
    for name, kind in nested.items():
      section = _to_dict(values[name])
      _check_keys(section, _field_types(kind), f"config.{name}", required=False)
      if name == "discriminator" and "channels" in section:
        section["channels"] = tuple(section["channels"])
      try:
        values[name] = kind(**section)
      except (TypeError, ValueError) as e:
        raise ConfigError(f"config.{name}: {e}") from e
    for name, kind in _field_types(cls).items():
      if kind in (int, float, bool):
        values[name] = _coerce(name, values[name], kind)
    if not isinstance(values["init_from"], str):
      raise ConfigError(f"init_from must be a path or an agent name, got {values['init_from']!r}.")
    values["env"] = _freeze(values["env"])
    values["data"] = _freeze(values["data"])
    values["pbt"] = _freeze(values["pbt"])
    values["imitation"] = _freeze(values["imitation"])
    return cls(**values)

  def to_dict(self) -> dict:
    """A JSON-able dict (checkpoints carry it); `from_config` reads it back."""
    return _thaw(dataclasses.asdict(self))


def _field_types(cls):
  return {f.name: f.type for f in dataclasses.fields(cls)}


def _to_dict(config) -> dict:
  if hasattr(config, "to_dict"):
    return config.to_dict()
  if isinstance(config, Mapping):
    return dict(config)
  if dataclasses.is_dataclass(config):
    return dataclasses.asdict(config)
  raise ConfigError(f"A config must be a ConfigDict or a dict, not {type(config).__name__}.")


def _check_keys(raw, fields, where, required=True):
  unknown = sorted(set(raw) - set(fields))
  if unknown:
    raise ConfigError(f"Unknown key(s) {unknown} in {where}; the known keys are "
                      f"{sorted(fields)}.")
  missing = sorted(set(fields) - set(raw)) if required else []
  if missing:
    raise ConfigError(f"{where} lacks {missing}: build it from experiments/configs (base.py "
                      "holds every default) and override what you need.")


def _coerce(name, value, kind):
  if kind is bool:
    if isinstance(value, bool):
      return value
    raise ConfigError(f"{name} must be True or False, got {value!r}.")
  if value is None:
    return kind(0)  # older configs wrote "no limit" as None
  if isinstance(value, bool) or not isinstance(value, (int, float)):
    raise ConfigError(f"{name} must be a number, got {value!r}.")
  if kind is int and value != int(value):
    raise ConfigError(f"{name} must be a whole number, got {value!r}.")
  return kind(value)


class _Frozen(dict):
  """A read-only dict (the env and data sections of a frozen config)."""

  def _readonly(self, *args, **kwargs):
    raise TypeError("A TrainingConfig is frozen: build a new one from the experiment config.")

  __setitem__ = __delitem__ = update = pop = clear = setdefault = _readonly


def _freeze(value):
  if isinstance(value, Mapping):
    return _Frozen({k: _freeze(v) for k, v in _to_dict(value).items()})
  if isinstance(value, list):
    return tuple(_freeze(v) for v in value)
  return value


def _thaw(value: Any) -> Any:
  if isinstance(value, Mapping):
    return {k: _thaw(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [_thaw(v) for v in value]
  return value

