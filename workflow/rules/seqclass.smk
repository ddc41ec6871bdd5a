# seqclass (paper 000): patient-level splits and central slices of the brain cohort (and of each
# external site), SimCLR / SimSiam pretraining of a ResNet-18 on 2D slices, fine-tuning on nested
# label fractions, a DICOM-header baseline, latent maps, external transfer, and their tables and
# figures. Constants, wildcards and input functions: seqclass_common.smk.
#
# Pretraining reads only the internal training images (no labels). Fine-tuning sees the training
# subset and the validation split. The test split is read by the evaluation rules only:
# seqclass_evaluate, seqclass_transfer_evaluate, seqclass_header_baseline (it fits on the training
# subset, predicts the test slices) and seqclass_embed (the test embeddings of Fig. 2).
# Checkpoints live under results/checkpoints/ (params, not outputs: Snakemake deletes the outputs of a
# job before it runs, so a killed and re-submitted job resumes from them).


seqclass_check_image_sizes()
seqclass_check_recipes()
seqclass_check_batch_sizes()
PRODUCTS.extend(seqclass_products())


rule seqclass_split:
    input:
        manifest=seqclass_manifest,
    output:
        splits="results/seqclass/curate/{cohort}/splits.tsv",
    log:
        "logs/seqclass/curate/split_{cohort}.log",
    benchmark:
        "benchmarks/seqclass/curate/split_{cohort}.tsv"
    wildcard_constraints:
        **SEQCLASS_WILDCARDS,
    priority: LONGEST_CHAIN
    conda:
        "../../envs/curate.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    params:
        fractions=SEQCLASS_CURATE["split_fractions"],
        seed=config["seed"],
    script:
        "../../scripts/seqclass_split.py"


# One job per split: the three run side by side (on a cluster, on separate nodes), training rules
# depend only on the split they read, and a failed split re-runs alone.
rule seqclass_slices:
    input:
        manifest=seqclass_manifest,
        splits="results/seqclass/curate/{cohort}/splits.tsv",
    output:
        array="results/seqclass/curate/{cohort}/slices/{split}.npy",
        index="results/seqclass/curate/{cohort}/slices/{split}.tsv",
    log:
        "logs/seqclass/curate/slices_{cohort}_{split}.log",
    benchmark:
        "benchmarks/seqclass/curate/slices_{cohort}_{split}.tsv"
    wildcard_constraints:
        **SEQCLASS_WILDCARDS,
        split="|".join(SPLITS),
    priority: LONGEST_CHAIN
    conda:
        "../../envs/curate.yaml"
    threads: threads_of("curate")
    resources:
        **resources_of("curate"),
    params:
        slicing=SEQCLASS_SLICING,
    script:
        "../../scripts/seqclass_slices.py"


rule seqclass_label_subsets:
    input:
        unpack(lambda w: seqclass_split(w.dataset, "train")),
    output:
        subsets="results/seqclass/{dataset}/label_subsets/seed{seed}.tsv",
    log:
        "logs/seqclass/{dataset}/label_subsets_seed{seed}.log",
    benchmark:
        "benchmarks/seqclass/{dataset}/label_subsets_seed{seed}.tsv"
    wildcard_constraints:
        **SEQCLASS_WILDCARDS,
    priority: LONGEST_CHAIN
    conda:
        "../../envs/train.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    params:
        fractions=SEQCLASS["finetune"]["fractions"],
        by_class=seqclass_fractions_by_class,
        unit=SEQCLASS["finetune"]["label_unit"],
    script:
        "../../scripts/seqclass_label_subsets.py"


