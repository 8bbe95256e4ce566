"""Experiment tracking: runs, params, metric series, tags, artifacts and search."""
