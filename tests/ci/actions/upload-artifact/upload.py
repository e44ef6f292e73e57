"""Stand-in for actions/upload-artifact: copy what the patterns match into a local folder."""

import glob
import os
import shutil
import sys
from pathlib import Path

name, mode = os.environ["NAME"], os.environ["IF_NONE"]
hidden = os.environ["HIDDEN"].lower() == "true"
dest_root = os.environ.get("ACT_STANDIN_ARTIFACTS")
files: set[Path] = set()
for pattern in filter(None, (p.strip() for p in os.environ["PATTERNS"].splitlines())):
    for match in glob.glob(pattern.rstrip("/"), recursive=True, include_hidden=hidden):
        found = Path(match)
        candidates = [p for p in found.rglob("*") if p.is_file()] if found.is_dir() else [found]
        files |= {
            p for p in candidates if hidden or not any(part.startswith(".") for part in p.parts)
        }
if not files:
    message = f"stand-in upload-artifact {name}: no files found for the given path"
    if mode == "error":
        print(f"::error::{message}")
        sys.exit(1)
    print(f"::warning::{message}" if mode == "warn" else message)
    sys.exit(0)
if dest_root:
    for path in sorted(files):
        target = Path(dest_root) / name / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
print(f"stand-in upload-artifact {name}: {len(files)} file(s) -> {dest_root or '(not kept)'}")