rule seqclass_pretrain:
    input:
        # Images, and each image's series for positives: series (the index's labels are not used).
        array=f"{SEQCLASS_SLICES['internal']}/train.npy",
        index=f"{SEQCLASS_SLICES['internal']}/train.tsv",
    output:
        encoder_epoch0="results/seqclass/pretrain/{method}_b{batch}_px{px}/seed{seed}/encoder_epoch0.pt",
        encoder_final="results/seqclass/pretrain/{method}_b{batch}_px{px}/seed{seed}/encoder_final.pt",
        metrics="results/seqclass/pretrain/{method}_b{batch}_px{px}/seed{seed}/metrics.csv",
    log:
        "logs/seqclass/pretrain/{method}_b{batch}_px{px}_seed{seed}.log",
    benchmark:
        "benchmarks/seqclass/pretrain/{method}_b{batch}_px{px}_seed{seed}.tsv"
    wildcard_constraints:
        **SEQCLASS_WILDCARDS,
    priority: LONGEST_CHAIN
    conda:
        "../../envs/train.yaml"
    threads: threads_of("gpu")
    resources:
        **resources_of("gpu", multi_gpu=True),
    params:
        settings=seqclass_pretrain_settings,
        processes=training_processes(),
        checkpoint_dir=f"{SEQCLASS_CHECKPOINTS}/pretrain/{{method}}_b{{batch}}_px{{px}}/seed{{seed}}",
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
        models=expand(
            "results/seqclass/{{dataset}}/finetune/{{init}}_px{{px}}/seed{{seed}}/fraction{fraction}.pt",
            fraction=SEQCLASS_FRACTIONS,
        ),
        history="results/seqclass/{dataset}/finetune/{init}_px{px}/seed{seed}/history.tsv",
    log:
        "logs/seqclass/{dataset}/finetune/{init}_px{px}_seed{seed}.log",
    benchmark:
        "benchmarks/seqclass/{dataset}/finetune/{init}_px{px}_seed{seed}.tsv"
    wildcard_constraints:
        **SEQCLASS_WILDCARDS,
    priority: LONGEST_CHAIN
    conda:
        "../../envs/train.yaml"
    threads: threads_of("gpu")
    resources:
        **resources_of("gpu"),
    params:
        fractions=SEQCLASS_FRACTIONS,
        settings=seqclass_finetune_settings,
        val_labels=SEQCLASS["finetune"]["val_labels"],
        by_class=seqclass_fractions_by_class,
        unit=SEQCLASS["finetune"]["label_unit"],
        checkpoint_dir=f"{SEQCLASS_CHECKPOINTS}/finetune/{{dataset}}/{{init}}_px{{px}}/seed{{seed}}",
    script:
        "../../scripts/seqclass_finetune.py"


rule seqclass_evaluate:
    input:
        unpack(lambda w: seqclass_split(w.dataset, "test")),
        models=rules.seqclass_finetune.output.models,
    output:
        accuracy="results/seqclass/{dataset}/evaluate/{init}_px{px}/seed{seed}/accuracy.tsv",
        per_class="results/seqclass/{dataset}/evaluate/{init}_px{px}/seed{seed}/per_class.tsv",
        confusion="results/seqclass/{dataset}/evaluate/{init}_px{px}/seed{seed}/confusion.tsv",
    log:
        "logs/seqclass/{dataset}/evaluate/{init}_px{px}_seed{seed}.log",
    benchmark:
        "benchmarks/seqclass/{dataset}/evaluate/{init}_px{px}_seed{seed}.tsv"
    wildcard_constraints:
        **SEQCLASS_WILDCARDS,
    priority: LONGEST_CHAIN
    conda:
        "../../envs/train.yaml"
    threads: threads_of("gpu")
    resources:
        **resources_of("gpu"),
    params:
        fractions=SEQCLASS_FRACTIONS,
        settings=seqclass_finetune_settings,
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
    log:
        "logs/seqclass/{dataset}/header_baseline_seed{seed}.log",
    benchmark:
        "benchmarks/seqclass/{dataset}/header_baseline_seed{seed}.tsv"
    wildcard_constraints:
        **SEQCLASS_WILDCARDS,
    conda:
        "../../envs/train.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    params:
        fractions=SEQCLASS_FRACTIONS,
    script:
        "../../scripts/seqclass_header_baseline.py"


# Fig. 2: test embeddings of one run before and after pretraining and after fine-tuning at each fraction.
rule seqclass_embed:
    input:
        unpack(lambda w: seqclass_split(w.dataset, "test")),
        encoders=[
            "results/seqclass/pretrain/{init}_px{px}/seed{seed}/encoder_epoch0.pt",
            "results/seqclass/pretrain/{init}_px{px}/seed{seed}/encoder_final.pt",
            *rules.seqclass_finetune.output.models,
        ],
    output:
        features="results/seqclass/{dataset}/latent/{init}_px{px}/seed{seed}/features.npy",
        points="results/seqclass/{dataset}/latent/{init}_px{px}/seed{seed}/points.tsv",
    log:
        "logs/seqclass/{dataset}/embed/{init}_px{px}_seed{seed}.log",
    benchmark:
        "benchmarks/seqclass/{dataset}/embed/{init}_px{px}_seed{seed}.tsv"
    wildcard_constraints:
        **SEQCLASS_WILDCARDS,
    priority: LONGEST_CHAIN
    conda:
        "../../envs/train.yaml"
    threads: threads_of("gpu")
    resources:
        **resources_of("gpu"),
    params:
        max_points=SEQCLASS["latent"]["max_points"],
        settings=seqclass_finetune_settings,
    script:
        "../../scripts/seqclass_embed.py"


