"""Using trained models: ensembles, in-silico mutagenesis, variant scoring, design and campaign replay."""
