# External sites of the seqclass transfer experiment (paper 000, Fig. 3): each site is written in a
# public layout (BraTS 2021 or BIDS), read back by rule read_cohort like any real dataset, split by
# patient and sliced exactly as the internal cohort (the same scripts as split_patients and
# extract_slices); seqclass_transfer_dataset then joins it with the internal slices.


rule phantom_external_site:
    output:
        data=directory(f"{PHANTOM_ROOT}/{{site}}/data"),
    wildcard_constraints:
        site=EXTERNAL_SITE_PATTERN,
    params:
        site=lambda w: EXTERNAL_SITES[w.site],
        seed=config["seed"],
    log:
        "logs/phantom/phantom_external_site_{site}.log",
    benchmark:
        "benchmarks/phantom/phantom_external_site_{site}.tsv"
    conda:
        "../../envs/curate.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    script:
        "../../scripts/phantom_external_site.py"


rule split_external_site:
    input:
        manifest="results/cohorts/{site}/manifest.tsv",
    output:
        splits="results/cohorts/{site}/splits.tsv",
    wildcard_constraints:
        site=EXTERNAL_SITE_PATTERN,
    params:
        fractions=config["curate"]["split_fractions"],
        seed=config["seed"],
    log:
        "logs/cohorts/split_external_site_{site}.log",
    benchmark:
        "benchmarks/cohorts/split_external_site_{site}.tsv"
    conda:
        "../../envs/curate.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    script:
        "../../scripts/split_patients.py"


rule extract_external_slices:
    input:
        manifest="results/cohorts/{site}/manifest.tsv",
        splits="results/cohorts/{site}/splits.tsv",
    output:
        array="results/cohorts/{site}/slices/{split}.npy",
        index="results/cohorts/{site}/slices/{split}.tsv",
    wildcard_constraints:
        site=EXTERNAL_SITE_PATTERN,
        split="|".join(SPLITS),
    params:
        slicing=CURATE_SLICING,
    log:
        "logs/cohorts/extract_external_slices_{site}_{split}.log",
    benchmark:
        "benchmarks/cohorts/extract_external_slices_{site}_{split}.tsv"
    conda:
        "../../envs/curate.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    script:
        "../../scripts/extract_slices.py"
