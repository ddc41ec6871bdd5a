# Readers for real datasets in their published layouts (BraTS 2021/2023, SPIDER, IXI, BIDS, a plain
# TSV): they write the same manifest as the DICOM ingest, so nothing downstream knows the source.


rule read_dataset:
    input:
        root=config["data"]["root"],
    output:
        manifest="results/ingest/manifest.tsv",
        quarantine="results/ingest/quarantine.tsv",
        nifti=directory("results/ingest/nifti/dataset"),
        quarantine_paths="private/ingest/quarantine_paths.tsv",  # source paths stay out of results/
    log:
        "logs/ingest/read_dataset.log",
    benchmark:
        "benchmarks/ingest/read_dataset.tsv"
    conda:
        "../../envs/curate.yaml"
    threads: threads_of("curate", serial=True)
    resources:
        **resources_of("curate", serial=True),
    params:
        source=config["data"]["source"],
        salt=config["ingest"]["salt"],
    script:
        "../../scripts/read_dataset.py"


rule spider_gradings:
    input:
        root=config["data"]["root"],
    output:
        gradings="results/ingest/spider_gradings.tsv",
        quarantine="results/ingest/spider_gradings_quarantine.tsv",
    log:
        "logs/ingest/spider_gradings.log",
    benchmark:
        "benchmarks/ingest/spider_gradings.tsv"
    conda:
        "../../envs/curate.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    params:
        salt=config["ingest"]["salt"],
    script:
        "../../scripts/spider_gradings.py"
