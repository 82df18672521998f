"""Score an external test set with a task's fold-0 model (rule ``external_test``).

The set was never used for training or model selection; its rows all count as test
rows, and the metrics have the same form as ``metrics.json``. A ridge model, whose
one-hot features are tied to positions, cannot score sequences longer than it was
trained on: then the set's metric is recorded as undefined with that reason.
"""

import json
import logging
import time
from pathlib import Path

from lyra.atomic import atomic_path
from lyra.data import load_records
from lyra.errors import exit_on_input_error
from lyra.metrics import evaluate_task_predictions, unscored_evaluation
from lyra.provenance import collect
from lyra.runner import load_model, predict_sequences, unscorable_reason

logging.basicConfig(filename=snakemake.log[0], filemode="w", level=logging.INFO)
exit_on_input_error(snakemake.log[0])  # bad input: one line, no traceback

started = time.perf_counter()
task = snakemake.params.task
records = load_records(task, ".", task["name"])
model, meta = load_model(snakemake.input.model)
predictions = records[["id", "sequence"]].assign(split="test", fold=0, y_true=records["target"].to_numpy())
reason = unscorable_reason(meta, records["sequence"].tolist())
if reason:
    logging.warning("%s: not scored: %s", snakemake.wildcards.name, reason)
    predictions["y_pred"] = float("nan")
else:
    outputs = predict_sequences(model, meta, records["sequence"].tolist())
    for column in outputs.columns:
        predictions[column] = outputs[column].to_numpy()
with atomic_path(snakemake.output.predictions) as tmp:
    predictions.to_csv(tmp, sep="\t", index=False, float_format="%.9g")

result = {
    "task": task["name"].split(":")[0],
    "external": snakemake.wildcards.name,
    "description": task["description"],
    "model": snakemake.wildcards.model,
}
if reason:
    result.update(unscored_evaluation(task, len(predictions), reason))
else:
    result.update(
        evaluate_task_predictions(
            predictions,
            task,
            n_boot=snakemake.params.n_boot,
            seed=snakemake.params.seed,
            source=snakemake.output.predictions,
        )
    )
result["provenance"] = collect(
    [Path(p) for p in [*snakemake.input.data, snakemake.input.model]],
    task,
    seed=task["seed"],
    device="cpu" if meta["model_name"] == "ridge" else str(next(model.parameters()).device),
    wall_time_s=time.perf_counter() - started,
)
with atomic_path(snakemake.output.metrics) as tmp:
    tmp.write_text(json.dumps(result, indent=2, allow_nan=False))
