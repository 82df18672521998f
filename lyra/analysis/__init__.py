"""Using trained models: ensembles, in-silico mutagenesis, variant scoring and design (never training)."""
