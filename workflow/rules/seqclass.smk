# seqclass (seed 000): SimCLR / SimSiam pretraining of a ResNet-18 on 2D slices, fine-tuning on
# nested label fractions, a DICOM-header baseline, and latent maps.
#
# Wildcards
#   {run}      a pretraining run, "{method}_b{batch size}_px{image size}" (the grid of config
#              seqclass.batch_sweep and seqclass.resolution_sweep);
#   {encoder}  what fine-tuning starts from: a {run}, or "scratch_px{image size}" (random weights,
#              the supervised baseline);
#   {seed}     a replicate (config seqclass.seeds): pretraining, label subsets and fine-tuning;
#   {dataset}  the labelled slices fine-tuned and tested on: "internal" (the curated cohort) or an
#              external site of Fig. 3 (config phantom.external_sites).
# Pretraining reads only the internal training images (no labels). Fine-tuning sees the training
# subset and the validation split; only seqclass_evaluate reads the test split.
# Checkpoints live under results/checkpoints/ (params, not outputs: Snakemake deletes the outputs of a
# job before it runs, so a killed and re-submitted job resumes from them).

import re

SEQCLASS = config["seqclass"]
# The labelled slices each {dataset} fine-tunes and tests on: the internal cohort, and per external
# site its transfer dataset (the site's classes from the site, the others from the internal cohort).
SEQCLASS_SLICES = {"internal": "results/curate/slices"} | {site: f"results/seqclass/{site}/slices" for site in EXTERNAL_SITES}
SEQCLASS_FRACTIONS = [format(fraction, "g") for fraction in SEQCLASS["finetune"]["fractions"]]
SEQCLASS_SEEDS = SEQCLASS["seeds"]
SEQCLASS_CHECKPOINTS = "results/checkpoints/seqclass"
SEQCLASS_METHODS = {"simclr": "SimCLR", "simsiam": "SimSiam"}
# Per rule (a global wildcard_constraints would bind other studies' {seed} and {dataset} too).
SEQCLASS_WILDCARDS = {
    "run": r"(simclr|simsiam)_b\d+_px\d+",
    "encoder": r"(simclr|simsiam)_b\d+_px\d+|scratch_px\d+",
    "seed": r"\d+",
    "dataset": "|".join(SEQCLASS_SLICES),
}


SEQCLASS_SCRATCH = f"scratch_px{SEQCLASS['batch_sweep']['image_size']}"
SEQCLASS_FOCUS = seqclass_run(**SEQCLASS["focus_run"])  # the run of Fig. 2, the confusion figure and Fig. 3


seqclass_check_image_sizes()


rule seqclass_label_subsets:
    input:
        unpack(lambda w: seqclass_split(w.dataset, "train")),
    output:
        subsets="results/seqclass/{dataset}/label_subsets/seed{seed}.tsv",
    wildcard_constraints:
        **SEQCLASS_WILDCARDS,
    params:
        fractions=SEQCLASS["finetune"]["fractions"],
    log:
        "logs/seqclass/{dataset}/label_subsets_seed{seed}.log",
    benchmark:
        "benchmarks/seqclass/{dataset}/label_subsets_seed{seed}.tsv"
    conda:
        "../../envs/train.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    script:
        "../../scripts/seqclass_label_subsets.py"


rule seqclass_pretrain:
    input:
        # Images only: pretraining never sees a label.
        array=f"{SEQCLASS_SLICES['internal']}/train.npy",
    output:
        encoder_epoch0="results/seqclass/pretrain/{run}/seed{seed}/encoder_epoch0.pt",
        encoder_final="results/seqclass/pretrain/{run}/seed{seed}/encoder_final.pt",
        metrics="results/seqclass/pretrain/{run}/seed{seed}/metrics.csv",
    wildcard_constraints:
        **SEQCLASS_WILDCARDS,
    params:
        settings=seqclass_pretrain_settings,
        checkpoint_dir=f"{SEQCLASS_CHECKPOINTS}/pretrain/{{run}}/seed{{seed}}",
    log:
        "logs/seqclass/pretrain/{run}_seed{seed}.log",
    benchmark:
        "benchmarks/seqclass/pretrain/{run}_seed{seed}.tsv"
    conda:
        "../../envs/train.yaml"
    threads: threads_of("gpu")
    resources:
        **resources_of("gpu"),
    script:
        "../../scripts/seqclass_pretrain.py"


