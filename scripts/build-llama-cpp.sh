#!/usr/bin/env bash
# Builds llama.cpp's command-line tools (llama-completion, llama-simple, llama-perplexity,
# llama-bench, llama-quantize) from the copy of llama.cpp that PyPI's `llama_cpp_python`
# source distribution vendors. cmake and ninja come from PyPI too, in a venv. Everything
# lives outside the repo, in $PARE_CACHE (default ~/.cache/pare):
#   $PARE_CACHE/llama.cpp/bin/        the tools (prints this path on stdout when done)
#   $PARE_CACHE/llama.cpp/VERSION     the llama_cpp_python version they were built from
# Usage: scripts/build-llama-cpp.sh [TOOL ...]   (default: all five; scripts/test asks only
# for llama-simple, the one its checks run). Does nothing when the tools asked for are already
# built from this version. All five take ~10 minutes on 2 cores (16 on a busy machine).
# Checks that need llama.cpp find it at that path or through $LLAMA_CPP_BIN.
set -euo pipefail

version=0.3.36
cache=${PARE_CACHE:-$HOME/.cache/pare}
dest=$cache/llama.cpp
tools=(llama-completion llama-simple llama-perplexity llama-bench llama-quantize)
if [ $# -gt 0 ]; then tools=("$@"); fi

built() {
  [ "$(cat "$dest/VERSION" 2>/dev/null)" = "$version" ] || return 1
  for t in "${tools[@]}"; do [ -x "$dest/bin/$t" ] || return 1; done
}
if built; then echo "$dest/bin"; exit 0; fi

mkdir -p "$cache"
work=$(mktemp -d "$cache/llama.cpp-build.XXXXXX")
trap 'rm -rf "$work"' EXIT

venv=$cache/build-tools
if [ ! -x "$venv/bin/cmake" ] || [ ! -x "$venv/bin/ninja" ]; then
  echo "installing cmake and ninja from PyPI into $venv ..." >&2
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check cmake ninja scikit-build-core
fi

echo "fetching llama_cpp_python $version (source distribution) from PyPI ..." >&2
# --no-build-isolation: pip prepares the sdist's metadata with the venv's scikit-build-core
# instead of installing a fresh build environment for it.
"$venv/bin/python" -m pip download --quiet --disable-pip-version-check --no-deps \
  --no-binary :all: --no-build-isolation "llama_cpp_python==$version" -d "$work"
tar -xzf "$work"/llama_cpp_python-"$version".tar.gz -C "$work"
src=$work/llama_cpp_python-$version/vendor/llama.cpp
[ -f "$src/CMakeLists.txt" ] || { echo "error: no vendored llama.cpp in the sdist" >&2; exit 1; }

echo "building llama.cpp (${tools[*]}) ..." >&2
jobs=${PARE_BUILD_JOBS:-$(nproc)}
PATH="$venv/bin:$PATH" cmake -S "$src" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DBUILD_SHARED_LIBS=OFF -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF \
  -DLLAMA_BUILD_SERVER=OFF >"$work/cmake.log" 2>&1 \
  || { tail -20 "$work/cmake.log" >&2; echo "error: cmake configure failed" >&2; exit 1; }
PATH="$venv/bin:$PATH" cmake --build "$work/build" -j "$jobs" --target "${tools[@]}" \
  >"$work/build.log" 2>&1 \
  || { tail -30 "$work/build.log" >&2; echo "error: llama.cpp build failed" >&2; exit 1; }

# Tools built earlier from the same version stay; another version's are replaced.
if [ "$(cat "$dest/VERSION" 2>/dev/null)" != "$version" ]; then rm -rf "$dest"; fi
mkdir -p "$dest/bin"
for t in "${tools[@]}"; do
  cp "$work/build/bin/$t" "$dest/bin/.$t.partial" && mv "$dest/bin/.$t.partial" "$dest/bin/$t"
done
echo "$version" >"$dest/VERSION.partial" && mv "$dest/VERSION.partial" "$dest/VERSION"
echo "llama.cpp ready: $dest/bin" >&2
echo "$dest/bin"
