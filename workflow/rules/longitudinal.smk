# Longitudinal spine study (paper 002): the embedded lumbar spine cohort in SPIDER's layout, its scans
# joined to subjects and twin pairs, subject-level splits with twins kept together, the VB and IVD
# volumes, and the cohort's table and montage; then the Siamese network on VB pairs across time
# (Fig. 6, the twins), its transfer to disc grading beside three baselines (Fig. 8), and their tables. read_cohort (cohorts.smk) turns the raw cohort into
# results/cohorts/spine/manifest.tsv in between.


# The study's tables and figures, for all_targets().
PRODUCTS += [
    "results/tables/longitudinal_cohort.csv",
    "results/figures/longitudinal_montage.png",
    "results/tables/longitudinal_pairs.csv",
    "results/tables/longitudinal_grading.csv",
    "results/figures/longitudinal_fig6.png",
    "results/figures/longitudinal_fig8.png",
    "results/figures/longitudinal_twins.png",
    "results/figures/longitudinal_loss_curves.png",
]


rule longitudinal_scans:
    input:
        manifest="results/cohorts/spine/manifest.tsv",
        scans=f"{PHANTOM_ROOT}/spine/scans.tsv",
        data=f"{PHANTOM_ROOT}/spine/data",
    output:
        scans="results/longitudinal/scans.tsv",
        gradings="results/longitudinal/gradings.tsv",
        gradings_quarantine="results/longitudinal/gradings_quarantine.tsv",
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
    threads: threads_of("curate", serial=True)
    resources:
        **resources_of("curate", serial=True),
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


# --- Siamese pretraining and its evaluation (paper 002, 2.2-4.1, Fig. 6) ----------------------------


rule longitudinal_pretrain:
    input:
        vb="results/longitudinal/vertebrae/vb.npy",
        index="results/longitudinal/vertebrae/index.tsv",
        scans="results/longitudinal/scans.tsv",
        splits="results/longitudinal/splits.tsv",
    output:
        model="results/longitudinal/siamese/model.pt",
        metrics="results/longitudinal/siamese/metrics.csv",
    log:
        "logs/longitudinal/pretrain.log",
    benchmark:
        "benchmarks/longitudinal/pretrain.tsv"
    conda:
        "../../envs/train.yaml"
    threads: threads_of("gpu")
    resources:
        **resources_of("gpu"),
    params:
        settings=longitudinal_settings("siamese"),
        checkpoint_dir=f"{LONGITUDINAL_CHECKPOINTS}/siamese",
    script:
        "../../scripts/longitudinal_pretrain.py"


rule longitudinal_pairs:
    input:
        model="results/longitudinal/siamese/model.pt",
        vb="results/longitudinal/vertebrae/vb.npy",
        index="results/longitudinal/vertebrae/index.tsv",
        scans="results/longitudinal/scans.tsv",
        splits="results/longitudinal/splits.tsv",
    output:
        distances="results/longitudinal/siamese/test_distances.tsv",
        levels="results/longitudinal/siamese/test_levels.tsv",
    log:
        "logs/longitudinal/pairs.log",
    benchmark:
        "benchmarks/longitudinal/pairs.tsv"
    conda:
        "../../envs/train.yaml"
    threads: threads_of("gpu")
    resources:
        **resources_of("gpu"),
    params:
        network={
            **LONGITUDINAL["network"],
            "dropout": LONGITUDINAL["siamese"]["dropout"],
        },
        device=LONGITUDINAL["device"],
    script:
        "../../scripts/longitudinal_pairs.py"


rule longitudinal_pairs_table:
    input:
        distances="results/longitudinal/siamese/test_distances.tsv",
        levels="results/longitudinal/siamese/test_levels.tsv",
    output:
        csv=report(
            "results/tables/longitudinal_pairs.csv",
            caption="../report/longitudinal_pairs.rst",
            category=LONGITUDINAL_CATEGORY,
            subcategory="Siamese network",
        ),
        md="results/tables/longitudinal_pairs.md",
        tex="results/tables/longitudinal_pairs.tex",
    log:
        "logs/longitudinal/report/pairs_table.log",
    benchmark:
        "benchmarks/longitudinal/report/pairs_table.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    params:
        caption=(
            "Siamese network on the test split's VB pairs (paper 002, 4.1): AUC of same subject vs "
            "different subjects from the FC7 distance, VB-level accuracy of FC8, and the distances of "
            "pairs by the relation of the two people (same subject a decade apart, MZ and DZ twins, unrelated)."
        ),
    script:
        "../../scripts/longitudinal_pairs_table.py"


rule longitudinal_fig6:
    input:
        distances="results/longitudinal/siamese/test_distances.tsv",
    output:
        png=report(
            "results/figures/longitudinal_fig6.png",
            caption="../report/longitudinal_fig6.rst",
            category=LONGITUDINAL_CATEGORY,
            subcategory="Siamese network",
        ),
    log:
        "logs/longitudinal/report/fig6.log",
    benchmark:
        "benchmarks/longitudinal/report/fig6.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    script:
        "../../scripts/longitudinal_fig6.py"


