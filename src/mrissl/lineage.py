"""Lineage: the audit record of one table or figure, from Snakemake's own per-file metadata.

Snakemake (file persistence, the default) writes one JSON record per output file under
``.snakemake/metadata/``, named by the urlsafe base64 of the path, with the rule, the input
paths, the params (``repr`` of each value, sorted), the rule's code (for a ``script:`` rule the
directive itself, which names the script), the declared conda env and the input checksums. The
main Snakemake process writes it when a job finishes, before any consumer job starts, locally and
on Slurm alike. :func:`build_lineage` walks those records from a product back to files no
recorded job produced (the raw data and other sources) and adds what Snakemake does not keep:
the sha256 of every file (a directory gets one digest over its files), each script's sha256, the
mrissl source files, the git commit and the package versions. No timestamps go in, so the same
files, code and environment give a byte-identical record.

A directory's digest is the sha256 of the lines ``<sha256>  <relative path>\\n`` of its files,
sorted by path, i.e. of ``sha256sum`` output; in a shell::

    (cd DIR && find . -type f -printf '%P\\n' | LC_ALL=C sort | xargs -d '\\n' sha256sum) | sha256sum

File hashes are cached by (size, mtime, ctime) in ``.snakemake/mrissl-lineage-sha256.json``, so
a raw folder of many files is read once, not once per table; the cache stays out of ``results/``
because it names every raw file.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib.metadata
import json
import logging
import os
import platform
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from mrissl import __version__

log = logging.getLogger(__name__)

LINEAGE_FORMAT = 1
HASH_CACHE = Path(".snakemake") / "mrissl-lineage-sha256.json"
# Where a rule's `script:` path may be relative to: the Snakefile's folder (the working
# directory) or the rule files' folders of Snakemake's standard layout.
RULE_FILE_DIRS = (Path("."), Path("workflow"), Path("workflow/rules"))
# Snakemake's md5 of an empty software stack: the job ran without a conda env, container or module.
NO_SOFTWARE_STACK = hashlib.md5(b"", usedforsecurity=False).hexdigest()
# A script rule's recorded code is its `script:` (or `notebook:`) directive, or just the quoted
# path when the directive's value sits on the next line.
SCRIPT_DIRECTIVE = re.compile(r"(?:(?:script|notebook)\s*:\s*)?[rf]?(['\"])([^'\"\n]+)\1")
REDACTED = "<redacted>"
NOT_FILES = {"<pipe>", "<service>"}


class LineageError(RuntimeError):
    """The lineage of a file cannot be built; the message names the file and the fix."""


class _Hasher:
    """sha256 of files and directories, with an optional on-disk cache keyed by (size, mtime, ctime)."""

    def __init__(self, cache_path: Path | None):
        self.cache_path = cache_path
        self.cache: dict[str, list] = {}
        if cache_path is not None and cache_path.is_file():
            try:
                self.cache = json.loads(cache_path.read_text())
            except ValueError:
                log.warning("ignoring unreadable hash cache %s", cache_path)
        self.changed = False

    def file(self, path: Path) -> str:
        stat = path.stat()
        stamp = [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]
        key = str(path.resolve())
        cached = self.cache.get(key)
        if cached is not None and cached[:3] == stamp:
            return cached[3]
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        self.cache[key] = [*stamp, digest.hexdigest()]
        self.changed = True
        return digest.hexdigest()

    def directory(self, path: Path) -> tuple[str, int]:
        """The digest over the directory's files (see the module docstring) and their count."""
        files = sorted(
            (Path(root) / name).relative_to(path).as_posix()
            for root, _, names in os.walk(path)
            for name in names
        )
        log.info("hashing %s (%d files)", path, len(files))
        listing = "".join(f"{self.file(path / rel)}  {rel}\n" for rel in files)
        return hashlib.sha256(listing.encode()).hexdigest(), len(files)

    def describe(self, path: Path) -> dict:
        if path.is_dir():
            digest, count = self.directory(path)
            return {"kind": "directory", "sha256": digest, "n_files": count}
        if path.is_file():
            return {"kind": "file", "sha256": self.file(path)}
        return {"kind": "missing", "sha256": None}

    def save(self) -> None:
        """Merge into the cache file atomically (lineage jobs run side by side); a read-only tree skips it."""
        if self.cache_path is None or not self.changed:
            return
        try:
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            if self.cache_path.is_file():
                try:
                    self.cache = {**json.loads(self.cache_path.read_text()), **self.cache}
                except ValueError:
                    pass  # a torn cache is replaced by this one
            # Jobs on several Slurm nodes may share a pid: the host keeps their partial files apart.
            partial = self.cache_path.with_name(f"{self.cache_path.name}.{platform.node()}.{os.getpid()}")
            partial.write_text(json.dumps(self.cache))
            os.replace(partial, self.cache_path)
        except OSError as error:
            log.warning("could not save the hash cache %s: %s", self.cache_path, error)


