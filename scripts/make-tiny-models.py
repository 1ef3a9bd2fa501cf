#!/usr/bin/env python3
"""Tiny random models for the file-format tests (Tests/TransformerTests/Fixtures/files/).

  tiny-llama/          LlamaForCausalLM (hidden 32, 4 heads, 2 KV heads, MLP 64, 2 layers,
                       vocab 64, untied head) saved by transformers, F32 safetensors
  tiny-llama-sharded/  the same model saved in several shards with model.safetensors.index.json
  tiny-llama.gguf      the same weights as a GGUF (gguf package writer, llama.* metadata,
                       F32), Q/K rows permuted as llama.cpp's converter does
  tiny-gpt2/           GPT2LMHeadModel (hidden 32, 4 heads, 2 layers, 64 positions, vocab 96,
                       tied head) saved by transformers, F32 safetensors
  tiny-goldens.json    reference facts computed by transformers: parameter counts, and the
                       first rows of GPT-2's query / MLP-up weights in (out × in) form

Run: /work/goldens-venv/bin/python scripts/make-tiny-models.py
"""
import importlib.metadata
import json
import pathlib
import shutil

import gguf
import numpy as np
import torch
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

THETA = 50000.0
OUT = pathlib.Path(__file__).resolve().parent.parent / "Tests/TransformerTests/Fixtures/files"


def permute_for_llama_cpp(w, n_head):
    """llama.cpp's converter order: within each head, rows [x | y] become interleaved pairs."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def save(model, folder, **kwargs):
    path = OUT / folder
    shutil.rmtree(path, ignore_errors=True)
    model.save_pretrained(str(path), safe_serialization=True, **kwargs)
    for extra in path.iterdir():
        if extra.name == "generation_config.json":
            extra.unlink()


def main():
    torch.manual_seed(0)
    lc = LlamaConfig(hidden_size=32, num_attention_heads=4, num_key_value_heads=2, intermediate_size=64,
                     num_hidden_layers=2, vocab_size=64, max_position_embeddings=128, rms_norm_eps=1e-5,
                     rope_theta=THETA, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2)
    llama = LlamaForCausalLM(lc).float().eval()
    with torch.no_grad():  # norms away from 1 so a wrong mapping shows
        for name, p in llama.named_parameters():
            if "norm" in name:
                p.copy_(1 + 0.1 * torch.randn_like(p))
    save(llama, "tiny-llama")
    save(llama, "tiny-llama-sharded", max_shard_size="40KB")

    sd = {k: v.detach().numpy().astype(np.float32) for k, v in llama.state_dict().items()}
    w = gguf.GGUFWriter(str(OUT / "tiny-llama.gguf"), arch="llama")
    w.add_block_count(lc.num_hidden_layers)
    w.add_context_length(lc.max_position_embeddings)
    w.add_embedding_length(lc.hidden_size)
    w.add_feed_forward_length(lc.intermediate_size)
    w.add_head_count(lc.num_attention_heads)
    w.add_head_count_kv(lc.num_key_value_heads)
    w.add_rope_freq_base(THETA)
    w.add_layer_norm_rms_eps(lc.rms_norm_eps)
    w.add_vocab_size(lc.vocab_size)
    w.add_rope_dimension_count(lc.hidden_size // lc.num_attention_heads)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_tensor("token_embd.weight", sd["model.embed_tokens.weight"])
    for l in range(lc.num_hidden_layers):
        p = f"model.layers.{l}."
        w.add_tensor(f"blk.{l}.attn_norm.weight", sd[p + "input_layernorm.weight"])
        w.add_tensor(f"blk.{l}.attn_q.weight", permute_for_llama_cpp(sd[p + "self_attn.q_proj.weight"], lc.num_attention_heads))
        w.add_tensor(f"blk.{l}.attn_k.weight", permute_for_llama_cpp(sd[p + "self_attn.k_proj.weight"], lc.num_key_value_heads))
        w.add_tensor(f"blk.{l}.attn_v.weight", sd[p + "self_attn.v_proj.weight"])
        w.add_tensor(f"blk.{l}.attn_output.weight", sd[p + "self_attn.o_proj.weight"])
        w.add_tensor(f"blk.{l}.ffn_norm.weight", sd[p + "post_attention_layernorm.weight"])
        w.add_tensor(f"blk.{l}.ffn_gate.weight", sd[p + "mlp.gate_proj.weight"])
        w.add_tensor(f"blk.{l}.ffn_up.weight", sd[p + "mlp.up_proj.weight"])
        w.add_tensor(f"blk.{l}.ffn_down.weight", sd[p + "mlp.down_proj.weight"])
    w.add_tensor("output_norm.weight", sd["model.norm.weight"])
    w.add_tensor("output.weight", sd["lm_head.weight"])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    torch.manual_seed(1)
    gc = GPT2Config(n_embd=32, n_head=4, n_layer=2, n_positions=64, vocab_size=96, bos_token_id=0, eos_token_id=0)
    gpt2 = GPT2LMHeadModel(gc).float().eval()
    with torch.no_grad():  # non-zero biases and non-trivial LayerNorms so a wrong mapping shows
        for name, p in gpt2.named_parameters():
            if name.endswith("bias"):
                p.copy_(0.1 * torch.randn_like(p))
            elif ".ln_" in name or "ln_f" in name:
                p.copy_(1 + 0.1 * torch.randn_like(p))
    save(gpt2, "tiny-gpt2")
    h = gc.n_embd
    attn = gpt2.transformer.h[1].attn.c_attn
    goldens = {
        "versions": {p: importlib.metadata.version(p) for p in ["gguf", "transformers", "torch", "numpy"]},
        "llama_parameters": int(llama.num_parameters()),
        "gpt2_parameters": int(gpt2.num_parameters()),
        # HF Conv1D computes x @ W + b with W (in × out): output unit j reads column j.
        "gpt2_layer1_key_row3": [float(v) for v in attn.weight[:, h + 3].detach()],
        "gpt2_layer1_key_bias": [float(v) for v in attn.bias[h:2 * h].detach()],
        "gpt2_layer0_up_row5": [float(v) for v in gpt2.transformer.h[0].mlp.c_fc.weight[:, 5].detach()],
        "gpt2_layer0_down_row2": [float(v) for v in gpt2.transformer.h[0].mlp.c_proj.weight[:, 2].detach()],
    }
    (OUT / "tiny-goldens.json").write_text(json.dumps(goldens, indent=1) + "\n")
    print(goldens["versions"], goldens["llama_parameters"], goldens["gpt2_parameters"])


if __name__ == "__main__":
    main()
