"""Tables, figures and pages from results: plots, the summary, the results page, experiments, scaling."""