# One job per encoder runs every label fraction: each small fraction takes seconds, less than the
# start-up of a job (~5 s of imports); a finished fraction is checkpointed, so a killed job resumes.
rule seqclass_finetune:
    input:
        unpack(lambda w: seqclass_split(w.dataset, "train", "val")),
        subsets="results/seqclass/{dataset}/label_subsets/seed{seed}.tsv",
        encoder=seqclass_pretrained,
    output:
        models=expand("results/seqclass/{{dataset}}/finetune/{{encoder}}/seed{{seed}}/fraction{fraction}.pt",
                      fraction=SEQCLASS_FRACTIONS),
        history="results/seqclass/{dataset}/finetune/{encoder}/seed{seed}/history.tsv",
    wildcard_constraints:
        **SEQCLASS_WILDCARDS,
    params:
        fractions=SEQCLASS_FRACTIONS,
        settings=seqclass_finetune_settings,
        checkpoint_dir=f"{SEQCLASS_CHECKPOINTS}/finetune/{{dataset}}/{{encoder}}/seed{{seed}}",
    log:
        "logs/seqclass/{dataset}/finetune/{encoder}_seed{seed}.log",
    benchmark:
        "benchmarks/seqclass/{dataset}/finetune/{encoder}_seed{seed}.tsv"
    conda:
        "../../envs/train.yaml"
    threads: threads_of("gpu")
    resources:
        **resources_of("gpu"),
    script:
        "../../scripts/seqclass_finetune.py"


rule seqclass_evaluate:
    input:
        unpack(lambda w: seqclass_split(w.dataset, "test")),
        models=rules.seqclass_finetune.output.models,
    output:
        accuracy="results/seqclass/{dataset}/evaluate/{encoder}/seed{seed}/accuracy.tsv",
        per_class="results/seqclass/{dataset}/evaluate/{encoder}/seed{seed}/per_class.tsv",
        confusion="results/seqclass/{dataset}/evaluate/{encoder}/seed{seed}/confusion.tsv",
    wildcard_constraints:
        **SEQCLASS_WILDCARDS,
    params:
        fractions=SEQCLASS_FRACTIONS,
        settings=seqclass_finetune_settings,
    log:
        "logs/seqclass/{dataset}/evaluate/{encoder}_seed{seed}.log",
    benchmark:
        "benchmarks/seqclass/{dataset}/evaluate/{encoder}_seed{seed}.tsv"
    conda:
        "../../envs/train.yaml"
    threads: threads_of("gpu")
    resources:
        **resources_of("gpu"),
    script:
        "../../scripts/seqclass_evaluate.py"


rule seqclass_header_baseline:
    input:
        unpack(lambda w: seqclass_split(w.dataset, "train", "test")),
        manifest="results/ingest/manifest.tsv",
        subsets="results/seqclass/{dataset}/label_subsets/seed{seed}.tsv",
    output:
        accuracy="results/seqclass/{dataset}/header_baseline/seed{seed}/accuracy.tsv",
        predictions="results/seqclass/{dataset}/header_baseline/seed{seed}/predictions.tsv",
    wildcard_constraints:
        **SEQCLASS_WILDCARDS,
    params:
        fractions=SEQCLASS_FRACTIONS,
    log:
        "logs/seqclass/{dataset}/header_baseline_seed{seed}.log",
    benchmark:
        "benchmarks/seqclass/{dataset}/header_baseline_seed{seed}.tsv"
    conda:
        "../../envs/train.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    script:
        "../../scripts/seqclass_header_baseline.py"


