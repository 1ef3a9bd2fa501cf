#!/usr/bin/env python3
"""Writes a multi-head (MHA) copy of a grouped-query llama: the same function, one KV head per
query head (issue 14).

FLAP's and wanda-sp's original code prune heads of an MHA model. To compare with them at their
own structure, Pare prunes this copy: each KV head's K and V rows are repeated for every query
head of its group, so `num_key_value_heads = num_attention_heads`. The copy computes exactly
what the original computes (every query head reads the same K/V as before); it only has more
parameters, and removing a query head now removes its own K/V rows, as in an MHA model.

Input: a Hugging Face llama folder as `pare export MODEL --out DIR --format hf` writes it
(config.json, model.safetensors, tokenizer files). Output: the same layout, K/V repeated.

Setup (throwaway venv, outside the repository):
  python3 -m venv /work/venvs/mha && /work/venvs/mha/bin/pip install numpy safetensors
Run:
  .build/release/pare export models/SmolLM2-135M-Instruct.Q4_1.gguf --out /tmp/smol-hf --format hf
  /work/venvs/mha/bin/python scripts/make-mha-copy.py /tmp/smol-hf /tmp/smol-mha
"""

import json
import os
import shutil
import sys

import numpy as np
from safetensors.numpy import load_file, save_file


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit("usage: make-mha-copy.py HF_DIR OUT_DIR")
    source, out = sys.argv[1], sys.argv[2]
    if os.path.exists(out):
        sys.exit(f"error: {out} exists")
    with open(os.path.join(source, "config.json")) as f:
        config = json.load(f)
    heads, kv = config["num_attention_heads"], config.get("num_key_value_heads", config["num_attention_heads"])
    d = config.get("head_dim") or config["hidden_size"] // heads
    if heads % kv:
        sys.exit(f"error: {heads} query heads do not split evenly over {kv} KV heads")
    group = heads // kv
    tensors = load_file(os.path.join(source, "model.safetensors"))
    copied = {}
    for name, t in tensors.items():
        if name.endswith(("self_attn.k_proj.weight", "self_attn.v_proj.weight", "self_attn.k_proj.bias", "self_attn.v_proj.bias")):
            blocks = t.reshape(kv, d, *t.shape[1:])            # KV head h: rows h·d ..< (h+1)·d
            t = np.repeat(blocks, group, axis=0).reshape(heads * d, *t.shape[1:])  # query head q reads KV head q // group
        copied[name] = np.ascontiguousarray(t)
    config["num_key_value_heads"] = heads
    tmp = out + ".tmp"
    shutil.copytree(source, tmp, ignore=shutil.ignore_patterns("model.safetensors", "config.json"))
    save_file(copied, os.path.join(tmp, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(tmp, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    os.rename(tmp, out)
    print(f"wrote {out}: {heads} query heads, KV heads {kv} → {heads} (each repeated {group}×)")


if __name__ == "__main__":
    main()