def metadata_path(workdir: Path, key: str) -> Path:
    """Snakemake's file-persistence record of output ``key`` (persistence/file.py, ``_record_path``)."""
    root = workdir / ".snakemake" / "metadata"
    max_len = (os.pathconf(root, "PC_NAME_MAX") if os.name == "posix" and root.exists() else 255) or 255
    encoded = base64.urlsafe_b64encode(key.encode()).decode()
    parts = [encoded[i:i + max_len - 1] for i in range(0, len(encoded), max_len - 1)]
    return root.joinpath(*["@" + part for part in parts[:-1]], parts[-1])


def _read_metadata(workdir: Path, key: str) -> dict | None:
    path = metadata_path(workdir, key)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError as error:
        raise LineageError(
            f"{path}: unreadable Snakemake metadata for {key} ({error}); is Snakemake writing it right now? "
            "Run the lineage again when it has finished."
        ) from error


def _key(target: str | Path, workdir: Path) -> str:
    """The path as Snakemake keys it: relative to the working directory when inside it."""
    absolute = Path(os.path.abspath(workdir / target))
    try:
        return absolute.relative_to(workdir).as_posix()
    except ValueError:
        return str(absolute)


def _script(code: str | None, workdir: Path, hasher: _Hasher) -> dict | None:
    match = SCRIPT_DIRECTIVE.fullmatch((code or "").strip())
    if match is None:
        return None
    written = match.group(2)
    for base in RULE_FILE_DIRS:
        candidate = Path(os.path.normpath(workdir / base / written))
        if candidate.is_file():
            return {"path": _key(candidate, workdir), "sha256": hasher.file(candidate)}
    return {"path": written, "sha256": None}


def _library_source(hasher: _Hasher) -> dict:
    root = Path(__file__).resolve().parent
    files = {path.relative_to(root).as_posix(): hasher.file(path) for path in sorted(root.rglob("*.py"))}
    listing = "".join(f"{digest}  {rel}\n" for rel, digest in files.items())
    return {
        "version": __version__,
        "sha256": hashlib.sha256(listing.encode()).hexdigest(),
        "files": files,
    }


def _git(workdir: Path) -> dict:
    def git(*args: str) -> str | None:
        try:
            proc = subprocess.run(["git", "-C", str(workdir), *args], capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return proc.stdout if proc.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain")
    return {
        "commit": commit.strip() if commit else None,
        "dirty": None if status is None else bool(status.strip()),
    }


def _declared_dependencies(workdir: Path) -> list[str]:
    """Names of the project's pinned dependencies: pyproject.toml of the checkout, else the installed metadata."""
    pyproject = workdir / "pyproject.toml"
    if pyproject.is_file():
        requirements = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    else:
        try:
            requirements = [r for r in importlib.metadata.requires("mrissl") or [] if "extra ==" not in r]
        except importlib.metadata.PackageNotFoundError:
            requirements = []
    return [re.match(r"[A-Za-z0-9_.\-]+", r).group(0) for r in requirements]


def _software(workdir: Path) -> dict:
    def version(name: str) -> str | None:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return None

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": {name: version(name) for name in _declared_dependencies(workdir)},
    }


