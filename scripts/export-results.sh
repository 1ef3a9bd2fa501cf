#!/usr/bin/env bash
# Measures exported SmolLM2 files for docs/RESULTS.md (issue 13): for each MODEL given and each
# type, the GGUF size; Pare's WikiText-2 perplexity (first 256 chunks of 128 tokens); llama.cpp's
# llama-perplexity on the same raw text (-c 128 --chunks 256: llama.cpp scores only the second
# half of each chunk) and llama-bench pp128 / tg128. One job at a time, niced, one thread.
#
#   scripts/export-results.sh OUT.tsv LABEL=MODEL [LABEL=MODEL …]
# env: TYPES (default "f32 q8_0 q4_0"), SIZE_TYPES (sizes only; default all eight), PARE
# (default .build/release/pare), LLAMA_CPP_BIN (default ${PARE_CACHE:-~/.cache/pare}/llama.cpp/bin),
# WORK (exported files; default /tmp/pare-export-results), CHUNKS (default 256), BENCH (0 skips
# llama-bench, whose figures `pare-bench decode` takes side by side with Pare's own; default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$1; shift
pare=${PARE:-.build/release/pare}
bin=${LLAMA_CPP_BIN:-${PARE_CACHE:-$HOME/.cache/pare}/llama.cpp/bin}
work=${WORK:-/tmp/pare-export-results}
chunks=${CHUNKS:-256}
types=${TYPES:-f32 q8_0 q4_0}
size_types=${SIZE_TYPES:-f32 f16 bf16 q8_0 q4_0 q4_1 q4_k q6_k}
data=../shared/data/wikitext-2-raw/wiki.test.raw
mkdir -p "$work"
[ -f "$out" ] || printf 'model\ttype\tbytes\tpare_ppl\tpare_tok_s\tllama_ppl\tpp128\ttg128\n' > "$out"
for pair in "$@"; do
  label=${pair%%=*}; model=${pair#*=}
  for t in $size_types; do
    f="$work/$label-$t.gguf"
    [ -f "$f" ] || nice -n 10 "$pare" export "$model" --out "$f" --type "$t" --threads 1 >&2
    pare_ppl=- pare_rate=- llama_ppl=- pp=- tg=-
    if [[ " $types " == *" $t "* ]]; then
      eval_json=$(nice -n 10 "$pare" eval "$f" --dataset "$data" --format wikitext --max-chunks "$chunks" --json --threads 1)
      pare_ppl=$(echo "$eval_json" | python3 -c 'import json,sys; print("%.3f" % json.load(sys.stdin)["perplexity"])')
      pare_rate=$(echo "$eval_json" | python3 -c 'import json,sys; print("%.0f" % json.load(sys.stdin)["tokens_per_second"])')
      llama_ppl=$(nice -n 10 "$bin/llama-perplexity" -m "$f" -f "$data" -c 128 -b 128 --chunks "$chunks" -t 1 2>&1 \
        | sed -n 's/.*Final estimate: PPL = \([0-9.]*\).*/\1/p')
      [ "${BENCH:-1}" = 0 ] || bench=$(nice -n 10 "$bin/llama-bench" -m "$f" -p 128 -n 128 -t 1 -r 3 -o csv 2>/dev/null)
      [ "${BENCH:-1}" = 0 ] || pp=$(echo "$bench" | python3 -c 'import csv,sys; r=[x for x in csv.DictReader(sys.stdin) if x["n_prompt"]=="128"]; print("%.1f" % float(r[0]["avg_ts"]))')
      [ "${BENCH:-1}" = 0 ] || tg=$(echo "$bench" | python3 -c 'import csv,sys; r=[x for x in csv.DictReader(sys.stdin) if x["n_gen"]=="128"]; print("%.1f" % float(r[0]["avg_ts"]))')
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$t" "$(stat -c %s "$f")" "$pare_ppl" "$pare_rate" "$llama_ppl" "$pp" "$tg" | tee -a "$out"
  done
done
