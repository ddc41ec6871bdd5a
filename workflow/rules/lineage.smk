# One lineage record per table or figure, built from Snakemake's per-file metadata (mrissl.lineage).
# Its only input is the product, so it never makes a table re-run; it re-runs whenever the product
# is re-made in the same invocation (anything upstream changed) or later with new content.


rule lineage:
    input:
        product="results/{kind}/{file}",
    output:
        record="results/lineage/{kind}/{file}.json",
    log:
        "logs/lineage/{kind}/{file}.log",
    benchmark:
        "benchmarks/lineage/{kind}/{file}.tsv"
    wildcard_constraints:
        kind="tables|figures",
        file=r"[^/]+",
    conda:
        "../../envs/plot.yaml"
    threads: threads_of("light")
    resources:
        **resources_of("light"),
    params:
        redact=[config["ingest"]["salt"]],  # the site's secret salt stays out of results/
    script:
        "../../scripts/lineage.py"
