# The brain-pathology cohort of clip (paper 003): DWI b1000, T2* and FLAIR at different resolutions
# and head positions, with a report each, written as BIDS and read by read_cohort (cohorts.smk);
# then DWI and T2* registered to FLAIR and stacked, the balanced patient-level split, the
# registration QC table and the cohort's figures (paper 003 Figs. 2-3).

CLIP_PHANTOM = f"{PHANTOM_ROOT}/pathology"


# The tables and figures of the clip cohort (all_targets adds their lineage records).
PRODUCTS += [
    "results/tables/clip_registration_qc.csv",
    "results/figures/clip_registration_overlay.png",
    "results/figures/clip_voxel_sizes.png",
    "results/figures/clip_report_lengths.png",
]


# Curated clip inputs that no table or figure reads, built by `rule all` all the same.
CURATED += ["results/clip/splits.tsv"]


rule clip_register:
    input:
        manifest="results/cohorts/pathology/manifest.tsv",
        reports=f"{CLIP_PHANTOM}/reports.tsv",
        labels=f"{CLIP_PHANTOM}/labels.tsv",
        motion=f"{CLIP_PHANTOM}/motion.tsv",
    output:
        volumes="results/clip/volumes.npy",
        index="results/clip/index.tsv",
        qc="results/clip/registration_qc.tsv",
        preview="results/clip/registration_preview.npz",
    log:
        "logs/clip/register.log",
    benchmark:
        "benchmarks/clip/register.tsv"
    conda:
        "../../envs/curate.yaml"
    threads: threads_of("curate")
    resources:
        **resources_of("curate"),
    params:
        clip={
            key: config["clip"][key]
            for key in ["volume_shape", "voxel_mm", "registration", "preview_studies"]
        },
        salt=config["ingest"]["salt"],
        source=COHORT_FORMATS["pathology"],
        seed=config["seed"],
    script:
        "../../scripts/clip_register.py"


rule clip_split:
    input:
        index="results/clip/index.tsv",
    output:
        splits="results/clip/splits.tsv",
    log:
        "logs/clip/split.log",
    benchmark:
        "benchmarks/clip/split.tsv"
    conda:
        "../../envs/curate.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    params:
        counts=config["clip"]["split"],
        seed=config["seed"],
    script:
        "../../scripts/clip_split.py"


rule clip_registration_table:
    input:
        qc="results/clip/registration_qc.tsv",
    output:
        csv=report(
            "results/tables/clip_registration_qc.csv",
            caption="../report/clip_registration_qc.rst",
            category="clip (paper 003)",
            subcategory="Curated inputs",
        ),
        md="results/tables/clip_registration_qc.md",
        tex="results/tables/clip_registration_qc.tex",
    log:
        "logs/clip/report/registration_table.log",
    benchmark:
        "benchmarks/clip/report/registration_table.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    params:
        voxel_mm=min(config["clip"]["voxel_mm"]),
        caption=(
            "Registration of T2* and DWI b1000 to FLAIR (clip cohort): normalised mutual information with "
            "FLAIR and mean residual error of the rigid map (mm, against the phantom's true motion) before "
            "and after registration, and the share of studies whose error is under one output voxel."
        ),
    script:
        "../../scripts/clip_registration_table.py"


rule clip_registration_overlay:
    input:
        preview="results/clip/registration_preview.npz",
    output:
        png=report(
            "results/figures/clip_registration_overlay.png",
            caption="../report/clip_registration_overlay.rst",
            category="clip (paper 003)",
            subcategory="Curated inputs",
        ),
    log:
        "logs/clip/report/registration_overlay.log",
    benchmark:
        "benchmarks/clip/report/registration_overlay.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    script:
        "../../scripts/clip_registration_overlay.py"


rule clip_voxel_sizes:
    input:
        manifest="results/cohorts/pathology/manifest.tsv",
    output:
        png=report(
            "results/figures/clip_voxel_sizes.png",
            caption="../report/clip_voxel_sizes.rst",
            category="clip (paper 003)",
            subcategory="Curated inputs",
        ),
    log:
        "logs/clip/report/voxel_sizes.log",
    benchmark:
        "benchmarks/clip/report/voxel_sizes.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    script:
        "../../scripts/clip_voxel_sizes.py"


rule clip_report_lengths:
    input:
        index="results/clip/index.tsv",
    output:
        png=report(
            "results/figures/clip_report_lengths.png",
            caption="../report/clip_report_lengths.rst",
            category="clip (paper 003)",
            subcategory="Curated inputs",
        ),
    log:
        "logs/clip/report/report_lengths.log",
    benchmark:
        "benchmarks/clip/report/report_lengths.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    script:
        "../../scripts/clip_report_lengths.py"
