"""Experiment configurations (ml_collections): one file per set-up of the paper, each with a
`get_config(size)` for size "small" (CPU) or "paper"."""
