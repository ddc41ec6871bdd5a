# The brain-pathology cohort of clip (paper 003): DWI b1000, T2* and FLAIR at different resolutions
# and head positions, with a report each, written as BIDS and read by read_cohort (cohorts.smk);
# then DWI and T2* registered to FLAIR and stacked, the balanced patient-level split, the
# registration QC table and the cohort's figures (paper 003 Figs. 2-3).

CLIP_PHANTOM = f"{PHANTOM_ROOT}/pathology"
clip_check_batch_size()


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
        reports_quarantine="results/clip/reports_quarantine.tsv",
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


# Training and evaluation (paper 003, sections 4-6): frozen text features, the CLIP-style model,
# the image-only baseline, test embeddings, then the tables and figures.
PRODUCTS += [
    "results/tables/clip_table1.csv",
    "results/tables/clip_retrieval.csv",
    "results/tables/clip_table2.csv",
    "results/tables/clip_table3.csv",
    "results/tables/clip_zeroshot.csv",
    "results/figures/clip_fig5.png",
    "results/figures/clip_fig6.png",
    "results/figures/clip_fig7.png",
]


rule clip_text:
    input:
        index="results/clip/index.tsv",
    output:
        features="results/clip/text_features.npz",
    log:
        "logs/clip/text.log",
    benchmark:
        "benchmarks/clip/text.tsv"
    conda:
        "../../envs/text.yaml"
    threads: threads_of("gpu")
    resources:
        **resources_of("gpu"),
    params:
        settings=CLIP_TEXT,
        prompts=CLIP["zeroshot_prompts"],
        query=CLIP["query"],
    script:
        "../../scripts/clip_text.py"


rule clip_train:
    input:
        # Volumes, the training columns of the index, the splits and the cached text features:
        # never the true class.
        volumes="results/clip/volumes.npy",
        index="results/clip/index.tsv",
        splits="results/clip/splits.tsv",
        features="results/clip/text_features.npz",
    output:
        model="results/clip/model.pt",
        metrics="results/clip/train_metrics.tsv",
    log:
        "logs/clip/train.log",
    benchmark:
        "benchmarks/clip/train.tsv"
    conda:
        "../../envs/train.yaml"
    threads: threads_of("gpu")
    resources:
        **resources_of("gpu", multi_gpu=True),
    params:
        settings=CLIP_TRAIN,
        voxel_mm=CLIP["voxel_mm"],
        seed=config["seed"],
        processes=training_processes(),
        checkpoint_dir=f"{CLIP_CHECKPOINTS}/train",
    script:
        "../../scripts/clip_train.py"


rule clip_image_baseline:
    input:
        volumes="results/clip/volumes.npy",
        index="results/clip/index.tsv",
        splits="results/clip/splits.tsv",
    output:
        predictions="results/clip/image_baseline.tsv",
        metrics="results/clip/image_baseline_metrics.tsv",
    log:
        "logs/clip/image_baseline.log",
    benchmark:
        "benchmarks/clip/image_baseline.tsv"
    conda:
        "../../envs/train.yaml"
    threads: threads_of("gpu")
    resources:
        **resources_of("gpu", multi_gpu=True),
    params:
        settings=CLIP_TRAIN,
        epochs=CLIP["image_baseline_epochs"],
        voxel_mm=CLIP["voxel_mm"],
        seed=config["seed"],
        processes=training_processes(),
        checkpoint_dir=f"{CLIP_CHECKPOINTS}/image_baseline",
    script:
        "../../scripts/clip_image_baseline.py"


rule clip_embed:
    input:
        model="results/clip/model.pt",
        volumes="results/clip/volumes.npy",
        index="results/clip/index.tsv",
        splits="results/clip/splits.tsv",
        features="results/clip/text_features.npz",
    output:
        embeddings="results/clip/embeddings.npz",
    log:
        "logs/clip/embed.log",
    benchmark:
        "benchmarks/clip/embed.tsv"
    conda:
        "../../envs/train.yaml"
    threads: threads_of("gpu")
    resources:
        **resources_of("gpu"),
    params:
        batch_size=CLIP["train"]["batch_size"],
    script:
        "../../scripts/clip_embed.py"


rule clip_table1:
    input:
        index="results/clip/index.tsv",
        splits="results/clip/splits.tsv",
    output:
        csv=report(
            "results/tables/clip_table1.csv",
            caption="../report/clip_table1.rst",
            category=CLIP_CATEGORY,
            subcategory="Results",
        ),
        md="results/tables/clip_table1.md",
        tex="results/tables/clip_table1.tex",
    log:
        "logs/clip/report/table1.log",
    benchmark:
        "benchmarks/clip/report/table1.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    params:
        caption=(
            "Studies per split and report-derived class (cf. paper 003 Table 1: 211 / 24 / 27), and the share "
            "whose report-derived class differs from the phantom's true class (label noise)."
        ),
    script:
        "../../scripts/clip_table1.py"


