# seqclass (seed 000): SimCLR / SimSiam pretraining of a ResNet-18 on 2D slices, fine-tuning on
# nested label fractions, a DICOM-header baseline, and latent maps.
#
# Wildcards
#   {run}      a pretraining run, "{method}_b{batch size}_px{image size}" (the grid of config
#              seqclass.batch_sweep and seqclass.resolution_sweep);
#   {encoder}  what fine-tuning starts from: a {run}, or "scratch_px{image size}" (random weights,
#              the supervised baseline);
#   {seed}     a replicate (config seqclass.seeds): pretraining, label subsets and fine-tuning;
#   {dataset}  the labelled slices fine-tuned and tested on. "internal" is the curated cohort; the
#              external transfer sets of Fig. 3 join by adding a name and its slices to SEQCLASS_SLICES.
# Pretraining reads only the internal training images (no labels). Fine-tuning sees the training
# subset and the validation split; only seqclass_evaluate reads the test split.
# Checkpoints live under results/checkpoints/ (params, not outputs: Snakemake deletes the outputs of a
# job before it runs, so a killed and re-submitted job resumes from them).

import re

SEQCLASS = config["seqclass"]
SEQCLASS_SLICES = {"internal": "results/curate/slices"}
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


def seqclass_run(method, batch_size, image_size):
    return f"{method}_b{batch_size}_px{image_size}"


def seqclass_runs():
    """Every pretraining run: Tables 1-2 (both methods x batch sizes) and Table 3 (batch x image size)."""
    batch, resolution = SEQCLASS["batch_sweep"], SEQCLASS["resolution_sweep"]
    runs = {(m, b, batch["image_size"]) for m in ("simclr", "simsiam") for b in batch["batch_sizes"]}
    runs |= {(resolution["method"], b, s) for b in resolution["batch_sizes"] for s in resolution["image_sizes"]}
    return [seqclass_run(*run) for run in sorted(runs)]


SEQCLASS_SCRATCH = f"scratch_px{SEQCLASS['batch_sweep']['image_size']}"
SEQCLASS_FOCUS = seqclass_run(**SEQCLASS["latent"]["run"])  # the run of Fig. 2 and the confusion figure


def seqclass_table(table):
    """Table 1 (SimSiam), 2 (SimCLR) or 3 (resolution): corner label, caption, (column label, encoder) pairs."""
    seeds = f"mean over {len(SEQCLASS_SEEDS)} seed(s)"
    if table == "table3":
        sweep = SEQCLASS["resolution_sweep"]
        name = SEQCLASS_METHODS[sweep["method"]]
        columns = [(f"{b}_{s}", seqclass_run(sweep["method"], b, s))
                   for b in sweep["batch_sizes"] for s in sweep["image_sizes"]]
        what = "pretraining batch size_image size"
    else:
        method = {"table1": "simsiam", "table2": "simclr"}[table]
        name, sweep = SEQCLASS_METHODS[method], SEQCLASS["batch_sweep"]
        columns = [(str(b), seqclass_run(method, b, sweep["image_size"])) for b in sweep["batch_sizes"]]
        what = f"pretraining batch size at {sweep['image_size']} px"
    caption = f"{name}: test accuracy of the fine-tuned classifier per label fraction (rows) and {what} (columns); {seeds}."
    return {"corner": name, "caption": caption, "columns": columns}


def seqclass_image_size(encoder):
    return int(encoder.rsplit("_px", 1)[1])


def seqclass_pretrain_settings(wildcards):
    method, batch_size, image_size = re.fullmatch(r"(\w+)_b(\d+)_px(\d+)", wildcards.run).groups()
    return {**SEQCLASS["pretrain"], "method": method, "batch_size": int(batch_size),
            "image_size": int(image_size), "augment": SEQCLASS["augment"],
            "widen_factor": SEQCLASS["widen_factor"], "device": SEQCLASS["device"], "seed": int(wildcards.seed)}


def seqclass_split(dataset, *splits):
    """Named inputs {split}_array / {split}_index of a dataset's slice arrays (use with unpack)."""
    folder = SEQCLASS_SLICES[dataset]
    return {f"{s}_{kind}": f"{folder}/{s}.{ext}" for s in splits for kind, ext in [("array", "npy"), ("index", "tsv")]}


def seqclass_pretrained(wildcards):
    """The pretrained encoder a fine-tuning starts from; none for scratch."""
    if wildcards.encoder.startswith("scratch"):
        return []
    return [f"results/seqclass/pretrain/{wildcards.encoder}/seed{wildcards.seed}/encoder_final.pt"]


def seqclass_finetune_settings(wildcards):
    settings = {key: value for key, value in SEQCLASS["finetune"].items() if key != "fractions"}
    return {**settings, "augment": SEQCLASS["augment"],
            "widen_factor": SEQCLASS["widen_factor"], "device": SEQCLASS["device"],
            "image_size": seqclass_image_size(wildcards.encoder), "seed": int(wildcards.seed)}


def seqclass_accuracy(dataset, encoder):
    return expand(f"results/seqclass/{dataset}/evaluate/{encoder}/seed{{seed}}/accuracy.tsv", seed=SEQCLASS_SEEDS)


def seqclass_check_image_sizes():
    """Slices are resized down on the device; a size above the curated one would only upsample."""
    sizes = [seqclass_image_size(run) for run in [*seqclass_runs(), SEQCLASS_FOCUS]]
    if max(sizes) > config["curate"]["image_size"]:
        raise ValueError(
            f"config: seqclass trains at {max(sizes)} px but curate.image_size is {config['curate']['image_size']}; "
            f"set curate.image_size to the largest seqclass image size ({max(sizes)})"
        )


seqclass_check_image_sizes()


def seqclass_products():
    """The seqclass tables and figures (rule all; each gets a lineage record)."""
    tables = ["table1", "table2", "table3", "baselines"]
    figures = ["fig2", "confusion", "loss_curves"]
    return [f"results/tables/seqclass_{t}.csv" for t in tables] + [f"results/figures/seqclass_{f}.png" for f in figures]


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


# ---- Render rules: one small job per table or figure, reading the results above. ----


rule seqclass_accuracy_table:
    input:
        accuracy=lambda w: [path for _, encoder in seqclass_table(w.table)["columns"]
                            for path in seqclass_accuracy("internal", encoder)],
    output:
        csv="results/tables/seqclass_{table}.csv",
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
        csv="results/tables/seqclass_baselines.csv",
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
        png="results/figures/seqclass_fig2.png",
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
        png="results/figures/seqclass_confusion.png",
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
        png="results/figures/seqclass_loss_curves.png",
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
