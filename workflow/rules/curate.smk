# Curation: patient-level splits, then the central slices of every labelled series per split.
# One extract_slices job per split: the three run side by side (on a cluster, on separate nodes),
# training rules depend only on the split they read, and a failed split re-runs alone.


rule split_patients:
    input:
        manifest="results/ingest/manifest.tsv",
    output:
        splits="results/curate/splits.tsv",
    params:
        fractions=config["curate"]["split_fractions"],
        seed=config["seed"],
    log:
        "logs/curate/split_patients.log",
    benchmark:
        "benchmarks/curate/split_patients.tsv"
    conda:
        "../../envs/curate.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    script:
        "../../scripts/split_patients.py"


rule extract_slices:
    input:
        manifest="results/ingest/manifest.tsv",
        splits="results/curate/splits.tsv",
    output:
        array="results/curate/slices/{split}.npy",
        index="results/curate/slices/{split}.tsv",
    wildcard_constraints:
        split="|".join(SPLITS),
    params:
        slicing=CURATE_SLICING,
    log:
        "logs/curate/extract_slices_{split}.log",
    benchmark:
        "benchmarks/curate/extract_slices_{split}.tsv"
    conda:
        "../../envs/curate.yaml"
    threads: threads_of("curate")
    resources:
        **resources_of("curate"),
    script:
        "../../scripts/extract_slices.py"
