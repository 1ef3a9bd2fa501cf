#!/usr/bin/env python3
"""Reference perplexity of SmolLM2-135M-Instruct (Q4_1 GGUF, dequantised to float32 by
the gguf package, as transformers' GGUF loader does) on WikiText-2 raw test, DESIGN.md §4 protocol, seq 128.

    /work/goldens-venv/bin/python scripts/make-smollm2-reference.py [--chunks 64] [--full]

Writes Tests/TransformerTests/Fixtures/forward/smollm2-reference.json: the number of protocol tokens, the ids
of the evaluated chunks (so the Swift test can tell a tokenizer difference from a forward
difference), and the perplexity over the first N chunks (and over all chunks with --full).
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import transformers
import gguf
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
MODEL_DIR = os.path.join(ROOT, "models")
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DATA = os.path.join(ROOT, "..", "shared", "data")
OUT = os.path.join(ROOT, "Tests", "TransformerTests", "Fixtures", "forward", "smollm2-reference.json")


def wikitext_rows(path):
    """Rows = the file's lines, each keeping its trailing newline; a blank line is ''."""
    text = open(path, encoding="utf-8").read()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return ["" if line.strip() == "" else line + "\n" for line in lines]


def load_gguf_llama(path):
    """The GGUF's tensors dequantised to float32 by the `gguf` package (the dequantiser
    transformers' own GGUF loader calls), Q/K rows un-permuted from llama.cpp's layout,
    in a transformers LlamaForCausalLM."""
    import numpy as np
    from gguf import GGUFReader
    from gguf.quants import dequantize
    r = GGUFReader(path)
    def meta(key):
        f = r.fields[key]
        v = f.parts[f.data[0]]
        return v.tobytes().decode() if f.types[0] == gguf.GGUFValueType.STRING else v[0].item()
    heads, kv = meta("llama.attention.head_count"), meta("llama.attention.head_count_kv")
    cfg = LlamaConfig(vocab_size=len(r.fields["tokenizer.ggml.tokens"].data),
                      hidden_size=meta("llama.embedding_length"),
                      intermediate_size=meta("llama.feed_forward_length"),
                      num_hidden_layers=meta("llama.block_count"), num_attention_heads=heads,
                      num_key_value_heads=kv, max_position_embeddings=meta("llama.context_length"),
                      rms_norm_eps=meta("llama.attention.layer_norm_rms_epsilon"),
                      rope_theta=meta("llama.rope.freq_base"), tie_word_embeddings=True)
    def unpermute(w, n):
        return w.reshape(n, w.shape[0] // n // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)
    names = {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
             "output.weight": "lm_head.weight"}
    per_layer = {"attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
                 "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj",
                 "ffn_norm": "post_attention_layernorm", "ffn_gate": "mlp.gate_proj",
                 "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"}
    sd = {}
    for t in r.tensors:
        w = np.asarray(dequantize(t.data, t.tensor_type), dtype=np.float32).reshape(list(reversed(t.shape.tolist())))
        if t.name.startswith("blk."):
            _, i, kind, _ = t.name.split(".")
            if kind == "attn_q":
                w = unpermute(w, heads)
            elif kind == "attn_k":
                w = unpermute(w, kv)
            sd[f"model.layers.{i}.{per_layer[kind]}.weight"] = torch.from_numpy(w.copy())
        else:
            sd[names[t.name]] = torch.from_numpy(w.copy())
    if "lm_head.weight" in sd:
        cfg.tie_word_embeddings = False
    model = LlamaForCausalLM(cfg).eval().float()
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert not unexpected and all("lm_head" in m or "rotary" in m for m in missing), (missing, unexpected)
    model.tie_weights()
    return model


def nll_sum(model, chunks, batch=8):
    total, count = 0.0, 0
    with torch.inference_mode():
        for i in range(0, len(chunks), batch):
            x = torch.tensor(chunks[i:i + batch])
            logits = model(x, use_cache=False).logits.double()
            lp = torch.log_softmax(logits[:, :-1], dim=-1)
            nll = -lp.gather(-1, x[:, 1:, None]).squeeze(-1)
            total += nll.sum().item()
            count += nll.numel()
            print(f"\r{min(i + batch, len(chunks))}/{len(chunks)} chunks", end="", file=sys.stderr)
    print(file=sys.stderr)
    return total, count


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunks", type=int, default=64)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--full", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(2)
    tok = AutoTokenizer.from_pretrained(MODEL_DIR, gguf_file=GGUF)
    model = load_gguf_llama(os.path.join(MODEL_DIR, GGUF))
    text = "\n\n".join(wikitext_rows(os.path.join(DATA, "wikitext-2-raw", "wiki.test.raw")))
    ids = tok(text, add_special_tokens=False)["input_ids"]
    L = args.seq_len
    chunks = [ids[k * L:(k + 1) * L] for k in range(len(ids) // L)]
    t0 = time.time()
    total, count = nll_sum(model, chunks[:args.chunks])
    out = {
        "script": "scripts/make-smollm2-reference.py",
        "model": GGUF, "dataset": "wikitext-2-raw/wiki.test.raw", "protocol": "DESIGN.md §4",
        "torch": torch.__version__, "transformers": transformers.__version__,
        "protocol_tokens": len(ids), "sequence_length": L, "chunks": args.chunks,
        "mean_nll": total / count, "perplexity": math.exp(total / count),
        "chunk_ids": chunks[:args.chunks],
    }
    if args.full:
        total, count = nll_sum(model, chunks)
        out["full_chunks"] = len(chunks)
        out["full_perplexity"] = math.exp(total / count)
    print(f"first {args.chunks} chunks: ppl {out['perplexity']:.6f} ({time.time() - t0:.0f}s); "
          f"{len(ids)} tokens", file=sys.stderr)
    with open(OUT, "w") as f:
        json.dump(out, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