rule seqclass_latent:
    input:
        features=rules.seqclass_embed.output.features,
        points=rules.seqclass_embed.output.points,
    output:
        maps="results/seqclass/{dataset}/latent/{init}_px{px}/seed{seed}/maps.tsv",
        silhouette="results/seqclass/{dataset}/latent/{init}_px{px}/seed{seed}/silhouette.tsv",
    log:
        "logs/seqclass/{dataset}/latent/{init}_px{px}_seed{seed}.log",
    benchmark:
        "benchmarks/seqclass/{dataset}/latent/{init}_px{px}_seed{seed}.tsv"
    wildcard_constraints:
        **SEQCLASS_WILDCARDS,
    priority: LONGEST_CHAIN
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    params:
        stages=["epoch 0", "pretrained"]
        + [f"fine-tuned {float(f) * 100:g}%" for f in SEQCLASS_FRACTIONS],
        perplexity=SEQCLASS["latent"]["perplexity"],
        n_neighbors=SEQCLASS["latent"]["n_neighbors"],
    script:
        "../../scripts/seqclass_latent.py"


# Fig. 3, external transfer. Per site, three scenarios at each label fraction, all tested on the
# site's test slices: (1) supervised only: random weights fine-tuned on the site's dataset
# (seqclass_evaluate, dataset=site, init=scratch); (2) pretrained and fine-tuned on the internal
# cohort, tested on the site as it is (seqclass_transfer_evaluate); (3) pretrained on the internal
# cohort, fine-tuned on the site's dataset (seqclass_evaluate, dataset=site, init=focus run).
rule seqclass_transfer_dataset:
    input:
        internal_array=f"{SEQCLASS_SLICES['internal']}/{{split}}.npy",
        internal_index=f"{SEQCLASS_SLICES['internal']}/{{split}}.tsv",
        site_array="results/seqclass/curate/{site}/slices/{split}.npy",
        site_index="results/seqclass/curate/{site}/slices/{split}.tsv",
    output:
        array="results/seqclass/{site}/slices/{split}.npy",
        index="results/seqclass/{site}/slices/{split}.tsv",
    log:
        "logs/seqclass/{site}/transfer_dataset_{split}.log",
    benchmark:
        "benchmarks/seqclass/{site}/transfer_dataset_{split}.tsv"
    wildcard_constraints:
        site=EXTERNAL_SITE_PATTERN,
        split="|".join(SPLITS),
    conda:
        "../../envs/train.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    params:
        site_classes=lambda w: EXTERNAL_SITES[w.site]["classes"],
    script:
        "../../scripts/seqclass_transfer_dataset.py"


use rule seqclass_evaluate as seqclass_transfer_evaluate with:
    input:
        unpack(lambda w: seqclass_split(w.site, "test")),
        models=expand(
            "results/seqclass/internal/finetune/{{init}}_px{{px}}/seed{{seed}}/fraction{fraction}.pt",
            fraction=SEQCLASS_FRACTIONS,
        ),
    output:
        accuracy="results/seqclass/{site}/transfer/{init}_px{px}/seed{seed}/accuracy.tsv",
        per_class="results/seqclass/{site}/transfer/{init}_px{px}/seed{seed}/per_class.tsv",
        confusion="results/seqclass/{site}/transfer/{init}_px{px}/seed{seed}/confusion.tsv",
    log:
        "logs/seqclass/{site}/transfer/{init}_px{px}_seed{seed}.log",
    benchmark:
        "benchmarks/seqclass/{site}/transfer/{init}_px{px}_seed{seed}.tsv"
    wildcard_constraints:
        **SEQCLASS_WILDCARDS,
        site=EXTERNAL_SITE_PATTERN,


# ---- Render rules: one small job per table or figure, reading the results above. ----


rule seqclass_curation_summary:
    input:
        indexes=expand(f"{SEQCLASS_SLICES['internal']}/{{split}}.tsv", split=SPLITS),
    output:
        csv=report(
            "results/tables/seqclass_curation_summary.csv",
            caption="../report/seqclass_curation_summary.rst",
            category="seqclass (paper 000)",
            subcategory="Curated cohort",
        ),
        md="results/tables/seqclass_curation_summary.md",
        tex="results/tables/seqclass_curation_summary.tex",
    log:
        "logs/seqclass/report/curation_summary.log",
    benchmark:
        "benchmarks/seqclass/report/curation_summary.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    params:
        splits=SPLITS,
        caption="Curated cohort: labelled series and extracted 2D slices per sequence class and split.",
    script:
        "../../scripts/seqclass_curation_summary.py"


