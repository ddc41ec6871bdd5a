# Render rules: the tables and figures (results/tables/*.{csv,md,tex}, results/figures/*.png).


rule curation_summary:
    input:
        indexes=expand("results/curate/slices/{split}.tsv", split=SPLITS),
    output:
        csv=report(
            "results/tables/curation_summary.csv",
            caption="../report/curation_summary.rst",
            category="seqclass (paper 000)",
            subcategory="Curated cohort",
        ),
        md="results/tables/curation_summary.md",
        tex="results/tables/curation_summary.tex",
    params:
        splits=SPLITS,
        caption="Curated cohort: labelled series and extracted 2D slices per sequence class and split.",
    log:
        "logs/report/curation_summary.log",
    benchmark:
        "benchmarks/report/curation_summary.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    script:
        "../../scripts/curation_summary.py"


rule curation_montage:
    input:
        # The training split: the largest, so the likeliest to hold every class.
        array="results/curate/slices/train.npy",
        index="results/curate/slices/train.tsv",
    output:
        png=report(
            "results/figures/curation_montage.png",
            caption="../report/curation_montage.rst",
            category="seqclass (paper 000)",
            subcategory="Curated cohort",
        ),
    params:
        planes=config["curate"]["planes"],
    log:
        "logs/report/curation_montage.log",
    benchmark:
        "benchmarks/report/curation_montage.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    script:
        "../../scripts/curation_montage.py"
