"""spiral-jax: SPIRAL (Ganin et al., ICML 2018) in JAX, with its painting and MuJoCo renderers."""

import os

import setuptools

HERE = os.path.dirname(os.path.abspath(__file__))


def _read(name):
  with open(os.path.join(HERE, name), encoding="utf-8") as f:
    return f.read()


def _version():
  for line in _read(os.path.join("spiral_jax", "__init__.py")).splitlines():
    if line.startswith("__version__"):
      return line.split("=")[1].strip().strip('"')
  raise RuntimeError("spiral_jax/__init__.py has no __version__")


CORE = [
    "jax>=0.10.2",
    "dm-haiku>=0.0.17",
    "flax>=0.12.8",
    "optax>=0.2.8",
    "chex>=0.1.92",
    "dm-env>=1.6",
    "dm-tree>=0.1.10",
    "numpy>=2.0",
    "pillow>=10",
    "absl-py>=2.0",
    "ml_collections>=1.0",
    "orbax-checkpoint>=0.12",
    "tqdm>=4.60",
    "matplotlib>=3.8",
    "tensorboardX>=2.6",
]
EXTRAS = {
    "mujoco": ["mujoco>=4.0.0"],
    "data": ["tensorflow-datasets>=4.9.10", "importlib_resources>=6"],
    "viewer": ["pyglet>=2.1"],
    "pbt": ["ray[tune]>=2.40"],
    "dev": ["pytest>=8", "pytest-xdist>=3", "rlax>=0.1.9", "cairosvg>=2.7", "tensorboard>=2.16",
            "nbclient>=0.10",
            "nbformat>=5.10", "ipykernel>=6"],
}
EXTRAS["all"] = sorted({req for reqs in EXTRAS.values() for req in reqs})

setuptools.setup(
    name="spiral-jax",
    version=_version(),
    description="SPIRAL: synthesizing programs for images with reinforced adversarial learning, "
                "in JAX.",
    long_description=_read("README.md"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11",
    packages=setuptools.find_packages(include=["spiral_jax", "spiral_jax.*", "environments",
                                               "environments.*", "experiments",
                                               "experiments.*", "tfds_local"]),
    entry_points={"console_scripts": ["spiral-jax=experiments.cli:main"]},
    package_data={"spiral_jax.data": ["samples/*.npz", "samples/*.md"],
                  "spiral_jax.pretrained": ["*.npz", "*.md"],
                  "environments": ["data/*.npz", "data/*.md"]},
    install_requires=CORE,
    extras_require=EXTRAS,
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
