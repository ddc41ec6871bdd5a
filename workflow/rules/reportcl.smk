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
    threads: threads_of("curate", serial=True)
    resources:
        **resources_of("curate", serial=True),
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
        quarantine="results/reportcl/reports/quarantine.tsv",
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


# Contrastive pretraining, downstream marker classification, explainability (Tables 1-5, 10-11, Fig 3).
PRODUCTS += [
    f"results/tables/reportcl_{name}.csv"
    for name in ("table1", "table2", "table3", "table4", "ttests")
] + ["results/figures/reportcl_fig3.png", "results/figures/reportcl_loss_curves.png"]
if REPORTCL_ABLATIONS:
    PRODUCTS += ["results/tables/reportcl_table5.csv"]


# Nothing of the tumour cohorts: a user's MedicalNet checkpoint or another phantom's task.
rule reportcl_medicalnet_init:
    output:
        encoder="results/reportcl/init/medicalnet.pt",
        metrics="results/reportcl/init/medicalnet.tsv",
    log:
        "logs/reportcl/medicalnet_init.log",
    benchmark:
        "benchmarks/reportcl/medicalnet_init.tsv"
    conda:
        "../../envs/train.yaml"
    threads: threads_of("gpu")
    resources:
        **resources_of("gpu"),
    params:
        checkpoint=REPORTCL.get("medicalnet_checkpoint"),
        settings=REPORTCL["medicalnet_like"],
        volume_shape=REPORTCL["volume_shape"],
        fixed=REPORTCL_FIXED,
    script:
        "../../scripts/reportcl_medicalnet_init.py"


rule reportcl_frozen_outputs:
    input:
        images="results/reportcl/tumour_internal/images.npy",
        index="results/reportcl/tumour_internal/index.tsv",
        reports="results/reportcl/reports/reports.tsv",
        token_ids="results/reportcl/reports/token_ids.npy",
        attention_mask="results/reportcl/reports/attention_mask.npy",
        encoder="results/reportcl/init/medicalnet.pt",
    output:
        "results/reportcl/pretrain/frozen_outputs.pt",
    log:
        "logs/reportcl/frozen_outputs.log",
    benchmark:
        "benchmarks/reportcl/frozen_outputs.tsv"
    conda:
        "../../envs/train.yaml"
    threads: threads_of("gpu")
    resources:
        **resources_of("gpu"),
    params:
        text_encoder=REPORTCL["text_encoder"],
        text_trainable_layers=REPORTCL["pretrain"]["text_trainable_layers"],
        fixed=REPORTCL_FIXED,
    script:
        "../../scripts/reportcl_frozen_outputs.py"


rule reportcl_pretrain:
    input:
        # All internal image-report pairs; no marker label, never the external set.
        frozen="results/reportcl/pretrain/frozen_outputs.pt",
        encoder="results/reportcl/init/medicalnet.pt",
    output:
        encoder="results/reportcl/pretrain/{variant}/encoder.pt",
        metrics="results/reportcl/pretrain/{variant}/metrics.tsv",
    log:
        "logs/reportcl/pretrain/{variant}.log",
    benchmark:
        "benchmarks/reportcl/pretrain/{variant}.tsv"
    wildcard_constraints:
        variant="|".join(REPORTCL_VARIANTS),
    conda:
        "../../envs/train.yaml"
    threads: threads_of("gpu")
    resources:
        **resources_of("gpu"),
    params:
        settings=reportcl_pretrain_settings,
        text_encoder=REPORTCL["text_encoder"],
        checkpoint_dir=f"{REPORTCL_CHECKPOINTS}/pretrain/{{variant}}",
    script:
        "../../scripts/reportcl_pretrain.py"


