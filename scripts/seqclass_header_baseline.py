"""Rule seqclass_header_baseline: a random forest on DICOM header fields, trained on each label fraction -> accuracy on test.

The same labelled subsets as the image models (the series of their slices), so the two compare at each fraction.
"""

import pandas as pd

from mrissl.seqclass.slices import read_slice_index
from mrissl.seqclass.header_baseline import header_baseline
from mrissl.manifest import read_manifest
from mrissl.runlog import log_to

log = log_to(snakemake.log[0])

manifest = read_manifest(snakemake.input.manifest)
train, test = read_slice_index(snakemake.input.train_index), read_slice_index(snakemake.input.test_index)
subsets = pd.read_csv(snakemake.input.subsets, sep="\t", dtype={"fraction": str})
accuracy, predictions = [], []
for fraction in snakemake.params.fractions:
    labelled = train[train["row"].isin(subsets.loc[subsets["fraction"] == fraction, "row"])]
    result = header_baseline(manifest, labelled, test, seed=int(snakemake.wildcards.seed))
    log.info("fraction %s: %d training series; test accuracy %.4f per series, %.4f per slice", fraction,
             labelled["series_key"].nunique(), result.series.accuracy, result.slices.accuracy)
    accuracy.append({"fraction": fraction, "n_train_series": labelled["series_key"].nunique(),
                     "accuracy_series": result.series.accuracy, "accuracy_slices": result.slices.accuracy})
    predictions.append(result.predictions.assign(fraction=fraction))

pd.DataFrame(accuracy).to_csv(snakemake.output.accuracy, sep="\t", index=False, lineterminator="\n")
pd.concat(predictions).to_csv(snakemake.output.predictions, sep="\t", index=False, lineterminator="\n")