rule longitudinal_twins:
    input:
        distances="results/longitudinal/siamese/test_distances.tsv",
    output:
        png=report(
            "results/figures/longitudinal_twins.png",
            caption="../report/longitudinal_twins.rst",
            category=LONGITUDINAL_CATEGORY,
            subcategory="Siamese network",
        ),
    log:
        "logs/longitudinal/report/twins.log",
    benchmark:
        "benchmarks/longitudinal/report/twins.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    script:
        "../../scripts/longitudinal_twins.py"


# --- transfer to disc grading (paper 002, 4.2, Fig. 8) -----------------------------------------------


rule longitudinal_grading_split:
    input:
        scans="results/longitudinal/scans.tsv",
        gradings="results/longitudinal/gradings.tsv",
    output:
        split="results/longitudinal/grading/split.tsv",
    log:
        "logs/longitudinal/grading_split.log",
    benchmark:
        "benchmarks/longitudinal/grading_split.tsv"
    conda:
        "../../envs/curate.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    params:
        proportions=LONGITUDINAL["grading"]["proportions"],
        seed=config["seed"],
    script:
        "../../scripts/longitudinal_grading_split.py"


rule longitudinal_supervised:
    input:
        ivd="results/longitudinal/vertebrae/ivd.npy",
        index="results/longitudinal/vertebrae/index.tsv",
        gradings="results/longitudinal/gradings.tsv",
        split="results/longitudinal/grading/split.tsv",
    output:
        model="results/longitudinal/supervised/model.pt",
        metrics="results/longitudinal/supervised/metrics.csv",
    log:
        "logs/longitudinal/supervised.log",
    benchmark:
        "benchmarks/longitudinal/supervised.tsv"
    conda:
        "../../envs/train.yaml"
    threads: threads_of("gpu")
    resources:
        **resources_of("gpu"),
    params:
        settings=longitudinal_settings("supervised"),
        checkpoint_dir=f"{LONGITUDINAL_CHECKPOINTS}/supervised",
    script:
        "../../scripts/longitudinal_supervised.py"


rule longitudinal_grade:
    input:
        unpack(longitudinal_conv_weights),
        ivd="results/longitudinal/vertebrae/ivd.npy",
        index="results/longitudinal/vertebrae/index.tsv",
        split="results/longitudinal/grading/split.tsv",
    output:
        results="results/longitudinal/grading/{init}/results.tsv",
        history="results/longitudinal/grading/{init}/history.tsv",
    log:
        "logs/longitudinal/grade/{init}.log",
    benchmark:
        "benchmarks/longitudinal/grade/{init}.tsv"
    wildcard_constraints:
        init="|".join(LONGITUDINAL_INITS),
    conda:
        "../../envs/train.yaml"
    threads: threads_of("gpu")
    resources:
        **resources_of("gpu"),
    params:
        settings=longitudinal_settings("grading"),
        checkpoint_dir=f"{LONGITUDINAL_CHECKPOINTS}/grading/{{init}}",
    script:
        "../../scripts/longitudinal_grade.py"


rule longitudinal_grading_table:
    input:
        results=expand(
            "results/longitudinal/grading/{init}/results.tsv", init=LONGITUDINAL_INITS
        ),
    output:
        csv=report(
            "results/tables/longitudinal_grading.csv",
            caption="../report/longitudinal_grading.rst",
            category=LONGITUDINAL_CATEGORY,
            subcategory="Disc grading transfer",
        ),
        md="results/tables/longitudinal_grading.md",
        tex="results/tables/longitudinal_grading.tex",
    log:
        "logs/longitudinal/report/grading_table.log",
    benchmark:
        "benchmarks/longitudinal/report/grading_table.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    params:
        caption=(
            "Disc degeneration grading (4 grades, L1-L2 to L5-S1) on the grading test set (paper 002, 4.2, "
            "Fig. 8): average class accuracy by initialisation and number of training subjects / scans. "
            "Paper: 74.4% at 667 scans with longitudinal pre-training vs 74.7% at 976 from scratch."
        ),
    script:
        "../../scripts/longitudinal_grading_table.py"


rule longitudinal_fig8:
    input:
        results=expand(
            "results/longitudinal/grading/{init}/results.tsv", init=LONGITUDINAL_INITS
        ),
    output:
        png=report(
            "results/figures/longitudinal_fig8.png",
            caption="../report/longitudinal_fig8.rst",
            category=LONGITUDINAL_CATEGORY,
            subcategory="Disc grading transfer",
        ),
    log:
        "logs/longitudinal/report/fig8.log",
    benchmark:
        "benchmarks/longitudinal/report/fig8.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    script:
        "../../scripts/longitudinal_fig8.py"


rule longitudinal_loss_curves:
    input:
        siamese="results/longitudinal/siamese/metrics.csv",
        histories=expand(
            "results/longitudinal/grading/{init}/history.tsv", init=LONGITUDINAL_INITS
        ),
    output:
        png=report(
            "results/figures/longitudinal_loss_curves.png",
            caption="../report/longitudinal_loss_curves.rst",
            category=LONGITUDINAL_CATEGORY,
            subcategory="Training",
        ),
    log:
        "logs/longitudinal/report/loss_curves.log",
    benchmark:
        "benchmarks/longitudinal/report/loss_curves.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    script:
        "../../scripts/longitudinal_loss_curves.py"
