"""Rule seqclass_finetune: one encoder fine-tuned on each label fraction, selected on val -> fraction{f}.pt + history.tsv

params.val_labels: ``full`` selects each fraction's epoch on the whole validation split, ``matched`` on
validation patients, series or slices (params.unit) drawn at the same fraction (label_fraction_subsets of the
validation split).

The fractions run one after another. Each finished one is saved in params.checkpoint_dir with the
settings and the starting encoder it came from, so a killed job resumes at the next fraction; the
folder is removed once the outputs are written.
"""

import hashlib
import shutil
from pathlib import Path

import pandas as pd
import torch

from mrissl.seqclass.datasets import SliceSet, load_slices
from mrissl.seqclass.slices import label_fraction_subsets
from mrissl.seqclass.finetune import FinetuneConfig, finetune
from mrissl.runlog import log_to
from mrissl.training import save_atomically

log = log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)

config = FinetuneConfig.from_dict(snakemake.params.settings)
train = load_slices(snakemake.input.train_array, snakemake.input.train_index)
val = load_slices(snakemake.input.val_array, snakemake.input.val_index)
subsets = pd.read_csv(snakemake.input.subsets, sep="\t", dtype={"fraction": str})
encoder_path = snakemake.input.encoder[0] if snakemake.input.encoder else None  # none: from scratch
encoder_state = torch.load(encoder_path, map_location="cpu", weights_only=True) if encoder_path else None
origin = {"settings": repr(snakemake.params.settings), "val_labels": snakemake.params.val_labels,
          "encoder_sha256": hashlib.sha256(Path(encoder_path).read_bytes()).hexdigest() if encoder_path else None}
checkpoints = Path(snakemake.params.checkpoint_dir)
checkpoints.mkdir(parents=True, exist_ok=True)

fractions = snakemake.params.fractions
if snakemake.params.val_labels == "matched":
    val_rows = label_fraction_subsets(val.index, [float(f) for f in fractions], int(snakemake.wildcards.seed),
                                      by_class=snakemake.params.by_class, unit=snakemake.params.unit)
    val_sets = {f: SliceSet(val.images[val_rows[float(f)]], val.index.iloc[val_rows[float(f)]]) for f in fractions}
else:
    val_sets = dict.fromkeys(fractions, val)

histories = []
for fraction, model_path in zip(fractions, snakemake.output.models):
    rows = subsets.loc[subsets["fraction"] == fraction, "row"].to_numpy()
    checkpoint = checkpoints / f"fraction{fraction}.pt"
    saved = torch.load(checkpoint, weights_only=True) if checkpoint.exists() else None
    if saved is not None and saved["origin"] == origin and saved["rows"].tolist() == rows.tolist():
        log.info("fraction %s: finished before this job was restarted (%s)", fraction, checkpoint)
    else:
        log.info("fraction %s: %d labelled slices from %s, selected on %d validation slices", fraction, len(rows),
                 encoder_path or "random weights", len(val_sets[fraction].index))
        result = finetune(train, rows, val_sets[fraction], config, encoder_state)
        saved = {"origin": origin, "rows": torch.tensor(rows), "state": result.state,
                 "history": result.history.to_dict("list"), "best_epoch": result.best_epoch}
        save_atomically(saved, checkpoint)
    torch.save(saved["state"], model_path)
    history = pd.DataFrame(saved["history"])
    histories.append(history.assign(fraction=fraction, n_labelled=len(rows),
                                    selected=history["epoch"] == saved["best_epoch"]))

columns = ["fraction", "n_labelled", "epoch", "train_loss", "val_accuracy", "selected"]
pd.concat(histories)[columns].to_csv(snakemake.output.history, sep="\t", index=False, lineterminator="\n")
shutil.rmtree(checkpoints)