rule clip_retrieval:
    input:
        embeddings="results/clip/embeddings.npz",
        index="results/clip/index.tsv",
    output:
        csv=report(
            "results/tables/clip_retrieval.csv",
            caption="../report/clip_retrieval.rst",
            category=CLIP_CATEGORY,
            subcategory="Results",
        ),
        md="results/tables/clip_retrieval.md",
        tex="results/tables/clip_retrieval.tex",
    log:
        "logs/clip/report/retrieval.log",
    benchmark:
        "benchmarks/clip/report/retrieval.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    params:
        caption=(
            "Retrieval on the test split: rank of the true match among all test images (reports) for each "
            "report (image), R@1/5/10, median and mean rank, and chance; mean_rank_p: one-sided permutation "
            "p-value of the mean rank against random pairings (10,000); then the paper's view: share of "
            "reports whose rank-1 image among the other n - 1 has the report's class, and its chance."
        ),
    script:
        "../../scripts/clip_retrieval.py"


rule clip_table2:
    input:
        embeddings="results/clip/embeddings.npz",
        index="results/clip/index.tsv",
    output:
        csv=report(
            "results/tables/clip_table2.csv",
            caption="../report/clip_table2.rst",
            category=CLIP_CATEGORY,
            subcategory="Results",
        ),
        md="results/tables/clip_table2.md",
        tex="results/tables/clip_table2.tex",
    log:
        "logs/clip/report/table2.log",
    benchmark:
        "benchmarks/clip/report/table2.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    params:
        top=5,
        caption=f"Test images most similar to the query \"{CLIP['query']}\" (cf. paper 003 Table 2).",
    script:
        "../../scripts/clip_table2.py"


rule clip_table3:
    input:
        embeddings="results/clip/embeddings.npz",
        index="results/clip/index.tsv",
    output:
        csv=report(
            "results/tables/clip_table3.csv",
            caption="../report/clip_table3.rst",
            category=CLIP_CATEGORY,
            subcategory="Results",
        ),
        md="results/tables/clip_table3.md",
        tex="results/tables/clip_table3.tex",
    log:
        "logs/clip/report/table3.log",
    benchmark:
        "benchmarks/clip/report/table3.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    params:
        caption=(
            "For each test report, the image ranked first among the other n - 1 test images, with both "
            "reports and report-derived classes (cf. paper 003 Table 3, which lists the rows whose classes agree)."
        ),
    script:
        "../../scripts/clip_table3.py"


rule clip_zeroshot:
    input:
        embeddings="results/clip/embeddings.npz",
        index="results/clip/index.tsv",
        splits="results/clip/splits.tsv",
        features="results/clip/text_features.npz",
        image_baseline="results/clip/image_baseline.tsv",
    output:
        csv=report(
            "results/tables/clip_zeroshot.csv",
            caption="../report/clip_zeroshot.rst",
            category=CLIP_CATEGORY,
            subcategory="Results",
        ),
        md="results/tables/clip_zeroshot.md",
        tex="results/tables/clip_zeroshot.tex",
    log:
        "logs/clip/report/zeroshot.log",
    benchmark:
        "benchmarks/clip/report/zeroshot.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    params:
        seed=config["seed"],
        caption=(
            "Zero-shot classification of the test images with one prompt per class, against the report-derived "
            "and the true classes, beside an image-only and a text-only classifier trained on the same splits "
            "and the majority class."
        ),
    script:
        "../../scripts/clip_zeroshot.py"


rule clip_fig5:
    input:
        metrics="results/clip/train_metrics.tsv",
    output:
        png=report(
            "results/figures/clip_fig5.png",
            caption="../report/clip_fig5.rst",
            category=CLIP_CATEGORY,
            subcategory="Results",
        ),
    log:
        "logs/clip/report/fig5.log",
    benchmark:
        "benchmarks/clip/report/fig5.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    script:
        "../../scripts/clip_fig5.py"


rule clip_fig6:
    input:
        embeddings="results/clip/embeddings.npz",
        index="results/clip/index.tsv",
    output:
        png=report(
            "results/figures/clip_fig6.png",
            caption="../report/clip_fig6.rst",
            category=CLIP_CATEGORY,
            subcategory="Results",
        ),
    log:
        "logs/clip/report/fig6.log",
    benchmark:
        "benchmarks/clip/report/fig6.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    script:
        "../../scripts/clip_fig6.py"


rule clip_fig7:
    input:
        embeddings="results/clip/embeddings.npz",
        index="results/clip/index.tsv",
    output:
        png=report(
            "results/figures/clip_fig7.png",
            caption="../report/clip_fig7.rst",
            category=CLIP_CATEGORY,
            subcategory="Results",
        ),
    log:
        "logs/clip/report/fig7.log",
    benchmark:
        "benchmarks/clip/report/fig7.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    script:
        "../../scripts/clip_fig7.py"
