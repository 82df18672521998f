"""Score an external test set with a task's fold-0 model (rule ``external_test``).

The set was never used for training or model selection; its rows all count as test
rows, and the metrics have the same form as ``metrics.json``. A model that cannot score
the set (e.g. one-hot ridge on sequences longer than it was trained on) records the
set's metric as undefined with the reason.
"""

import logging
import time
from pathlib import Path

from lyra.config import Task
from lyra.data import load_records
from lyra.errors import exit_on_input_error
from lyra.provenance import collect
from lyra.results import evaluate_task, unscored_evaluation, write_json, write_predictions
from lyra.runner import load_model, predict_sequences

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
exit_on_input_error(snakemake.log[0])  # bad input: one line, no traceback

started = time.perf_counter()
task = Task.from_dict(snakemake.params.task)
records = load_records(task, ".")
model, meta = load_model(snakemake.input.model)
predictions = records[["id", "sequence"]].assign(split="test", fold=0, y_true=records["target"].to_numpy())
reason = model.unscorable_reason(records["sequence"].tolist())
if reason:
    logging.warning("%s: not scored: %s", snakemake.wildcards.name, reason)
    predictions["y_pred"] = float("nan")
else:
    outputs = predict_sequences(model, meta, records["sequence"].tolist(), ids=records["id"].tolist())
    for column in outputs.columns:
        predictions[column] = outputs[column].to_numpy()
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
    [Path(p) for p in [*snakemake.input.data, snakemake.input.model]],
    task.to_dict(),
    seed=task.seed,
    device=model.device(),
    wall_time_s=time.perf_counter() - started,
)
write_json(result, snakemake.output.metrics)
