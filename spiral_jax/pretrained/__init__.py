"""Trained agents that ship with the package, ready to paint with no training.

Each agent is one small file, `spiral_jax/pretrained/<name>.npz`: the policy's parameters and a
JSON record of the run config, the specs the policy was built from, the frames and hours it
trained, and its evaluation figures. `load(name)` gives all a Python user needs:

  agent = spiral_jax.pretrained.load("mnist_small")
  agent.policy, agent.params        # a `Policy` and its parameters: agent.policy.step(...)
  agent.config, agent.info          # its TrainingConfig; frames, hours, evaluation figures

`names()` lists the shipped agents; `save` writes one (see `experiments/ship.py`). The specs are
stored with the agent, so loading needs no environment; painting does (`spiral-jax paint
--agent=NAME` wires one up). An agent file may also carry its discriminator (`agent.discriminator`:
D's parameters and spectral-norm state), so that training can continue from the agent with the D
it trained against (`init_from=NAME`) instead of a fresh one.
"""

import dataclasses
import json
import os
from typing import Any, Dict, List, Optional

import numpy as np

from spiral_jax import config as config_lib
from spiral_jax import specs as specs_lib
from spiral_jax.networks import policy as policy_lib

DIRECTORY = os.path.dirname(os.path.abspath(__file__))
FORMAT = "spiral-jax/agent/v1"
_NOT_AGENTS = ("mnist_classifier",)


class AgentError(ValueError):
  """An agent file that is missing or unreadable; the message says what to do."""


@dataclasses.dataclass
class Agent:
  name: str
  config: config_lib.TrainingConfig  # the training run's config
  policy: policy_lib.Policy
  params: Any
  info: Dict[str, Any]  # frames, hours, evaluation figures ...
  observation_spec: Any
  action_spec: Any
  # {"d_params": ..., "sn_state": ...} of the D it trained against, or None (files written
  # before agents carried it).
  discriminator: Optional[Dict[str, Any]] = None


def names() -> List[str]:
  """The shipped agents' names."""
  return sorted(f[:-4] for f in os.listdir(DIRECTORY)
                if f.endswith(".npz") and f[:-4] not in _NOT_AGENTS)


def path_of(name: str) -> str:
  """The file of agent `name` (a shipped name, or a path to an agent file)."""
  if name.endswith(".npz") or os.sep in name:
    return name
  return os.path.join(DIRECTORY, f"{name}.npz")


def _flatten(params, prefix=""):
  return {f"{prefix}{module}|{name}": np.asarray(value)
          for module, values in (params or {}).items() for name, value in values.items()}


def _unflatten(arrays):
  params = {}
  for key, value in arrays.items():
    module, name = key.split("|")
    params.setdefault(module, {})[name] = value
  return params


# Key prefixes of the discriminator's arrays in an agent file (the policy's have none).
_D_PARTS = {"d_params": "discriminator/", "sn_state": "spectral_norm/"}


def save(path: str, config: Dict[str, Any], params, observation_spec, action_spec,
         info: Dict[str, Any], discriminator: Optional[Dict[str, Any]] = None):
  """Writes an agent file atomically: the policy parameters (float32), the run config, the
  canvas shape and action spec the policy was built from, and `info`; optionally its
  discriminator ({"d_params": ..., "sn_state": ...}, haiku dicts), for continuing training."""
  record = {"format": FORMAT, "config": config, "info": info,
            "canvas_shape": list(observation_spec["canvas"].shape),
            "action_spec": specs_lib.action_spec_to_json(action_spec),
            "discriminator": discriminator is not None}
  arrays = _flatten(params)
  for part, prefix in _D_PARTS.items():
    arrays.update(_flatten((discriminator or {}).get(part), prefix))
  tmp = path + ".tmp.npz"
  np.savez_compressed(tmp, agent=np.array(json.dumps(record)),
                      **{k: v.astype(np.float32) for k, v in arrays.items()})
  os.replace(tmp, path)


def load(name: str) -> Agent:
  """A shipped agent by name (see `names()`), or an agent file by path."""
  path = path_of(name)
  if not os.path.exists(path):
    raise AgentError(f"No agent {name!r}: shipped agents are {names()}; or give the path of an "
                     "agent file.")
  try:
    with np.load(path) as f:
      record = json.loads(str(f["agent"]))
      arrays = {k: np.asarray(f[k]) for k in f.files if k != "agent"}
      is_d = lambda k: any(k.startswith(prefix) for prefix in _D_PARTS.values())
      params = _unflatten({k: v for k, v in arrays.items() if not is_d(k)})
      discriminator = None
      if record.get("discriminator"):
        discriminator = {part: _unflatten({k[len(prefix):]: v for k, v in arrays.items()
                                           if k.startswith(prefix)}) or None
                         for part, prefix in _D_PARTS.items()}
  except (OSError, ValueError, KeyError) as e:
    raise AgentError(f"{path} is not a readable agent file ({e}); ship it again with "
                     "`python -m experiments.ship`.") from e
  if record.get("format") != FORMAT:
    raise AgentError(f"{path} is not an agent file of format {FORMAT!r}.")
  config = config_lib.TrainingConfig.from_config(record["config"])
  observation_spec = specs_lib.canvas_spec(record["canvas_shape"])
  action_spec = specs_lib.action_spec_from_json(record["action_spec"])
  policy = policy_lib.Policy(observation_spec, action_spec, config.policy,
                             conditional=config.conditional, blind=config.blind)
  return Agent(os.path.basename(path)[:-4], config, policy, params, record["info"],
               observation_spec, action_spec, discriminator)
