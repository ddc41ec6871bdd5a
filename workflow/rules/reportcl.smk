# The paediatric tumour cohorts of reportcl (paper 001): an internal set with reports and an
# external set from another scanner and later years, both in the BraTS-PED 2023 layout, read by
# read_cohort (cohorts.smk); then volumes and masks to arrays, reports cleaned and tokenised,
# patient-level cross-validation folds, and the cohort's figures and Table 6.

TUMOUR_DATASETS = {
    "tumour_internal": "Dataset 1 (internal)",
    "tumour_external": "Dataset 2 (external)",
}


# The tables and figures of the tumour cohorts (all_targets adds their lineage records).
PRODUCTS += [
    "results/tables/reportcl_cohort.csv",
    "results/figures/reportcl_montage.png",
    "results/figures/reportcl_report_lengths.png",
]


# Curated reportcl inputs that no table or figure reads, built by `rule all` all the same.
CURATED += ["results/reportcl/folds.tsv", "results/reportcl/reports/token_ids.npy"]


rule reportcl_preprocess:
    input:
        manifest="results/cohorts/{cohort}/manifest.tsv",
        clinical=f"{PHANTOM_ROOT}/{{cohort}}/clinical.tsv",
    output:
        images="results/reportcl/{cohort}/images.npy",
        masks="results/reportcl/{cohort}/masks.npy",
        index="results/reportcl/{cohort}/index.tsv",
    log:
        "logs/reportcl/preprocess_{cohort}.log",
    benchmark:
        "benchmarks/reportcl/preprocess_{cohort}.tsv"
    wildcard_constraints:
        cohort="|".join(TUMOUR_COHORTS),
    conda:
        "../../envs/curate.yaml"
    threads: threads_of("curate")
    resources:
        **resources_of("curate"),
    params:
        volume_shape=config["reportcl"]["volume_shape"],
        salt=config["ingest"]["salt"],
        source=lambda w: COHORT_FORMATS[w.cohort],
    script:
        "../../scripts/reportcl_preprocess.py"


rule reportcl_clean_reports:
    input:
        reports=f"{PHANTOM_ROOT}/tumour_internal/reports.tsv",
        index="results/reportcl/tumour_internal/index.tsv",
    output:
        table="results/reportcl/reports/reports.tsv",
        token_ids="results/reportcl/reports/token_ids.npy",
        attention_mask="results/reportcl/reports/attention_mask.npy",
    log:
        "logs/reportcl/clean_reports.log",
    benchmark:
        "benchmarks/reportcl/clean_reports.tsv"
    conda:
        "../../envs/text.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    params:
        salt=config["ingest"]["salt"],
        source=COHORT_FORMATS["tumour_internal"],
        text_encoder=config["reportcl"]["text_encoder"],
        max_length=config["reportcl"]["max_length"],
    script:
        "../../scripts/reportcl_clean_reports.py"


rule reportcl_folds:
    input:
        index="results/reportcl/tumour_internal/index.tsv",
    output:
        folds="results/reportcl/folds.tsv",
    log:
        "logs/reportcl/folds.log",
    benchmark:
        "benchmarks/reportcl/folds.tsv"
    conda:
        "../../envs/curate.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    params:
        n_folds=config["reportcl"]["n_folds"],
        seed=config["seed"],
    script:
        "../../scripts/reportcl_folds.py"


rule reportcl_montage:
    input:
        images=expand("results/reportcl/{cohort}/images.npy", cohort=TUMOUR_COHORTS),
        masks=expand("results/reportcl/{cohort}/masks.npy", cohort=TUMOUR_COHORTS),
        indexes=expand("results/reportcl/{cohort}/index.tsv", cohort=TUMOUR_COHORTS),
    output:
        png=report(
            "results/figures/reportcl_montage.png",
            caption="../report/reportcl_montage.rst",
            category="reportcl (paper 001)",
            subcategory="Curated inputs",
        ),
    log:
        "logs/reportcl/report/montage.log",
    benchmark:
        "benchmarks/reportcl/report/montage.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    params:
        names=[c.removeprefix("tumour_") for c in TUMOUR_COHORTS],
    script:
        "../../scripts/reportcl_montage.py"


rule reportcl_report_lengths:
    input:
        table="results/reportcl/reports/reports.tsv",
    output:
        png=report(
            "results/figures/reportcl_report_lengths.png",
            caption="../report/reportcl_report_lengths.rst",
            category="reportcl (paper 001)",
            subcategory="Curated inputs",
        ),
    log:
        "logs/reportcl/report/report_lengths.log",
    benchmark:
        "benchmarks/reportcl/report/report_lengths.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    params:
        max_length=config["reportcl"]["max_length"],
        text_encoder=config["reportcl"]["text_encoder"],
    script:
        "../../scripts/reportcl_report_lengths.py"


rule reportcl_cohort_table:
    input:
        expand("results/reportcl/{cohort}/index.tsv", cohort=TUMOUR_COHORTS),
    output:
        csv=report(
            "results/tables/reportcl_cohort.csv",
            caption="../report/reportcl_cohort.rst",
            category="reportcl (paper 001)",
            subcategory="Curated inputs",
        ),
        md="results/tables/reportcl_cohort.md",
        tex="results/tables/reportcl_cohort.tex",
    log:
        "logs/reportcl/report/cohort_table.log",
    benchmark:
        "benchmarks/reportcl/report/cohort_table.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    params:
        names=[TUMOUR_DATASETS[c] for c in TUMOUR_COHORTS],
        caption="Paediatric tumour cohorts: patients per genetic marker and tumour location (cf. paper Table 6).",
    script:
        "../../scripts/reportcl_cohort_table.py"
