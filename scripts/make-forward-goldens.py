#!/usr/bin/env python3
"""Builds the tiny forward-pass golden fixtures in Tests/TransformerTests/Fixtures/forward/.

Run with the goldens venv (torch, transformers, safetensors, gguf, numpy):

    /work/goldens-venv/bin/python scripts/make-forward-goldens.py

For each tiny random model it writes an HF folder <name>/ (config.json + model.safetensors,
float32) and <name>/golden.json with the input ids (a batch of sequences) and the logits
Hugging Face computes for them. The logits are computed in float64 from the very float32
weights that were saved, so the golden is the exact model output and the Swift float32
forward can be held to a tight relative tolerance.

Models (all parameters drawn at scale ~0.2-0.3, norms around 1, biases non-zero, so that
every part of the network visibly moves the logits):
  gpt2-tiny          GPT2LMHeadModel, 2 layers, hidden 32, 4 heads, tied head (GPT-2 always is)
  llama-gqa          LlamaForCausalLM, 2 layers, hidden 48, 6 query heads / 2 KV heads,
                     untied head, rope_theta 500
  llama-mha-tied     LlamaForCausalLM, 2 layers, hidden 32, 4 heads / 4 KV heads, tied head
  llama-gqa.gguf     the llama-gqa weights written as a GGUF F32 file the way llama.cpp's
                     converter writes them (Q and K rows permuted for llama.cpp's RoPE);
                     its golden is llama-gqa/golden.json.
Tool versions are recorded in versions.json.
"""
import json
import math
import os
import sys

import numpy as np
import torch
import transformers
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM
import gguf

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "Tests", "TransformerTests", "Fixtures", "forward")


