"""`make package`: the artifacts the Glue jobs run, for terraform/ to upload.

Writes into dist/glue/ (or the folder given):
- moviestream_core.zip: the sub-packages of moviestream the Glue jobs import (the entries in
  moviestream.glue and what they import: never the CLI, the local stack, the producer or the
  health page) with their data files, for --extra-py-files. Built
  deterministically (sorted entries, fixed timestamps), so its hash changes only when the source
  does and Terraform re-uploads only then.
- streaming_job.py, backfill_job.py: the job scripts (each calls its module's main()).
- additional_python_modules.txt: the runtime dependencies Glue 6.0 does not provide, transitive ones
  included, at requirements.lock's versions, for --additional-python-modules.
Plain Python (the standard library only): it needs neither the project's virtualenv nor Java,
PostgreSQL or Node.
"""

from __future__ import annotations

import re
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).parents[1]
# What the Glue entries import, and nothing else (tests/unit/test_package_glue.py derives the set
# from the imports and holds this to it).
PACKAGES = ("core", "quality", "warehouse", "pipeline", "backfill", "quarantine", "glue")
DATA_SUFFIXES = (".py", ".json", ".dqdl", ".sql")
# What Glue 6.0 brings itself (Spark, its Python bindings, pandas, pyarrow, boto3): installing
# our pins of these over Glue's would replace the runtime's own.
GLUE_PROVIDED = {"pyspark", "pandas", "pyarrow", "boto3"}
# Every Python environment's own packaging tools: never replaced on Glue either.
PACKAGING_TOOLS = {"pip", "setuptools", "wheel"}
SCRIPTS = {
    "streaming_job.py": "moviestream.glue.streaming_job",
    "backfill_job.py": "moviestream.glue.backfill_job",
}
_EPOCH = (2000, 1, 1, 0, 0, 0)


def package_files() -> list[Path]:
    files = [ROOT / "moviestream" / "__init__.py"]
    for package in PACKAGES:
        for path in sorted((ROOT / "moviestream" / package).rglob("*")):
            if path.is_file() and path.suffix in DATA_SUFFIXES and "__pycache__" not in path.parts:
                files.append(path)
    return files


def locked_graph(lock_text: str) -> tuple[dict[str, str], dict[str, set[str]]]:
    """From a uv lock file: {name: version} and {name: the packages that require it} (its
    ``# via`` lines; "moviestream" stands for pyproject itself)."""
    versions: dict[str, str] = {}
    parents: dict[str, set[str]] = {}
    current = None
    in_via = False
    for line in lock_text.splitlines():
        pin = re.match(r"^([A-Za-z0-9._-]+)(\[[^\]]*\])?==([^ ;\\]+)", line)
        if pin:
            current = canonical(pin.group(1))
            versions[current] = pin.group(3)
            parents[current] = set()
            in_via = False
            continue
        comment = line.strip()
        if current is None or not comment.startswith("#"):
            continue
        text = comment.lstrip("#").strip()
        if text.startswith("via"):
            in_via = True
            text = text[3:].strip()
        if in_via and text:
            parents[current].add(canonical(text.split(" (")[0]))
    return versions, parents


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_modules() -> list[str]:
    """--additional-python-modules: every package the jobs need at run time, transitive ones too,
    at the versions requirements.lock pins (so pip on Glue resolves nothing by itself), minus what
    Glue provides and everything only those packages need (Glue brings its own)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    direct = {canonical(r.split("==")[0].split("[")[0].strip()) for r in project["dependencies"]}
    versions, parents = locked_graph((ROOT / "requirements.lock").read_text())
    children: dict[str, set[str]] = {}
    for child, of in parents.items():
        for parent in of:
            children.setdefault(parent, set()).add(child)

    def closure(roots: set[str]) -> set[str]:
        seen, todo = set(), list(roots)
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo.extend(children.get(name, ()))
        return seen

    provided = closure(GLUE_PROVIDED) | PACKAGING_TOOLS
    ours = closure(direct - GLUE_PROVIDED) - provided
    missing = sorted(n for n in ours if n not in versions)
    if missing:
        raise SystemExit(f"error: not in requirements.lock: {', '.join(missing)} (run make lock)")
    return [f"{name}=={versions[name]}" for name in sorted(ours)]


def build(out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    core = out / "moviestream_core.zip"
    with zipfile.ZipFile(core, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in package_files():
            info = zipfile.ZipInfo(str(path.relative_to(ROOT)), date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    written = {"core": core}
    for script, module in SCRIPTS.items():
        path = out / script
        path.write_text(
            f'"""AWS Glue job script: runs {module}.main()."""\n\nfrom {module} import main\n\nmain()\n'
        )
        written[script] = path
    modules = out / "additional_python_modules.txt"
    modules.write_text(",".join(runtime_modules()) + "\n")
    written["modules"] = modules
    return written


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "dist" / "glue"
    for name, path in build(out).items():
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        print(f"{name}: {shown} ({path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
