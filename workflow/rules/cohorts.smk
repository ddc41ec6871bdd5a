# The study cohorts (paediatric tumours, lumbar spines, brain pathologies) are written by their
# phantom rules in the layout of their real counterparts (BraTS-PED, SPIDER, BIDS), so the same
# readers that take a user's real dataset ingest them into one manifest per cohort (always included,
# whatever data.source is: the study cohorts are phantoms unless a study config names real data).


rule read_cohort:
    input:
        root=lambda w: f"{PHANTOM_ROOT}/{w.cohort}/data",
    output:
        manifest="results/cohorts/{cohort}/manifest.tsv",
        quarantine="results/cohorts/{cohort}/quarantine.tsv",
        nifti=directory("results/cohorts/{cohort}/nifti"),
        quarantine_paths="private/cohorts/{cohort}/quarantine_paths.tsv",  # source paths stay out of results/
    log:
        "logs/cohorts/read_cohort_{cohort}.log",
    benchmark:
        "benchmarks/cohorts/read_cohort_{cohort}.tsv"
    wildcard_constraints:
        cohort="|".join(COHORT_FORMATS),
    conda:
        "../../envs/curate.yaml"
    threads: threads_of("curate", serial=True)
    resources:
        **resources_of("curate", serial=True),
    params:
        source=lambda w: COHORT_FORMATS[w.cohort],
        salt=config["ingest"]["salt"],
    script:
        "../../scripts/read_dataset.py"
