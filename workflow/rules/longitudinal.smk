# Longitudinal spine study (paper 002): the embedded lumbar spine cohort in SPIDER's layout, its scans
# joined to subjects and twin pairs, subject-level splits with twins kept together, the VB and IVD
# volumes, and the cohort's table and montage. read_cohort (cohorts.smk) turns the raw cohort into
# results/cohorts/spine/manifest.tsv in between.


# The study's tables and figures, for all_targets().
PRODUCTS += [
    "results/tables/longitudinal_cohort.csv",
    "results/figures/longitudinal_montage.png",
]


rule longitudinal_scans:
    input:
        manifest="results/cohorts/spine/manifest.tsv",
        scans=f"{PHANTOM_ROOT}/spine/scans.tsv",
        data=f"{PHANTOM_ROOT}/spine/data",
    output:
        scans="results/longitudinal/scans.tsv",
        gradings="results/longitudinal/gradings.tsv",
    log:
        "logs/longitudinal/scans.log",
    benchmark:
        "benchmarks/longitudinal/scans.tsv"
    conda:
        "../../envs/curate.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    params:
        salt=config["ingest"]["salt"],
    script:
        "../../scripts/longitudinal_scans.py"


rule longitudinal_split:
    input:
        scans="results/longitudinal/scans.tsv",
    output:
        splits="results/longitudinal/splits.tsv",
    log:
        "logs/longitudinal/split.log",
    benchmark:
        "benchmarks/longitudinal/split.tsv"
    conda:
        "../../envs/curate.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    params:
        fractions=config["longitudinal"]["split_fractions"],
        seed=config["seed"],
    script:
        "../../scripts/longitudinal_split.py"


rule longitudinal_vertebrae:
    input:
        scans="results/longitudinal/scans.tsv",
        gradings="results/longitudinal/gradings.tsv",
        nifti="results/cohorts/spine/nifti",  # the images and masks the scan table names
    output:
        vb="results/longitudinal/vertebrae/vb.npy",
        ivd="results/longitudinal/vertebrae/ivd.npy",
        index="results/longitudinal/vertebrae/index.tsv",
    log:
        "logs/longitudinal/vertebrae.log",
    benchmark:
        "benchmarks/longitudinal/vertebrae.tsv"
    conda:
        "../../envs/curate.yaml"
    threads: threads_of("curate")
    resources:
        **resources_of("curate"),
    params:
        vb_shape=config["longitudinal"]["vb_shape"],
        ivd_shape=config["longitudinal"]["ivd_shape"],
    script:
        "../../scripts/longitudinal_vertebrae.py"


rule longitudinal_cohort_table:
    input:
        scans="results/longitudinal/scans.tsv",
        splits="results/longitudinal/splits.tsv",
        gradings="results/longitudinal/gradings.tsv",
    output:
        csv=report(
            "results/tables/longitudinal_cohort.csv",
            caption="../report/longitudinal_cohort.rst",
            category="longitudinal (paper 002)",
            subcategory="Curated inputs",
        ),
        md="results/tables/longitudinal_cohort.md",
        tex="results/tables/longitudinal_cohort.tex",
    log:
        "logs/longitudinal/report/cohort_table.log",
    benchmark:
        "benchmarks/longitudinal/report/cohort_table.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    params:
        caption=(
            "Longitudinal spine cohort per split (by subject, twin pairs together): subjects, scans, "
            "follow-ups, twin pairs, field strengths and disc degeneration grades per level."
        ),
    script:
        "../../scripts/longitudinal_cohort_table.py"


rule longitudinal_montage:
    input:
        vb="results/longitudinal/vertebrae/vb.npy",
        ivd="results/longitudinal/vertebrae/ivd.npy",
        index="results/longitudinal/vertebrae/index.tsv",
        scans="results/longitudinal/scans.tsv",
        nifti="results/cohorts/spine/nifti",
    output:
        png=report(
            "results/figures/longitudinal_montage.png",
            caption="../report/longitudinal_montage.rst",
            category="longitudinal (paper 002)",
            subcategory="Curated inputs",
        ),
    log:
        "logs/longitudinal/report/montage.log",
    benchmark:
        "benchmarks/longitudinal/report/montage.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    script:
        "../../scripts/longitudinal_montage.py"
