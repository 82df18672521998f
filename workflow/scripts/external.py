"""Score an external test set with every model of a task (rule ``external_test``): its
folds and seed members as an ensemble (lyra.analysis.ensemble), the mean as the prediction, the
std and each member's prediction beside it (one model: its own prediction, std 0).

The set was never used for training or model selection; its rows all count as test
rows, and the metrics have the same form as ``metrics.json``. A model that cannot score
the set (e.g. one-hot ridge on sequences longer than it was trained on) records the
set's metric as undefined with the reason.
"""

import logging
import time
from pathlib import Path

from lyra.config import Task
from lyra.data.records import load_records
from lyra.errors import exit_on_input_error
from lyra.io.provenance import collect
from lyra.analysis.ensemble import load_ensemble, prediction_table
from lyra.results import evaluate_task, unscored_evaluation, write_json, write_predictions

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
exit_on_input_error(snakemake.log[0])  # bad input: one line, no traceback

started = time.perf_counter()
task = Task.from_dict(snakemake.params.task)
records = load_records(task, ".")
ensemble = load_ensemble(list(snakemake.input.models))
if ensemble.classes and not task.classes:  # the prob_<class>_std columns are not classes
    task = task.replace(classes=tuple(ensemble.classes))
predictions = records[["id", "sequence"]].assign(split="test", fold=0, y_true=records["target"].to_numpy())
reason = ensemble.unscorable_reason(records["sequence"].tolist())
if reason:
    logging.warning("%s: not scored: %s", snakemake.wildcards.name, reason)
    predictions["y_pred"] = float("nan")
else:
    prediction = ensemble.predict(records["sequence"].tolist(), ids=records["id"].astype(str).tolist())
    outputs = prediction_table(prediction)
    for column in outputs.columns:
        predictions[column] = outputs[column].to_numpy()
    logging.info("%s: scored by %d model(s): %s", snakemake.wildcards.name, len(ensemble), ", ".join(ensemble.names))
write_predictions(predictions, snakemake.output.predictions)

result = {
    "task": task.name.split(":")[0],
    "external": snakemake.wildcards.name,
    "description": task.description,
    "model": snakemake.wildcards.model,
}
if reason:
    result.update(unscored_evaluation(task, len(predictions), reason))
else:
    result.update(
        evaluate_task(
            predictions,
            task,
            n_boot=snakemake.params.n_boot,
            seed=snakemake.params.seed,
            source=snakemake.output.predictions,
        )
    )
result["provenance"] = collect(
    [Path(p) for p in [*snakemake.input.data, *snakemake.input.models]],
    task.to_dict(),
    seed=task.seed,
    device=ensemble.models[0].device(),
    wall_time_s=time.perf_counter() - started,
)
write_json(result, snakemake.output.metrics)