def build_lineage(
    target: str | Path,
    workdir: str | Path = ".",
    hash_cache: str | Path | None = HASH_CACHE,
    redact: tuple[str, ...] | list[str] = (),
) -> dict:
    """The lineage record of ``target`` (a path relative to ``workdir``, Snakemake's working directory).

    ``steps`` lists the recorded jobs upstream first (a job's inputs before the job); ``files``
    every file of the chain, each with its sha256 and the rule that produced it (``null`` for a
    source). ``hash_cache`` is relative to ``workdir``; ``None`` hashes everything afresh. Each
    value in ``redact`` (a site's secret salt) is replaced by ``<redacted>`` in params and code.
    """

    def hide(text: str | None) -> str | None:
        for secret in filter(None, redact):
            text = None if text is None else text.replace(secret, REDACTED)
        return text

    workdir = Path(os.path.abspath(workdir))
    hasher = _Hasher(None if hash_cache is None else workdir / hash_cache)
    target_key = _key(target, workdir)
    if _read_metadata(workdir, target_key) is None:
        if not (workdir / ".snakemake" / "metadata").is_dir():
            raise LineageError(
                f"{workdir / '.snakemake/metadata'} does not exist: run Snakemake in {workdir} first "
                "(with its default file persistence and without --drop-metadata)."
            )
        raise LineageError(
            f"{target_key}: Snakemake has no metadata record for it in {workdir}; produce it with "
            f"`snakemake {target_key}` (not --touch or --drop-metadata), then ask again."
        )

    files: dict[str, dict] = {}  # filled upstream first: a file after everything it was made from
    visiting: set[str] = set()  # a stale record that loops back stops here
    steps: dict[tuple, dict] = {}
    conda_envs: dict[str, str] = {}
    warnings: list[str] = []

    def visit(key: str) -> None:
        if key in files or key in visiting:
            return
        visiting.add(key)
        record = _read_metadata(workdir, key)
        inputs = [] if record is None else [path for path in record.get("input") or [] if path not in NOT_FILES]
        for path in inputs:
            visit(path)
        files[key] = {**hasher.describe(workdir / key), "rule": None if record is None else record["rule"]}
        if files[key]["kind"] == "missing":
            warnings.append(f"{key} no longer exists (temporary, or removed after it was used)")
        if record is None:
            return
        if record.get("incomplete"):
            warnings.append(f"{key} is marked incomplete by Snakemake: its job did not finish")
        for path, recorded in (record.get("input_checksums") or {}).items():
            current = files.get(path, {}).get("sha256")
            if current is not None and recorded.removeprefix("sha256:") != current:
                warnings.append(f"{path} changed after rule {record['rule']} used it to make {key}")
        step_id = (record["rule"], record.get("job_hash"), tuple(inputs))
        if step_id in steps:
            steps[step_id]["outputs"].append(key)
            return
        env = None
        if record.get("conda_env"):
            env_text = base64.b64decode(record["conda_env"]).decode()
            env = hashlib.sha256(env_text.encode()).hexdigest()
            conda_envs[env] = env_text
        script = _script(record.get("code"), workdir, hasher)
        steps[step_id] = {
            "rule": record["rule"],
            "outputs": [key],
            "inputs": inputs,
            "params": [hide(param) for param in record.get("params") or []],
            "script": script,
            "shell": hide(record.get("shellcmd")),
            "code": None if script or record.get("shellcmd") else hide(record.get("code")),
            "log": record.get("log") or [],
            "conda_env": env,
            "software_stack_deployed": record.get("software_stack_hash") not in (None, NO_SOFTWARE_STACK),
        }

    visit(target_key)
    last = next(reversed(steps.values()))  # the target's job: added after all of its upstream
    lineage = {
        "lineage_format": LINEAGE_FORMAT,
        "target": target_key,
        "sha256": files[target_key]["sha256"],
        "rule": last["rule"],
        "script": last["script"],
        "steps": list(steps.values()),
        "files": files,
        "sources": [key for key, entry in files.items() if entry["rule"] is None],
        "conda_envs": conda_envs,
        "code": {"mrissl": _library_source(hasher), "git": _git(workdir)},
        "software": _software(workdir),
        "warnings": warnings,
    }
    hasher.save()
    return lineage


def _describe_file(key: str, entry: dict) -> str:
    if entry["kind"] == "directory":
        return f"{key}/  (directory, {entry['n_files']} files, digest {entry['sha256']})"
    if entry["kind"] == "missing":
        return f"{key}  (missing)"
    return f"{key}  sha256 {entry['sha256']}"


