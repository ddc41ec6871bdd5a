"""Conda env files pin the same versions as pyproject.toml, and every rule names one of them."""

from __future__ import annotations

import re
import tomllib

import yaml
from packaging.requirements import Requirement

from conftest import REPO


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(requirements: list[str]) -> dict[str, str]:
    out = {}
    for line in requirements:
        req = Requirement(line)
        (spec,) = req.specifier  # exactly one "==" pin each
        assert spec.operator == "==", f"{line}: pin exactly with =="
        out[canonical(req.name)] = spec.version
    return out


def test_env_pins_match_pyproject():
    project = pins(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"])
    env_files = sorted((REPO / "envs").glob("*.yaml"))
    assert {p.stem for p in env_files} >= {"curate", "train", "text", "plot"}
    for env_file in env_files:
        deps = yaml.safe_load(env_file.read_text())["dependencies"]
        pip_section = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
        assert "python=3.11" in deps, f"{env_file.name}: python must be 3.11"
        for name, version in pins(pip_section).items():
            assert name in project, f"{env_file.name}: {name} is not a dependency in pyproject.toml"
            assert version == project[name], (
                f"{env_file.name}: {name}=={version} but pyproject.toml pins {project[name]}"
            )


def test_every_rule_names_an_env_file():
    for smk in sorted((REPO / "workflow/rules").glob("*.smk")):
        text = smk.read_text()
        rules = re.findall(r"^rule (\w+):", text, flags=re.M)
        envs = re.findall(r"^\s+conda:\s*\n\s+\"([^\"]+)\"", text, flags=re.M)
        assert len(envs) == len(rules), f"{smk.name}: {len(rules)} rules but {len(envs)} conda: directives"
        for env in envs:
            assert (smk.parent / env).resolve().is_file() or (REPO / env).is_file(), f"{smk.name}: {env} missing"