# Fig. 2: test embeddings of one run before and after pretraining and after fine-tuning at each fraction.
rule seqclass_embed:
    input:
        unpack(lambda w: seqclass_split(w.dataset, "test")),
        encoders=[
            "results/seqclass/pretrain/{encoder}/seed{seed}/encoder_epoch0.pt",
            "results/seqclass/pretrain/{encoder}/seed{seed}/encoder_final.pt",
            *rules.seqclass_finetune.output.models,
        ],
    output:
        features="results/seqclass/{dataset}/latent/{encoder}/seed{seed}/features.npy",
        points="results/seqclass/{dataset}/latent/{encoder}/seed{seed}/points.tsv",
    wildcard_constraints:
        **SEQCLASS_WILDCARDS,
    params:
        max_points=SEQCLASS["latent"]["max_points"],
        settings=seqclass_finetune_settings,
    log:
        "logs/seqclass/{dataset}/embed/{encoder}_seed{seed}.log",
    benchmark:
        "benchmarks/seqclass/{dataset}/embed/{encoder}_seed{seed}.tsv"
    conda:
        "../../envs/train.yaml"
    threads: threads_of("gpu")
    resources:
        **resources_of("gpu"),
    script:
        "../../scripts/seqclass_embed.py"


rule seqclass_latent:
    input:
        features=rules.seqclass_embed.output.features,
        points=rules.seqclass_embed.output.points,
    output:
        maps="results/seqclass/{dataset}/latent/{encoder}/seed{seed}/maps.tsv",
        silhouette="results/seqclass/{dataset}/latent/{encoder}/seed{seed}/silhouette.tsv",
    wildcard_constraints:
        **SEQCLASS_WILDCARDS,
    params:
        stages=["epoch 0", "pretrained"] + [f"fine-tuned {float(f) * 100:g}%" for f in SEQCLASS_FRACTIONS],
        perplexity=SEQCLASS["latent"]["perplexity"],
        n_neighbors=SEQCLASS["latent"]["n_neighbors"],
    log:
        "logs/seqclass/{dataset}/latent/{encoder}_seed{seed}.log",
    benchmark:
        "benchmarks/seqclass/{dataset}/latent/{encoder}_seed{seed}.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    script:
        "../../scripts/seqclass_latent.py"


# Fig. 3, external transfer. Per site, three scenarios at each label fraction, all tested on the
# site's test slices: (1) supervised only: random weights fine-tuned on the site's dataset
# (seqclass_evaluate, dataset=site, encoder=scratch); (2) pretrained and fine-tuned on the internal
# cohort, tested on the site as it is (seqclass_transfer_evaluate); (3) pretrained on the internal
# cohort, fine-tuned on the site's dataset (seqclass_evaluate, dataset=site, encoder=focus run).
rule seqclass_transfer_dataset:
    input:
        internal_array=f"{SEQCLASS_SLICES['internal']}/{{split}}.npy",
        internal_index=f"{SEQCLASS_SLICES['internal']}/{{split}}.tsv",
        site_array="results/cohorts/{site}/slices/{split}.npy",
        site_index="results/cohorts/{site}/slices/{split}.tsv",
    output:
        array="results/seqclass/{site}/slices/{split}.npy",
        index="results/seqclass/{site}/slices/{split}.tsv",
    wildcard_constraints:
        site=EXTERNAL_SITE_PATTERN,
        split="|".join(SPLITS),
    params:
        site_classes=lambda w: EXTERNAL_SITES[w.site]["classes"],
    log:
        "logs/seqclass/{site}/transfer_dataset_{split}.log",
    benchmark:
        "benchmarks/seqclass/{site}/transfer_dataset_{split}.tsv"
    conda:
        "../../envs/train.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    script:
        "../../scripts/seqclass_transfer_dataset.py"


