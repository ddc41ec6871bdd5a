# Longitudinal spine study (paper 002): the embedded lumbar spine cohort in SPIDER's layout, its scans
# joined to subjects and twin pairs, subject-level splits with twins kept together, the VB and IVD
# volumes, and the cohort's table and montage. read_cohort (cohorts.smk) turns the raw cohort into
# results/cohorts/spine/manifest.tsv in between.


# The study's tables and figures, for all_targets().
LONGITUDINAL_PRODUCTS = ["results/tables/longitudinal_cohort.csv", "results/figures/spine_vertebrae_montage.png"]


rule phantom_spine:
    output:
        data=directory(f"{PHANTOM_ROOT}/spine/data"),
        scans=f"{PHANTOM_ROOT}/spine/scans.tsv",
    params:
        spine=config["phantom"]["spine"],
        seed=config["seed"],
    log:
        "logs/phantom_spine.log",
    benchmark:
        "benchmarks/phantom_spine.tsv"
    conda:
        "../../envs/curate.yaml"
    threads: threads_of("curate")
    resources:
        **resources_of("curate"),
    script:
        "../../scripts/phantom_spine.py"


rule longitudinal_scans:
    input:
        manifest="results/cohorts/spine/manifest.tsv",
        scans=f"{PHANTOM_ROOT}/spine/scans.tsv",
        data=f"{PHANTOM_ROOT}/spine/data",
    output:
        scans="results/longitudinal/scans.tsv",
        gradings="results/longitudinal/gradings.tsv",
    params:
        salt=config["ingest"]["salt"],
    log:
        "logs/longitudinal/longitudinal_scans.log",
    benchmark:
        "benchmarks/longitudinal/longitudinal_scans.tsv"
    conda:
        "../../envs/curate.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    script:
        "../../scripts/longitudinal_scans.py"


rule split_longitudinal:
    input:
        scans="results/longitudinal/scans.tsv",
    output:
        splits="results/longitudinal/splits.tsv",
    params:
        fractions=config["longitudinal"]["split_fractions"],
        seed=config["seed"],
    log:
        "logs/longitudinal/split_longitudinal.log",
    benchmark:
        "benchmarks/longitudinal/split_longitudinal.tsv"
    conda:
        "../../envs/curate.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    script:
        "../../scripts/split_longitudinal.py"


rule extract_vertebrae:
    input:
        scans="results/longitudinal/scans.tsv",
        gradings="results/longitudinal/gradings.tsv",
        nifti="results/cohorts/spine/nifti",  # the images and masks the scan table names
    output:
        vb="results/longitudinal/vertebrae/vb.npy",
        ivd="results/longitudinal/vertebrae/ivd.npy",
        index="results/longitudinal/vertebrae/index.tsv",
    params:
        vb_shape=config["longitudinal"]["vb_shape"],
        ivd_shape=config["longitudinal"]["ivd_shape"],
    log:
        "logs/longitudinal/extract_vertebrae.log",
    benchmark:
        "benchmarks/longitudinal/extract_vertebrae.tsv"
    conda:
        "../../envs/curate.yaml"
    threads: threads_of("curate")
    resources:
        **resources_of("curate"),
    script:
        "../../scripts/extract_vertebrae.py"


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
    params:
        caption=(
            "Longitudinal spine cohort per split (by subject, twin pairs together): subjects, scans, "
            "follow-ups, twin pairs, field strengths and disc degeneration grades per level."
        ),
    log:
        "logs/longitudinal/longitudinal_cohort_table.log",
    benchmark:
        "benchmarks/longitudinal/longitudinal_cohort_table.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    script:
        "../../scripts/longitudinal_cohort_table.py"


rule spine_vertebrae_montage:
    input:
        vb="results/longitudinal/vertebrae/vb.npy",
        ivd="results/longitudinal/vertebrae/ivd.npy",
        index="results/longitudinal/vertebrae/index.tsv",
        scans="results/longitudinal/scans.tsv",
        nifti="results/cohorts/spine/nifti",
    output:
        png=report(
            "results/figures/spine_vertebrae_montage.png",
            caption="../report/spine_vertebrae_montage.rst",
            category="longitudinal (paper 002)",
            subcategory="Curated inputs",
        ),
    log:
        "logs/longitudinal/spine_vertebrae_montage.log",
    benchmark:
        "benchmarks/longitudinal/spine_vertebrae_montage.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    script:
        "../../scripts/spine_vertebrae_montage.py"
