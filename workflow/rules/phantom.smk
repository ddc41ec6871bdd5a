# The embedded default cohorts (phantoms): synthetic raw data written like the real thing, so every
# rule downstream reads it as it would read a hospital's export or a public dataset.
# - brain: multi-sequence brain studies exported like a PACS (DICOM with fake identities), the
#   verified series labels and the ground truth the ingest tests check against (seqclass);
# - tumour_internal / tumour_external: paediatric tumours in the BraTS-PED 2023 layout with clinical
#   table and reports (reportcl);
# - spine: lumbar spines in SPIDER's layout with follow-up scans and twins (longitudinal);
# - pathology: brain pathologies in BIDS with unregistered DWI / T2* / FLAIR and reports (clip);
# - external sites: other scanners and protocols in BraTS 2021 or BIDS layouts (seqclass Fig. 3).
# The study cohorts are read back by read_cohort (readers.smk) like any real dataset.


rule phantom_brain:
    output:
        dicom=directory(f"{PHANTOM_BRAIN}/dicom"),
        labels=f"{PHANTOM_BRAIN}/labels.tsv",
        truth=f"{PHANTOM_BRAIN}/truth.tsv",
    log:
        "logs/phantom/phantom_brain.log",
    benchmark:
        "benchmarks/phantom/phantom_brain.tsv"
    conda:
        "../../envs/curate.yaml"
    threads: threads_of("curate", serial=True)
    resources:
        **resources_of("curate", serial=True),
    params:
        brain=config["phantom"]["brain"],
        seed=config["seed"],
    script:
        "../../scripts/phantom_brain.py"


rule phantom_tumour:
    output:
        data=directory(f"{PHANTOM_ROOT}/{{cohort}}/data"),
        clinical=f"{PHANTOM_ROOT}/{{cohort}}/clinical.tsv",
        reports=f"{PHANTOM_ROOT}/{{cohort}}/reports.tsv",
    log:
        "logs/phantom/phantom_tumour_{cohort}.log",
    benchmark:
        "benchmarks/phantom/phantom_tumour_{cohort}.tsv"
    wildcard_constraints:
        cohort="|".join(TUMOUR_COHORTS),
    conda:
        "../../envs/curate.yaml"
    threads: threads_of("curate", serial=True)
    resources:
        **resources_of("curate", serial=True),
    params:
        cohort=lambda w: config["phantom"][w.cohort],
        seed=config["seed"],
    script:
        "../../scripts/phantom_tumour.py"


rule phantom_spine:
    output:
        data=directory(f"{PHANTOM_ROOT}/spine/data"),
        scans=f"{PHANTOM_ROOT}/spine/scans.tsv",
    log:
        "logs/phantom/phantom_spine.log",
    benchmark:
        "benchmarks/phantom/phantom_spine.tsv"
    conda:
        "../../envs/curate.yaml"
    threads: threads_of("curate")
    resources:
        **resources_of("curate"),
    params:
        spine=config["phantom"]["spine"],
        seed=config["seed"],
    script:
        "../../scripts/phantom_spine.py"


rule phantom_pathology:
    output:
        data=directory(f"{PHANTOM_ROOT}/pathology/data"),
        labels=f"{PHANTOM_ROOT}/pathology/labels.tsv",
        motion=f"{PHANTOM_ROOT}/pathology/motion.tsv",
        reports=f"{PHANTOM_ROOT}/pathology/reports.tsv",
    log:
        "logs/phantom/phantom_pathology.log",
    benchmark:
        "benchmarks/phantom/phantom_pathology.tsv"
    conda:
        "../../envs/curate.yaml"
    threads: threads_of("curate", serial=True)
    resources:
        **resources_of("curate", serial=True),
    params:
        pathology=config["phantom"]["pathology"],
        seed=config["seed"],
    script:
        "../../scripts/phantom_pathology.py"


rule phantom_external_site:
    output:
        data=directory(f"{PHANTOM_ROOT}/{{site}}/data"),
    log:
        "logs/phantom/phantom_external_site_{site}.log",
    benchmark:
        "benchmarks/phantom/phantom_external_site_{site}.tsv"
    wildcard_constraints:
        site=EXTERNAL_SITE_PATTERN,
    conda:
        "../../envs/curate.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    params:
        site=lambda w: EXTERNAL_SITES[w.site],
        seed=config["seed"],
    script:
        "../../scripts/phantom_external_site.py"