rule seqclass_transfer_evaluate:
    input:
        unpack(lambda w: seqclass_split(w.site, "test")),
        models=expand("results/seqclass/internal/finetune/{{encoder}}/seed{{seed}}/fraction{fraction}.pt",
                      fraction=SEQCLASS_FRACTIONS),
    output:
        accuracy="results/seqclass/{site}/transfer/{encoder}/seed{seed}/accuracy.tsv",
        per_class="results/seqclass/{site}/transfer/{encoder}/seed{seed}/per_class.tsv",
        confusion="results/seqclass/{site}/transfer/{encoder}/seed{seed}/confusion.tsv",
    wildcard_constraints:
        **SEQCLASS_WILDCARDS,
        site=EXTERNAL_SITE_PATTERN,
    params:
        fractions=SEQCLASS_FRACTIONS,
        settings=seqclass_finetune_settings,
    log:
        "logs/seqclass/{site}/transfer/{encoder}_seed{seed}.log",
    benchmark:
        "benchmarks/seqclass/{site}/transfer/{encoder}_seed{seed}.tsv"
    conda:
        "../../envs/train.yaml"
    threads: threads_of("gpu")
    resources:
        **resources_of("gpu"),
    script:
        "../../scripts/seqclass_evaluate.py"


# ---- Render rules: one small job per table or figure, reading the results above. ----


rule seqclass_accuracy_table:
    input:
        accuracy=lambda w: [path for _, encoder in seqclass_table(w.table)["columns"]
                            for path in seqclass_accuracy("internal", encoder)],
    output:
        csv=report(
            "results/tables/seqclass_{table}.csv",
            caption="../report/seqclass_tables.rst",
            category="seqclass (paper 000)",
            subcategory="Results",
        ),
        md="results/tables/seqclass_{table}.md",
        tex="results/tables/seqclass_{table}.tex",
    wildcard_constraints:
        table="table[123]",
    params:
        columns=lambda w: [label for label, _ in seqclass_table(w.table)["columns"] for _ in SEQCLASS_SEEDS],
        fractions=SEQCLASS_FRACTIONS,
        corner=lambda w: seqclass_table(w.table)["corner"],
        caption=lambda w: seqclass_table(w.table)["caption"],
    log:
        "logs/seqclass/report/{table}.log",
    benchmark:
        "benchmarks/seqclass/report/{table}.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    script:
        "../../scripts/seqclass_accuracy_table.py"


rule seqclass_baselines:
    input:
        scratch=seqclass_accuracy("internal", SEQCLASS_SCRATCH),
        header=expand("results/seqclass/internal/header_baseline/seed{seed}/accuracy.tsv", seed=SEQCLASS_SEEDS),
    output:
        csv=report(
            "results/tables/seqclass_baselines.csv",
            caption="../report/seqclass_baselines.rst",
            category="seqclass (paper 000)",
            subcategory="Results",
        ),
        md="results/tables/seqclass_baselines.md",
        tex="results/tables/seqclass_baselines.tex",
    params:
        fractions=SEQCLASS_FRACTIONS,
        caption=f"Baselines: test accuracy per label fraction of the ResNet-18 trained from random weights "
                f"({SEQCLASS_SCRATCH}) and of a random forest on DICOM header fields (per slice and per series); "
                f"mean over {len(SEQCLASS_SEEDS)} seed(s).",
    log:
        "logs/seqclass/report/baselines.log",
    benchmark:
        "benchmarks/seqclass/report/baselines.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    script:
        "../../scripts/seqclass_baselines.py"


rule seqclass_fig2:
    input:
        maps=f"results/seqclass/internal/latent/{SEQCLASS_FOCUS}/seed{SEQCLASS_SEEDS[0]}/maps.tsv",
        silhouette=f"results/seqclass/internal/latent/{SEQCLASS_FOCUS}/seed{SEQCLASS_SEEDS[0]}/silhouette.tsv",
    output:
        png=report(
            "results/figures/seqclass_fig2.png",
            caption="../report/seqclass_fig2.rst",
            category="seqclass (paper 000)",
            subcategory="Results",
        ),
    params:
        title=f"{SEQCLASS_FOCUS}, seed {SEQCLASS_SEEDS[0]}: test embeddings",
    log:
        "logs/seqclass/report/fig2.log",
    benchmark:
        "benchmarks/seqclass/report/fig2.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    script:
        "../../scripts/seqclass_fig2.py"


