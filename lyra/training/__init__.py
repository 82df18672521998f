"""Fitting a network: the training loop, distributed ranks and their launch."""