def randomize(model, generator):
    """Every parameter random: norm weights near 1, everything else N(0, 0.25²)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=generator, dtype=torch.float32)
            if ("norm" in name or ".ln_" in name or name.startswith("transformer.ln_f")) and name.endswith("weight"):
                p.copy_(1.0 + 0.2 * noise)
            else:
                p.copy_(0.25 * noise)


def save(model, name, input_ids):
    folder = os.path.join(OUT, name)
    os.makedirs(folder, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    # save_pretrained may add generation_config.json; the fixture needs only the two files.
    gen = os.path.join(folder, "generation_config.json")
    if os.path.exists(gen):
        os.remove(gen)
    reference = model.to(torch.float64)
    with torch.no_grad():
        logits = reference(torch.tensor(input_ids)).logits
    golden = {
        "model": name,
        "input_ids": input_ids,
        "vocab_size": int(logits.shape[-1]),
        # logits[b][t][v], float64 from the saved float32 weights, rounded to 9 significant digits
        "logits": [[[float(f"{x:.9g}") for x in row] for row in seq] for seq in logits.tolist()],
    }
    with open(os.path.join(folder, "golden.json"), "w") as f:
        json.dump(golden, f, separators=(",", ":"))
    model.to(torch.float32)
    return folder


def llama_permute(w, heads):
    """llama.cpp's converter reorders each head's rows from HF's rotate-half layout to
    interleaved pairs: rows (2, d/2) → (d/2, 2) within each head."""
    rows = w.shape[0]
    return w.reshape(heads, 2, rows // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def bytes_to_unicode():
    """GPT-2's byte → printable-character table of byte-level BPE."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def write_gguf(model, config, path, byte_vocab=False):
    sd = {k: v.detach().to(torch.float32).numpy() for k, v in model.state_dict().items()}
    w = gguf.GGUFWriter(path, "llama")
    w.add_name("llama-gqa tiny golden")
    w.add_context_length(config.max_position_embeddings)
    w.add_embedding_length(config.hidden_size)
    w.add_block_count(config.num_hidden_layers)
    w.add_feed_forward_length(config.intermediate_size)
    w.add_head_count(config.num_attention_heads)
    w.add_head_count_kv(config.num_key_value_heads)
    w.add_rope_freq_base(config.rope_theta if hasattr(config, "rope_theta") else config.rope_parameters["rope_theta"])
    w.add_layer_norm_rms_eps(config.rms_norm_eps)
    w.add_rope_dimension_count(config.hidden_size // config.num_attention_heads)
    w.add_vocab_size(config.vocab_size)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    # A placeholder byte-level vocabulary so readers that expect tokenizer metadata find it.
    w.add_tokenizer_model("gpt2")
    if byte_vocab:
        # token id = byte value, no merges: text → one token per UTF-8 byte
        table = bytes_to_unicode()
        w.add_tokenizer_pre("gpt2")
        w.add_token_list([table[b] for b in range(256)])
    else:
        w.add_token_list([f"<t{i}>" for i in range(config.vocab_size)])
    w.add_token_types([1] * config.vocab_size)
    w.add_token_merges([])
    w.add_bos_token_id(0)
    w.add_eos_token_id(1)
    heads, kv = config.num_attention_heads, config.num_key_value_heads
    w.add_tensor("token_embd.weight", sd["model.embed_tokens.weight"])
    for i in range(config.num_hidden_layers):
        p = f"model.layers.{i}."
        w.add_tensor(f"blk.{i}.attn_norm.weight", sd[p + "input_layernorm.weight"])
        w.add_tensor(f"blk.{i}.attn_q.weight", llama_permute(sd[p + "self_attn.q_proj.weight"], heads))
        w.add_tensor(f"blk.{i}.attn_k.weight", llama_permute(sd[p + "self_attn.k_proj.weight"], kv))
        w.add_tensor(f"blk.{i}.attn_v.weight", sd[p + "self_attn.v_proj.weight"])
        w.add_tensor(f"blk.{i}.attn_output.weight", sd[p + "self_attn.o_proj.weight"])
        w.add_tensor(f"blk.{i}.ffn_norm.weight", sd[p + "post_attention_layernorm.weight"])
        w.add_tensor(f"blk.{i}.ffn_gate.weight", sd[p + "mlp.gate_proj.weight"])
        w.add_tensor(f"blk.{i}.ffn_up.weight", sd[p + "mlp.up_proj.weight"])
        w.add_tensor(f"blk.{i}.ffn_down.weight", sd[p + "mlp.down_proj.weight"])
    w.add_tensor("output_norm.weight", sd["model.norm.weight"])
    if not config.tie_word_embeddings:
        w.add_tensor("output.weight", sd["lm_head.weight"])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    os.makedirs(OUT, exist_ok=True)
    g = torch.Generator().manual_seed(20240727)
    rng = np.random.default_rng(7)

    # gpt2-tiny
    cfg = GPT2Config(vocab_size=80, n_positions=32, n_embd=32, n_layer=2, n_head=4,
                     activation_function="gelu_new", layer_norm_epsilon=1e-5,
                     resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                     bos_token_id=0, eos_token_id=1)
    m = GPT2LMHeadModel(cfg).eval()
    randomize(m, g)
    ids = rng.integers(0, cfg.vocab_size, size=(2, 9)).tolist()
    save(m, "gpt2-tiny", ids)

    # llama-gqa (6 query heads share 2 KV heads, untied, non-default rope_theta)
    cfg = LlamaConfig(vocab_size=96, hidden_size=48, intermediate_size=40, num_hidden_layers=2,
                      num_attention_heads=6, num_key_value_heads=2, max_position_embeddings=64,
                      rms_norm_eps=1e-5, rope_theta=500.0, tie_word_embeddings=False,
                      attention_bias=False, mlp_bias=False, hidden_act="silu")
    m = LlamaForCausalLM(cfg).eval()
    randomize(m, g)
    ids = rng.integers(0, cfg.vocab_size, size=(3, 11)).tolist()
    save(m, "llama-gqa", ids)
    write_gguf(m, cfg, os.path.join(OUT, "llama-gqa.gguf"))

    # llama-mha-tied (4 heads, 4 KV heads, tied head)
    cfg = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=56, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=64,
                      rms_norm_eps=1e-6, rope_theta=10000.0, tie_word_embeddings=True,
                      hidden_act="silu")
    m = LlamaForCausalLM(cfg).eval()
    randomize(m, g)
    m.tie_weights()
    ids = rng.integers(0, cfg.vocab_size, size=(2, 10)).tolist()
    save(m, "llama-mha-tied", ids)

    # llama-bytes.gguf: a tiny llama with a byte-level vocabulary (256 tokens, no merges) for
    # the CLI end-to-end tests: text → one token per byte. bytes-golden.json holds the
    # perplexity of eval-sample.txt (DESIGN.md §4, --format text, seq 16) and the greedy
    # continuation of a prompt, both from HF in float64.
    cfg = LlamaConfig(vocab_size=256, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                      rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False, hidden_act="silu")
    m = LlamaForCausalLM(cfg).eval()
    randomize(m, g)
    write_gguf(m, cfg, os.path.join(OUT, "llama-bytes.gguf"), byte_vocab=True)
    sample = ("The quick brown fox jumps over the lazy dog. " * 3 + "Pare prunes small language models.\n") * 2
    with open(os.path.join(OUT, "eval-sample.txt"), "w") as f:
        f.write(sample)
    data = list(sample.encode("utf-8"))
    L = 16
    chunks = [data[k * L:(k + 1) * L] for k in range(len(data) // L)]
    ref = m.to(torch.float64)
    with torch.no_grad():
        x = torch.tensor(chunks)
        lp = torch.log_softmax(ref(x).logits[:, :-1], dim=-1)
        nll = -lp.gather(-1, x[:, 1:, None]).mean().item()
        prompt = list("Hello".encode())
        seq = prompt[:]
        for _ in range(8):
            seq.append(int(ref(torch.tensor([seq])).logits[0, -1].argmax()))
    with open(os.path.join(OUT, "bytes-golden.json"), "w") as f:
        json.dump({"dataset": "eval-sample.txt", "format": "text", "sequence_length": L,
                   "chunks": len(chunks), "tokens": len(chunks) * L, "dataset_tokens": len(data),
                   "perplexity": math.exp(nll), "greedy_prompt": "Hello",
                   "greedy_ids": seq[len(prompt):]}, f, indent=1)

    with open(os.path.join(OUT, "versions.json"), "w") as f:
        json.dump({"script": "scripts/make-forward-goldens.py", "python": sys.version.split()[0],
                   "torch": torch.__version__, "transformers": transformers.__version__,
                   "gguf": getattr(gguf, "__version__", "unknown"), "numpy": np.__version__},
                  f, indent=1)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
