# The embedded default cohort: synthetic brain MRI studies exported like a PACS (DICOM with fake
# identities), the verified series labels, and the ground truth the ingest tests check against.


rule phantom_brain:
    output:
        dicom=directory(f"{PHANTOM_BRAIN}/dicom"),
        labels=f"{PHANTOM_BRAIN}/labels.tsv",
        truth=f"{PHANTOM_BRAIN}/truth.tsv",
    params:
        brain=config["phantom"]["brain"],
        seed=config["seed"],
    log:
        "logs/phantom_brain.log",
    benchmark:
        "benchmarks/phantom_brain.tsv"
    conda:
        "../../envs/curate.yaml"
    threads: threads_of("curate")
    resources:
        **resources_of("curate"),
    script:
        "../../scripts/phantom_brain.py"