rule seqclass_curation_montage:
    input:
        # The training split: the largest, so the likeliest to hold every class.
        array=f"{SEQCLASS_SLICES['internal']}/train.npy",
        index=f"{SEQCLASS_SLICES['internal']}/train.tsv",
    output:
        png=report(
            "results/figures/seqclass_curation_montage.png",
            caption="../report/seqclass_curation_montage.rst",
            category="seqclass (paper 000)",
            subcategory="Curated cohort",
        ),
    log:
        "logs/seqclass/report/curation_montage.log",
    benchmark:
        "benchmarks/seqclass/report/curation_montage.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    params:
        planes=SEQCLASS_CURATE["planes"],
    script:
        "../../scripts/seqclass_curation_montage.py"


rule seqclass_accuracy_table:
    input:
        accuracy=lambda w: [
            path
            for _, encoder in seqclass_table(w.table)["columns"]
            for path in seqclass_accuracy("internal", encoder)
        ],
    output:
        csv=report(
            "results/tables/seqclass_{table}.csv",
            caption="../report/seqclass_tables.rst",
            category="seqclass (paper 000)",
            subcategory="Results",
        ),
        md="results/tables/seqclass_{table}.md",
        tex="results/tables/seqclass_{table}.tex",
    log:
        "logs/seqclass/report/{table}.log",
    benchmark:
        "benchmarks/seqclass/report/{table}.tsv"
    wildcard_constraints:
        table="table[123]",
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    params:
        columns=lambda w: [
            label
            for label, _ in seqclass_table(w.table)["columns"]
            for _ in SEQCLASS_SEEDS
        ],
        fractions=SEQCLASS_FRACTIONS,
        corner=lambda w: seqclass_table(w.table)["corner"],
        caption=lambda w: seqclass_table(w.table)["caption"],
    script:
        "../../scripts/seqclass_accuracy_table.py"


rule seqclass_baselines:
    input:
        scratch=seqclass_accuracy("internal", SEQCLASS_SCRATCH),
        header=expand(
            "results/seqclass/internal/header_baseline/seed{seed}/accuracy.tsv",
            seed=SEQCLASS_SEEDS,
        ),
    output:
        csv=report(
            "results/tables/seqclass_baselines.csv",
            caption="../report/seqclass_baselines.rst",
            category="seqclass (paper 000)",
            subcategory="Results",
        ),
        md="results/tables/seqclass_baselines.md",
        tex="results/tables/seqclass_baselines.tex",
    log:
        "logs/seqclass/report/baselines.log",
    benchmark:
        "benchmarks/seqclass/report/baselines.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    params:
        fractions=SEQCLASS_FRACTIONS,
        caption=f"Baselines: test accuracy per label fraction of the ResNet-18 trained from random weights "
        f"({SEQCLASS_SCRATCH}) and of a random forest on DICOM header fields (per slice and per series); "
        f"mean over {len(SEQCLASS_SEEDS)} seed(s); {SEQCLASS_SELECTION}.",
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
    log:
        "logs/seqclass/report/fig2.log",
    benchmark:
        "benchmarks/seqclass/report/fig2.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    params:
        title=f"{SEQCLASS_FOCUS}, seed {SEQCLASS_SEEDS[0]}: test embeddings",
    script:
        "../../scripts/seqclass_fig2.py"


rule seqclass_confusion:
    input:
        pretrained=expand(
            f"results/seqclass/internal/evaluate/{SEQCLASS_FOCUS}/seed{{seed}}/confusion.tsv",
            seed=SEQCLASS_SEEDS,
        ),
        scratch=expand(
            f"results/seqclass/internal/evaluate/{SEQCLASS_SCRATCH}/seed{{seed}}/confusion.tsv",
            seed=SEQCLASS_SEEDS,
        ),
    output:
        png=report(
            "results/figures/seqclass_confusion.png",
            caption="../report/seqclass_confusion.rst",
            category="seqclass (paper 000)",
            subcategory="Results",
        ),
    log:
        "logs/seqclass/report/confusion.log",
    benchmark:
        "benchmarks/seqclass/report/confusion.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    params:
        fractions=SEQCLASS_FRACTIONS,
        rows=[SEQCLASS_FOCUS, SEQCLASS_SCRATCH],
    script:
        "../../scripts/seqclass_confusion.py"


