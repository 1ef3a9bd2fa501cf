#!/usr/bin/env python3
"""Golden values of real SmolLM2-135M-Instruct (Q4_1 GGUF) tensors for Tests/RealModelTests.

Two independent references:
  * "gguf": the `gguf` package's own dequantiser on tensors in GGUF order (rows as stored,
    i.e. Q/K still permuted for llama.cpp's RoPE);
  * "hf": the weights `transformers` builds from the same GGUF file
    (`AutoModelForCausalLM.from_pretrained(dir, gguf_file=...)`), which undoes the Q/K
    permutation, so they are the HF-layout weights Pare's loader must produce.
For each tensor a few rows (first, a middle one, last) are recorded, first 24 columns.

Run: /work/goldens-venv/bin/python scripts/make-smollm2-goldens.py
Writes Tests/TransformerTests/Fixtures/files/smollm2-goldens.json (read by RealModelTests)
"""
import importlib.metadata
import json
import pathlib

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODEL = ROOT / "models/SmolLM2-135M-Instruct.Q4_1.gguf"
OUT = ROOT / "Tests/TransformerTests/Fixtures/files/smollm2-goldens.json"
COLS = 24


def pick(matrix):
    n = matrix.shape[0]
    rows = sorted(r for r in {0, 1, n // 2 + 3, n - 1} if r < n)
    return {str(r): [float(v) for v in matrix[r, :COLS]] for r in rows}


def main():
    reader = GGUFReader(str(MODEL))
    gguf_part = {}
    for name in ["token_embd.weight", "blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.attn_norm.weight",
                 "blk.17.ffn_down.weight", "blk.29.ffn_gate.weight", "output_norm.weight"]:
        t = next(t for t in reader.tensors if t.name == name)
        values = np.asarray(dequantize(t.data, t.tensor_type), dtype=np.float32)
        values = values.reshape(-1, int(t.shape[0]))  # rows of the innermost dimension
        gguf_part[name] = {"type": t.tensor_type.name, "rows": pick(values)}

    # transformers' own GGUF loader (what from_pretrained(dir, gguf_file=...) calls; used
    # directly because from_pretrained additionally wants `accelerate`, absent here).
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint
    try:
        sd = load_gguf_checkpoint(str(MODEL), return_tensors=True)["tensors"]
    except Exception:
        from transformers import AutoConfig, AutoModelForCausalLM
        config = AutoConfig.from_pretrained(str(MODEL.parent), gguf_file=MODEL.name)
        model = AutoModelForCausalLM.from_config(config)
        sd = load_gguf_checkpoint(str(MODEL), return_tensors=True, model_to_load=model)["tensors"]
    hf_part = {}
    for name in ["model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight",
                 "model.layers.17.self_attn.q_proj.weight", "model.layers.17.self_attn.k_proj.weight",
                 "model.layers.17.self_attn.v_proj.weight", "model.layers.17.mlp.down_proj.weight",
                 "model.embed_tokens.weight"]:
        hf_part[name] = {"rows": pick(np.asarray(sd[name], dtype=np.float32))}
    from transformers import AutoConfig, AutoModelForCausalLM
    config = AutoConfig.from_pretrained(str(MODEL.parent), gguf_file=MODEL.name)
    hf_part["num_parameters"] = int(AutoModelForCausalLM.from_config(config).num_parameters())
    versions = {p: importlib.metadata.version(p) for p in ["gguf", "transformers", "torch", "numpy"]}
    OUT.write_text(json.dumps({"versions": versions, "gguf": gguf_part, "hf": hf_part}, indent=1) + "\n")
    print(versions, "num_parameters", hf_part["num_parameters"])


if __name__ == "__main__":
    main()
