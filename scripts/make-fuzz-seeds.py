#!/usr/bin/env python3
"""Builds the fuzz seed corpus (Fuzz/seeds/TARGET/) from the valid test fixtures.

Standard library only; deterministic. Run from the repo root: python3 scripts/make-fuzz-seeds.py
"""
import json, os, shutil

FIX = "Tests/TransformerTests/Fixtures"
OUT = "Fuzz/seeds"

def put(target, name, data):
    os.makedirs(f"{OUT}/{target}", exist_ok=True)
    with open(f"{OUT}/{target}/{name}", "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())

def read(path):
    with open(f"{FIX}/{path}", "rb") as f:
        return f.read()

shutil.rmtree(OUT, ignore_errors=True)

for p in ["files/dequant.gguf", "files/tiny-llama.gguf"]:
    put("gguf", os.path.basename(p), read(p))
    put("writers", os.path.basename(p), read(p))
for p in ["files/tiny-llama/model.safetensors", "files/tiny-llama-sharded/model-00003-of-00003.safetensors"]:
    name = p.replace("/", "_")
    put("safetensors", name, read(p))
    put("writers", name, read(p))
put("safetensors-index", "model.safetensors.index.json", read("files/tiny-llama-sharded/model.safetensors.index.json"))

for p in ["files/tiny-llama/config.json", "files/tiny-gpt2/config.json", "forward/gpt2-tiny/config.json",
          "forward/llama-gqa/config.json", "forward/llama-mha-tied/config.json"]:
    put("config", p.replace("/", "_"), read(p))
# A folder Pare wrote: the tiny llama with a "pare" block (layer 0 keeps query heads 0, 2, 3
# of 4; layer 1 keeps all), consistent with nothing but the shapes the fuzzer will vary.
cfg = json.loads(read("files/tiny-llama/config.json"))
cfg["pare"] = {"format_version": 1, "layers": [
    {"key_value_head_of_query": [0, 0, 1, 1], "key_value_head_count": 2, "intermediate_size": 64,
     "original_query_heads": [0, 1, 2, 3], "original_channels": list(range(64))},
    {"key_value_head_of_query": [0, 0, 1, 1], "key_value_head_count": 2, "intermediate_size": 64}]}
put("config", "pare-block.json", json.dumps(cfg, indent=1))

for name in ["hf-small-gpt2", "hf-small-llama3", "hf-small-qwen2", "hf-small-smollm"]:
    golden = json.loads(read(f"tokenizer/{name}.json"))
    tok = golden["tokenizer_json"]
    put("tokenizer-json", name + ".tokenizer.json", tok)
    model = json.loads(tok)["model"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    put("vocab-merges", name + ".vocab-merges",
        json.dumps(model["vocab"], ensure_ascii=False).encode() + b"\0" + ("#version: 0.2\n" + "\n".join(merges) + "\n").encode())

put("encode", "eval-sample.txt", read("forward/eval-sample.txt"))
put("encode", "unicode.txt", "naïve café 東京 🙂 <|endoftext|> <|im_start|>user\n  x\t\r\n 123456789 it's I'LL")
put("encode", "bytes.bin", bytes(range(256)))
