"""The torch networks: Lyra (PGC + S4D), the baseline networks, the pair screen and fit, the devices they run on."""
