#!/usr/bin/env bash
# Prunes fixed configurations with a given `pare` binary and lists the sha256 of every
# model.safetensors, so two builds can be compared byte for byte (issue 12's refactor check):
#   scripts/prune-byte-check.sh OLD/pare /tmp/old && scripts/prune-byte-check.sh NEW/pare /tmp/new
#   diff /tmp/old/sha256.txt /tmp/new/sha256.txt
# WHICH = smol (SmolLM2, 6 runs, needs models/ and ../shared/data), tiny (tiny GPT-2 and
# byte llama fixtures, 36 runs, seconds) or all (default).
set -euo pipefail
PARE=$(realpath "$1"); ROOT=$2; WHICH=${3:-all}
cd "$(dirname "$0")/.."
mkdir -p "$ROOT"
run() {
  local name=$1; shift
  rm -rf "${ROOT:?}/$name"
  nice -n 10 "$PARE" prune "$@" --out "$ROOT/$name" > "$ROOT/$name.log" 2>&1 || { echo "FAIL $name"; cat "$ROOT/$name.log"; }
}
if [ "$WHICH" != tiny ]; then
  SMOL=models/SmolLM2-135M-Instruct.Q4_1.gguf
  CAL=(--calibration ../shared/data/wikitext-2-tokenized/wiki.train.tokens --format wikitext --sparsity 0.3 --samples 8 --seed 0)
  run smol-default $SMOL "${CAL[@]}"
  run smol-second-moment $SMOL "${CAL[@]}" --criterion second-moment
  run smol-flap $SMOL "${CAL[@]}" --criterion flap
  run smol-headsim $SMOL "${CAL[@]}" --head-similarity 0.2
  run smol-global $SMOL "${CAL[@]}" --allocation global
  run smol-recovery $SMOL "${CAL[@]}" --recovery --remedy --recovery-samples 16
fi
if [ "$WHICH" != smol ]; then
  # The tiny GPT-2 fixture has no tokenizer: give it an 80-symbol byte-level vocabulary and a
  # calibration text made of those symbols only.
  G="$ROOT/.gpt2-model"  # hidden: not listed below
  mkdir -p "$G" && cp Tests/TransformerTests/Fixtures/forward/gpt2-tiny/{config.json,model.safetensors} "$G"
  python3 - "$G" <<'PY'
import json, string, sys
d = sys.argv[1]
chars = (['Ġ', 'Ċ'] + list(string.ascii_lowercase) + list(string.ascii_uppercase) + list(string.digits)
         + list(".,'-;:()!?&@=+/\"$%"))[:80]
json.dump({c: i for i, c in enumerate(chars)}, open(d + '/vocab.json', 'w'))
open(d + '/merges.txt', 'w').write('#version: 0.2\n')
allowed = set(c for c in chars if len(c) == 1) | {' ', '\n'}
text = open('Tests/TransformerTests/Fixtures/forward/eval-sample.txt', encoding='utf-8').read() * 20
open(d + '/calibration.txt', 'w').write(''.join(c for c in text if c in allowed))
PY
  GC=(--calibration "$G/calibration.txt" --format text --seq-len 16 --samples 8)
  B=Tests/TransformerTests/Fixtures/forward/llama-bytes.gguf
  BC=(--calibration Tests/TransformerTests/Fixtures/forward/eval-sample.txt --format text --seq-len 16 --samples 4)
  for m in gpt2 bytes; do
    if [ $m = gpt2 ]; then M=$G; C=("${GC[@]}"); else M=$B; C=("${BC[@]}"); fi
    run $m-default $M "${C[@]}" --sparsity 0.3
    run $m-second-moment $M "${C[@]}" --sparsity 0.3 --criterion second-moment
    run $m-flap $M "${C[@]}" --sparsity 0.3 --criterion flap
    run $m-wanda $M "${C[@]}" --sparsity 0.3 --criterion wanda-sp
    run $m-random $M "${C[@]}" --sparsity 0.3 --criterion random --seed 3
    run $m-l1 $M --sparsity 0.3 --criterion l1
    run $m-l2-global $M --sparsity 0.3 --criterion l2 --allocation global
    run $m-datafree $M --sparsity 0.3 --criterion data-free
    run $m-headsim $M "${C[@]}" --sparsity 0.3 --head-similarity 0.6
    run $m-headsim0 $M "${C[@]}" --sparsity 0 --criterion head-similarity --head-similarity 0.6
    run $m-headsim-hs $M "${C[@]}" --sparsity 0.3 --criterion head-similarity
    run $m-global $M "${C[@]}" --sparsity 0.3 --allocation global
    run $m-energy $M "${C[@]}" --sparsity 0.3 --allocation energy
    run $m-recovery $M "${C[@]}" --sparsity 0.3 --recovery --remedy --recovery-samples 12
    run $m-recovery-zero $M "${C[@]}" --sparsity 0.4 --recovery --target module --damp-prior zero
    run $m-remedy-flap $M "${C[@]}" --sparsity 0.4 --remedy --criterion flap --allocation global
    run $m-layers $M "${C[@]}" --sparsity 0.5 --layers '1..<2' --round-to 4
    run $m-selfgen $M --self-generated --samples 2 --seq-len 8 --sparsity 0.3 --recovery
  done
fi
(cd "$ROOT" && sha256sum ./*/model.safetensors | sort -k2) > "$ROOT/sha256.txt"
cat "$ROOT/sha256.txt"