rule reportcl_downstream:
    input:
        encoder=reportcl_encoder,
        internal_images="results/reportcl/tumour_internal/images.npy",
        internal_masks="results/reportcl/tumour_internal/masks.npy",
        internal_index="results/reportcl/tumour_internal/index.tsv",
        folds="results/reportcl/folds.tsv",
        external_images="results/reportcl/tumour_external/images.npy",
        external_masks="results/reportcl/tumour_external/masks.npy",
        external_index="results/reportcl/tumour_external/index.tsv",
    output:
        per_fold="results/reportcl/downstream/{init}/per_fold.tsv",
        predictions="results/reportcl/downstream/{init}/predictions.tsv",
        history="results/reportcl/downstream/{init}/history.tsv",
        maps="results/reportcl/downstream/{init}/attention_maps.npz",
    log:
        "logs/reportcl/downstream/{init}.log",
    benchmark:
        "benchmarks/reportcl/downstream/{init}.tsv"
    wildcard_constraints:
        init="|".join(["random", "medicalnet", *REPORTCL_VARIANTS]),
    conda:
        "../../envs/train.yaml"
    threads: threads_of("gpu")
    resources:
        **resources_of("gpu"),
    params:
        settings={**REPORTCL["downstream"], **REPORTCL_FIXED},
    script:
        "../../scripts/reportcl_downstream.py"


rule reportcl_tables:
    input:
        per_fold=expand(
            "results/reportcl/downstream/{init}/per_fold.tsv", init=REPORTCL_INITS
        ),
        init="results/reportcl/init/medicalnet.tsv",
    output:
        **{
            name: report(
                f"results/tables/reportcl_{name}.csv",
                caption=f"../report/reportcl_{name}.rst",
                category="reportcl (paper 001)",
                subcategory="Results",
            )
            for name in ("table1", "table2", "table3", "table4", "ttests")
        },
        other=expand(
            "results/tables/reportcl_{name}.{ext}",
            name=("table1", "table2", "table3", "table4", "ttests"),
            ext=("md", "tex"),
        ),
    log:
        "logs/reportcl/report/tables.log",
    benchmark:
        "benchmarks/reportcl/report/tables.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    params:
        inits=REPORTCL_INITS,
        downstream=REPORTCL["downstream"],
    script:
        "../../scripts/reportcl_tables.py"


rule reportcl_table5:
    input:
        per_fold=expand(
            "results/reportcl/downstream/{init}/per_fold.tsv", init=REPORTCL_VARIANTS
        ),
    output:
        csv=report(
            "results/tables/reportcl_table5.csv",
            caption="../report/reportcl_table5.rst",
            category="reportcl (paper 001)",
            subcategory="Results",
        ),
        md="results/tables/reportcl_table5.md",
        tex="results/tables/reportcl_table5.tex",
    log:
        "logs/reportcl/report/table5.log",
    benchmark:
        "benchmarks/reportcl/report/table5.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    params:
        experiments={
            **{v: REPORTCL_ABLATION_LABELS.get(v, v) for v in REPORTCL_ABLATIONS},
            "proposed": "Proposed method",
        },
    script:
        "../../scripts/reportcl_table5.py"


rule reportcl_fig3:
    input:
        maps=expand(
            "results/reportcl/downstream/{init}/attention_maps.npz",
            init=REPORTCL_INITS,
        ),
        internal_images="results/reportcl/tumour_internal/images.npy",
        internal_masks="results/reportcl/tumour_internal/masks.npy",
        internal_index="results/reportcl/tumour_internal/index.tsv",
        external_images="results/reportcl/tumour_external/images.npy",
        external_masks="results/reportcl/tumour_external/masks.npy",
        external_index="results/reportcl/tumour_external/index.tsv",
    output:
        png=report(
            "results/figures/reportcl_fig3.png",
            caption="../report/reportcl_fig3.rst",
            category="reportcl (paper 001)",
            subcategory="Results",
        ),
    log:
        "logs/reportcl/report/fig3.log",
    benchmark:
        "benchmarks/reportcl/report/fig3.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    params:
        inits=REPORTCL_INITS,
    script:
        "../../scripts/reportcl_fig3.py"


rule reportcl_loss_curves:
    input:
        metrics=expand(
            "results/reportcl/pretrain/{variant}/metrics.tsv",
            variant=REPORTCL_VARIANTS,
        ),
        segmentation="results/reportcl/init/medicalnet.tsv",
    output:
        png=report(
            "results/figures/reportcl_loss_curves.png",
            caption="../report/reportcl_loss_curves.rst",
            category="reportcl (paper 001)",
            subcategory="Results",
        ),
    log:
        "logs/reportcl/report/loss_curves.log",
    benchmark:
        "benchmarks/reportcl/report/loss_curves.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    params:
        variants=REPORTCL_VARIANTS,
    script:
        "../../scripts/reportcl_loss_curves.py"
