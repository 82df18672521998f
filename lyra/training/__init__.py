"""Fitting a network: the training loop, devices, distributed ranks and their launch."""