rule seqclass_loss_curves:
    input:
        metrics=expand(
            "results/seqclass/pretrain/{run}/seed{seed}/metrics.csv",
            run=seqclass_runs(),
            seed=SEQCLASS_SEEDS,
        ),
    output:
        png=report(
            "results/figures/seqclass_loss_curves.png",
            caption="../report/seqclass_loss_curves.rst",
            category="seqclass (paper 000)",
            subcategory="Results",
        ),
    log:
        "logs/seqclass/report/loss_curves.log",
    benchmark:
        "benchmarks/seqclass/report/loss_curves.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    params:
        runs=[run for run in seqclass_runs() for _ in SEQCLASS_SEEDS],  # one per input, in input order
    script:
        "../../scripts/seqclass_loss_curves.py"


rule seqclass_transfer_table:
    input:
        accuracy=[
            path
            for site in EXTERNAL_SITES
            for _, paths in seqclass_transfer_scenarios(site)
            for path in paths
        ],
        # The labelled subsets fine-tuned on a site: how many of its own images each fraction holds.
        subsets=[
            f"results/seqclass/{site}/label_subsets/seed{seed}.tsv"
            for site in EXTERNAL_SITES
            for seed in SEQCLASS_SEEDS
        ],
    output:
        csv=report(
            "results/tables/seqclass_transfer.csv",
            caption="../report/seqclass_transfer.rst",
            category="seqclass (paper 000)",
            subcategory="Results",
        ),
        md="results/tables/seqclass_transfer.md",
        tex="results/tables/seqclass_transfer.tex",
    log:
        "logs/seqclass/report/transfer.log",
    benchmark:
        "benchmarks/seqclass/report/transfer.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    params:
        # One (site, scenario) per input, in input order.
        sites=[
            site
            for site in EXTERNAL_SITES
            for _, paths in seqclass_transfer_scenarios(site)
            for _ in paths
        ],
        scenarios=[
            scenario
            for site in EXTERNAL_SITES
            for scenario, paths in seqclass_transfer_scenarios(site)
            for _ in paths
        ],
        subset_sites=[site for site in EXTERNAL_SITES for _ in SEQCLASS_SEEDS],
        classes={site: EXTERNAL_SITES[site]["classes"] for site in EXTERNAL_SITES},
        fractions=SEQCLASS_FRACTIONS,
        caption=f"External transfer (Fig. 3): test accuracy on each external site's own sequences per label fraction, "
        f"in three scenarios: (1) supervised only, from random weights, fine-tuned on the site; "
        f"(2) {SEQCLASS_FOCUS} pretrained and fine-tuned on the internal cohort; (3) {SEQCLASS_FOCUS} "
        f"pretrained on the internal cohort, fine-tuned on the site; {SEQCLASS_HEAD}; "
        f"mean over {len(SEQCLASS_SEEDS)} seed(s). "
        f"site images: the site's own labelled slices in the fraction fine-tuned on in scenarios 1 and 3 "
        f"(per seed; the rounded mean when several).",
    script:
        "../../scripts/seqclass_transfer_table.py"


rule seqclass_sites:
    input:
        array=f"{SEQCLASS_SLICES['internal']}/test.npy",
        index=f"{SEQCLASS_SLICES['internal']}/test.tsv",
        site_arrays=[
            f"results/seqclass/curate/{site}/slices/test.npy"
            for site in EXTERNAL_SITES
        ],
        site_indexes=[
            f"results/seqclass/curate/{site}/slices/test.tsv"
            for site in EXTERNAL_SITES
        ],
    output:
        png=report(
            "results/figures/seqclass_sites.png",
            caption="../report/seqclass_sites.rst",
            category="seqclass (paper 000)",
            subcategory="Results",
        ),
    log:
        "logs/seqclass/report/sites.log",
    benchmark:
        "benchmarks/seqclass/report/sites.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    params:
        sites=list(EXTERNAL_SITES),
        classes={site: EXTERNAL_SITES[site]["classes"] for site in EXTERNAL_SITES},
    script:
        "../../scripts/seqclass_sites.py"


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
    log:
        "logs/seqclass/report/fig3.log",
    benchmark:
        "benchmarks/seqclass/report/fig3.tsv"
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    params:
        classes={site: EXTERNAL_SITES[site]["classes"] for site in EXTERNAL_SITES},
    script:
        "../../scripts/seqclass_fig3.py"
