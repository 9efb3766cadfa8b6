"""`make package`: the artifacts the Glue jobs run, for terraform/ to upload.

Writes into dist/glue/ (or the folder given):
- moviestream_core.zip: the project's packages the jobs import (moviestream, glue_streaming,
  batch_backfill, redshift, producer) with their data files, for --extra-py-files. Built
  deterministically (sorted entries, fixed timestamps), so its hash changes only when the source
  does and Terraform re-uploads only then.
- streaming_job.py, backfill_job.py: the job scripts (each calls its module's main()).
- additional_python_modules.txt: the pinned runtime dependencies Glue 6.0 does not provide, for
  --additional-python-modules, taken from pyproject.toml (the single source of the pins).
"""

from __future__ import annotations

import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).parents[1]
PACKAGES = ("moviestream", "glue_streaming", "batch_backfill", "redshift", "producer")
DATA_SUFFIXES = (".py", ".json", ".dqdl", ".sql")
# What Glue 6.0 brings itself (Spark, its Python bindings, pandas, pyarrow, boto3): installing
# our pins of these over Glue's would replace the runtime's own.
GLUE_PROVIDED = {"pyspark", "pandas", "pyarrow", "boto3"}
SCRIPTS = {
    "streaming_job.py": "glue_streaming.glue_job",
    "backfill_job.py": "batch_backfill.glue_job",
}
_EPOCH = (2000, 1, 1, 0, 0, 0)


def package_files() -> list[Path]:
    files = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*")):
            if path.is_file() and path.suffix in DATA_SUFFIXES and "__pycache__" not in path.parts:
                files.append(path)
    return files


def runtime_modules() -> list[str]:
    """pyproject's runtime pins (name==version) minus what Glue provides."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = []
    for requirement in project["dependencies"]:
        name = requirement.split("==")[0].split("[")[0].strip().lower()
        if name not in GLUE_PROVIDED:
            pins.append(requirement.split(";")[0].strip())
    return pins


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