rule seqclass_confusion:
    input:
        pretrained=expand(f"results/seqclass/internal/evaluate/{SEQCLASS_FOCUS}/seed{{seed}}/confusion.tsv",
                          seed=SEQCLASS_SEEDS),
        scratch=expand(f"results/seqclass/internal/evaluate/{SEQCLASS_SCRATCH}/seed{{seed}}/confusion.tsv",
                       seed=SEQCLASS_SEEDS),
    output:
        png=report(
            "results/figures/seqclass_confusion.png",
            caption="../report/seqclass_confusion.rst",
            category="seqclass (paper 000)",
            subcategory="Results",
        ),
    params:
        fractions=SEQCLASS_FRACTIONS,
        rows=[SEQCLASS_FOCUS, SEQCLASS_SCRATCH],
    log:
        "logs/seqclass/report/confusion.log",
    benchmark:
        "benchmarks/seqclass/report/confusion.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    script:
        "../../scripts/seqclass_confusion.py"


rule seqclass_loss_curves:
    input:
        metrics=expand("results/seqclass/pretrain/{run}/seed{seed}/metrics.csv", run=seqclass_runs(),
                       seed=SEQCLASS_SEEDS),
    output:
        png=report(
            "results/figures/seqclass_loss_curves.png",
            caption="../report/seqclass_loss_curves.rst",
            category="seqclass (paper 000)",
            subcategory="Results",
        ),
    params:
        runs=[run for run in seqclass_runs() for _ in SEQCLASS_SEEDS],  # one per input, in input order
    log:
        "logs/seqclass/report/loss_curves.log",
    benchmark:
        "benchmarks/seqclass/report/loss_curves.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    script:
        "../../scripts/seqclass_loss_curves.py"


rule seqclass_transfer_table:
    input:
        accuracy=[path for site in EXTERNAL_SITES for _, paths in seqclass_transfer_scenarios(site) for path in paths],
    output:
        csv=report(
            "results/tables/seqclass_transfer.csv",
            caption="../report/seqclass_transfer.rst",
            category="seqclass (paper 000)",
            subcategory="Results",
        ),
        md="results/tables/seqclass_transfer.md",
        tex="results/tables/seqclass_transfer.tex",
    params:
        # One (site, scenario) per input, in input order.
        sites=[site for site in EXTERNAL_SITES for _, paths in seqclass_transfer_scenarios(site) for _ in paths],
        scenarios=[scenario for site in EXTERNAL_SITES for scenario, paths in seqclass_transfer_scenarios(site)
                   for _ in paths],
        fractions=SEQCLASS_FRACTIONS,
        caption=f"External transfer (Fig. 3): test accuracy on each external site's own sequences per label fraction, "
                f"in three scenarios: (1) supervised only, from random weights, fine-tuned on the site; "
                f"(2) {SEQCLASS_FOCUS} pretrained and fine-tuned on the internal cohort; (3) {SEQCLASS_FOCUS} "
                f"pretrained on the internal cohort, fine-tuned on the site; mean over {len(SEQCLASS_SEEDS)} seed(s).",
    log:
        "logs/seqclass/report/transfer.log",
    benchmark:
        "benchmarks/seqclass/report/transfer.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    script:
        "../../scripts/seqclass_transfer_table.py"


rule seqclass_fig3:
    input:
        table=rules.seqclass_transfer_table.output.csv,
    output:
        png=report(
            "results/figures/seqclass_fig3.png",
            caption="../report/seqclass_fig3.rst",
            category="seqclass (paper 000)",
            subcategory="Results",
        ),
    params:
        classes={site: EXTERNAL_SITES[site]["classes"] for site in EXTERNAL_SITES},
    log:
        "logs/seqclass/report/fig3.log",
    benchmark:
        "benchmarks/seqclass/report/fig3.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    script:
        "../../scripts/seqclass_fig3.py"