def render_lineage(lineage: dict) -> str:
    """The record as text: sources, then each job upstream first, then code and software."""
    files = lineage["files"]
    made_by = {key: number for number, step in enumerate(lineage["steps"], 1) for key in step["outputs"]}
    lines = [f"Lineage of {lineage['target']}", f"  sha256 {lineage['sha256']}", ""]
    lines += ["Sources (no recorded job made them):"]
    lines += [f"  {_describe_file(key, files[key])}" for key in lineage["sources"]] or ["  (none)"]
    lines += ["", "Jobs, upstream first:"]
    for number, step in enumerate(lineage["steps"], 1):
        if step["script"]:
            how = f"script {step['script']['path']}  sha256 {step['script']['sha256']}"
        elif step["shell"]:
            how = f"shell: {step['shell']}"
        else:
            how = f"code: {(step['code'] or '').strip()}"
        lines += [f"  {number}. rule {step['rule']}", f"       {how}"]
        lines += [f"       params: {' | '.join(step['params']) if step['params'] else '(none)'}"]
        if step["conda_env"]:
            used = "used" if step["software_stack_deployed"] else "declared, not deployed"
            lines += [f"       conda env sha256 {step['conda_env']} ({used})"]
        origin = {key: f"job {made_by[key]}" if key in made_by else "source" for key in step["inputs"]}
        lines += [f"       in:  {key}  ({origin[key]})" for key in step["inputs"]]
        lines += [f"       out: {_describe_file(key, files[key])}" for key in step["outputs"]]
    code, software = lineage["code"], lineage["software"]
    git = code["git"]
    state = "unknown" if git["dirty"] is None else ("dirty" if git["dirty"] else "clean")
    lines += [
        "",
        f"Code: mrissl {code['mrissl']['version']}, source sha256 {code['mrissl']['sha256']} "
        f"({len(code['mrissl']['files'])} files); git {git['commit'] or 'unknown'} ({state})",
        f"Software (where this record was written): Python {software['python']} on {software['platform']}",
        "  " + ", ".join(f"{name} {version or 'not installed'}" for name, version in software["packages"].items()),
    ]
    if lineage["warnings"]:
        lines += ["", "Warnings:"] + [f"  {warning}" for warning in lineage["warnings"]]
    return "\n".join(lines) + "\n"


def write_lineage(
    target: str | Path, record_path: str | Path, workdir: str | Path = ".", redact: tuple[str, ...] | list[str] = ()
) -> dict:
    """Build the lineage of ``target`` (see :func:`build_lineage`) and write it as JSON to ``record_path``."""
    lineage = build_lineage(target, workdir, redact=redact)
    record_path = Path(record_path)
    record_path.parent.mkdir(parents=True, exist_ok=True)
    record_path.write_text(json.dumps(lineage, indent=2) + "\n")
    log.info("%s: %d jobs, %d files, %d sources", lineage["target"], len(lineage["steps"]),
             len(lineage["files"]), len(lineage["sources"]))
    for warning in lineage["warnings"]:
        log.warning("%s", warning)
    return lineage


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="mrissl-lineage",
        description="Print how a table or figure was made: every upstream file with its sha256, the rules, "
        "scripts and params, the code version and the package versions. Builds the record from the "
        "working directory's Snakemake metadata; given a record the pipeline wrote "
        "(results/lineage/...json), prints that instead.",
    )
    parser.add_argument("path", help="a product, e.g. results/tables/seqclass_curation_summary.csv, or a lineage record")
    parser.add_argument("--json", action="store_true", help="print the record as JSON instead of text")
    parser.add_argument("--workdir", default=".", help="Snakemake's working directory (default: .)")
    parser.add_argument("--no-cache", action="store_true", help="hash every file afresh, ignoring the hash cache")
    parser.add_argument("--redact", action="append", default=[], metavar="VALUE",
                        help="show this value (e.g. the ingest salt) as <redacted>; repeatable")
    args = parser.parse_args(argv)

    lineage = _stored_record(Path(args.workdir) / args.path)
    if lineage is None:
        try:
            lineage = build_lineage(args.path, args.workdir, None if args.no_cache else HASH_CACHE, args.redact)
        except LineageError as error:
            print(f"mrissl-lineage: {error}", file=sys.stderr)
            return 1
    sys.stdout.write(json.dumps(lineage, indent=2) + "\n" if args.json else render_lineage(lineage))
    return 0


def _stored_record(path: Path) -> dict | None:
    if path.suffix != ".json" or not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except ValueError:
        return None
    return record if isinstance(record, dict) and "lineage_format" in record else None
