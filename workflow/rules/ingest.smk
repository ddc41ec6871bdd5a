# Ingest: every file under the DICOM root -> one de-identified NIfTI and manifest row per series.
# Indexing reads headers only; conversion fans out over shards of patients (ingest.shards), so a
# cluster runs them side by side; the merge checks that every file is accounted for once.
# The file index holds source paths (folders may name patients): it stays in private/, outside
# results/, and results/ names files by their salted file_key (mrissl.ingest).


rule index_dicom:
    input:
        root=dicom_root(),
    output:
        index=PRIVATE_FILE_INDEX,
    log:
        "logs/ingest/index_dicom.log",
    benchmark:
        "benchmarks/ingest/index_dicom.tsv"
    priority: LONGEST_CHAIN
    conda:
        "../../envs/curate.yaml"
    threads: threads_of("curate", serial=True)
    resources:
        **resources_of("curate", serial=True),
    params:
        salt=config["ingest"]["salt"],
        shards=config["ingest"]["shards"],
    script:
        "../../scripts/index_dicom.py"


rule ingest_shard:
    input:
        index=PRIVATE_FILE_INDEX,
        labels=series_labels(),
    output:
        manifest="results/ingest/shards/{shard}/manifest.tsv",
        quarantine="results/ingest/shards/{shard}/quarantine.tsv",
        nifti=directory("results/ingest/nifti/{shard}"),
    log:
        "logs/ingest/ingest_shard_{shard}.log",
    benchmark:
        "benchmarks/ingest/ingest_shard_{shard}.tsv"
    wildcard_constraints:
        shard=r"\d{3}",
    priority: LONGEST_CHAIN
    conda:
        "../../envs/curate.yaml"
    threads: threads_of("curate")
    resources:
        **resources_of("curate"),
    params:
        salt=config["ingest"]["salt"],
        min_slices=config["ingest"]["min_slices"],
        source=config["data"]["source"],
        root=dicom_root(),
    script:
        "../../scripts/ingest_shard.py"


rule merge_manifest:
    input:
        index=PRIVATE_FILE_INDEX,
        manifests=expand(
            "results/ingest/shards/{shard}/manifest.tsv", shard=ingest_shards()
        ),
        quarantines=expand(
            "results/ingest/shards/{shard}/quarantine.tsv", shard=ingest_shards()
        ),
    output:
        manifest="results/ingest/manifest.tsv",
        quarantine="results/ingest/quarantine.tsv",
    log:
        "logs/ingest/merge_manifest.log",
    benchmark:
        "benchmarks/ingest/merge_manifest.tsv"
    priority: LONGEST_CHAIN
    conda:
        "../../envs/curate.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    params:
        root=dicom_root(),
    script:
        "../../scripts/merge_manifest.py"
