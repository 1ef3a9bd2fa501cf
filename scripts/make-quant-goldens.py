#!/usr/bin/env python3
"""Golden ggml blocks for Pare's quantisers (Sources/Transformer/Files/Quantize.swift).

Q8_0, Q4_0, Q4_1, Q5_0: the `gguf` Python package's quantisers (llama.cpp's gguf-py, written
to be bit-exact with ggml-quants.c's reference quantisers). Q4_K, Q6_K: llama.cpp's own
`llama-quantize --pure` (the C reference quantisers, no importance matrix) run on a small F32
llama GGUF holding the same values, when a llama.cpp build is found (LLAMA_CPP_BIN or
${PARE_CACHE:-~/.cache/pare}/llama.cpp/bin); otherwise those types are left out and the
Swift test says so.

Input: 8 blocks of 256 float32 values with awkward cases (zeros, one outlier, all positive,
all negative, half-way values, large and tiny scales), stored as float32 bit patterns.
Output: Tests/TransformerTests/Fixtures/files/quant-goldens.json.

Run: GGUF_PY=<llama.cpp>/gguf-py /work/venvs/lmeval/bin/python scripts/make-quant-goldens.py
(gguf-py from the llama_cpp_python sdist's vendor/llama.cpp/gguf-py; numpy needed).
"""
import json, os, subprocess, sys, tempfile

import numpy as np

sys.path.insert(0, os.environ["GGUF_PY"])
import gguf  # noqa: E402
from gguf import GGMLQuantizationType as T  # noqa: E402
from gguf.quants import quantize  # noqa: E402

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out_path = os.path.join(root, "Tests/TransformerTests/Fixtures/files/quant-goldens.json")

rng = np.random.default_rng(13)
blocks = [
    rng.standard_normal(256),
    rng.uniform(-1e-3, 1e-3, 256),
    np.where(np.arange(256) == 77, 9.5, rng.standard_normal(256) * 0.01),
    np.zeros(256),
    rng.uniform(0.5, 2.0, 256),
    -rng.uniform(0.1, 3.0, 256),
    np.round(rng.standard_normal(256) * 4) / 8 + 1 / 16,
    rng.standard_normal(256) * 1e3,
]
x = np.concatenate(blocks).astype(np.float32)
golden = {"input_bits": x.view(np.uint32).tolist(), "types": {}, "sources": {}}
for t in [T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0]:
    golden["types"][t.name] = bytes(quantize(x.reshape(8, 256), t)).hex()
    golden["sources"][t.name] = "gguf-py " + getattr(gguf, "__version__", "vendored")

bin_dir = os.environ.get("LLAMA_CPP_BIN") or os.path.join(
    os.environ.get("PARE_CACHE", os.path.expanduser("~/.cache/pare")), "llama.cpp/bin")
quantizer = os.path.join(bin_dir, "llama-quantize")
if os.path.exists(quantizer):
    with tempfile.TemporaryDirectory() as tmp:
        # A minimal llama model (1 layer, hidden 256) whose ffn_up rows 0..<8 are the input.
        src = os.path.join(tmp, "f32.gguf")
        w = gguf.GGUFWriter(src, "llama")
        w.add_block_count(1); w.add_context_length(64); w.add_embedding_length(256)
        w.add_feed_forward_length(256); w.add_head_count(4); w.add_head_count_kv(4)
        w.add_layer_norm_rms_eps(1e-5); w.add_rope_dimension_count(64); w.add_vocab_size(8)
        w.add_tokenizer_model("gpt2"); w.add_tokenizer_pre("gpt-2")
        w.add_token_list([chr(ord("a") + i) for i in range(8)]); w.add_token_types([1] * 8); w.add_token_merges([])
        fill = lambda *shape: (rng.standard_normal(shape) * 0.05).astype(np.float32)
        w.add_tensor("token_embd.weight", fill(8, 256))
        w.add_tensor("output_norm.weight", np.ones(256, np.float32))
        w.add_tensor("blk.0.attn_norm.weight", np.ones(256, np.float32))
        w.add_tensor("blk.0.ffn_norm.weight", np.ones(256, np.float32))
        for n in ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_down"]:
            w.add_tensor(f"blk.0.{n}.weight", fill(256, 256))
        up = fill(256, 256); up[:8] = x.reshape(8, 256)
        w.add_tensor("blk.0.ffn_up.weight", up)
        w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
        for name in ["Q4_K", "Q6_K"]:
            dst = os.path.join(tmp, name + ".gguf")
            subprocess.run([quantizer, "--pure", src, dst, name], check=True, capture_output=True)
            r = gguf.GGUFReader(dst)
            t = next(t for t in r.tensors if t.name == "blk.0.ffn_up.weight")
            assert t.tensor_type.name == name, t.tensor_type
            block_bytes = {"Q4_K": 144, "Q6_K": 210}[name]
            golden["types"][name] = bytes(np.asarray(t.data).reshape(-1)[: 8 * block_bytes]).hex()
            golden["sources"][name] = "llama-quantize --pure (llama_cpp_python 0.3.36's llama.cpp)"
else:
    print("note: no llama-quantize at", quantizer, "- Q4_K and Q6_K goldens left out", file=sys.stderr)

with open(out_path, "w") as f:
    json.dump(golden, f)
print("wrote", out_path, sorted(golden["types"]))
