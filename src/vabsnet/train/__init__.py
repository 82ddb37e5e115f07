"""Training engine (PyTorch Lightning), checkpoints, metrics and plots."""
