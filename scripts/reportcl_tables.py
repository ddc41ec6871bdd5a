"""Rule reportcl_tables: Tables 1-4 (classification and attention Dice, internal and external, mean (std)
over the 5 folds' models) and the paired t-tests of Tables 10-11 (external) with their internal counterparts."""

from pathlib import Path

import pandas as pd

from mrissl.reportcl.stats import CLASSIFICATION, EXPLAINABILITY, init_table, ttest_table
from mrissl.runlog import log_to
from mrissl.tables import write_table_formats

log = log_to(snakemake.log[0])
per_fold = pd.concat([pd.read_csv(p, sep="\t") for p in snakemake.input.per_fold], ignore_index=True)
inits = dict(snakemake.params.inits)
source = pd.read_csv(snakemake.input.init, sep="\t")["source"].iloc[0]
d = snakemake.params.downstream
training = (f"Image encoder (layers 1-2 frozen) + head, {d['epochs']} epochs, AdamW lr {d['lr']} with a "
            f"{d['warmup_epochs']}-epoch linear warm-up then StepLR({d['step_size']}, {d['gamma']}); "
            f"MedicalNet init: {source}.")
specs = {
    "table1": ("internal", CLASSIFICATION, False, "Table 1: internal (Dataset 1) BRAF V600E vs fusion classification, "
               "mean (std) over the cross-validation test folds."),
    "table2": ("external", CLASSIFICATION, False, "Table 2: external (Dataset 2) classification by each fold's model, "
               "mean (std) over the folds' models."),
    "table3": ("internal", EXPLAINABILITY, True, "Table 3: attention-map Dice with the whole-tumour mask, internal "
               "test folds (2D: slice of largest tumour cross-section)."),
    "table4": ("external", EXPLAINABILITY, True, "Table 4: attention-map Dice with the whole-tumour mask, external set."),
}
for name, (dataset, columns, percent, caption) in specs.items():
    table = init_table(per_fold, dataset, inits, columns, percent)
    log.info("%s\n%s", name, table.to_string())
    write_table_formats(table, Path(snakemake.output[name]).with_suffix(""), f"{caption} {training}")
baselines = {k: v for k, v in inits.items() if k != "proposed"}
tests = ttest_table(per_fold, "proposed", baselines)
tests["Experiment pair"] = tests["Experiment pair"].str.replace("proposed", inits["proposed"], regex=False)
log.info("t-tests\n%s", tests.to_string())
write_table_formats(tests, Path(snakemake.output.ttests).with_suffix(""),
                    "Paired t-tests over the cross-validation folds (scipy ttest_rel, two-sided), proposed CL init against each "
                    "baseline: external as the paper's Tables 10-11, internal beside them.", digits=4)
