#!/usr/bin/env python3
"""Runs the peers' ORIGINAL pruning code (FLAP and wanda-sp, both in the FLAP repository,
github.com/CASIA-IVA-Lab/FLAP) on a Hugging Face llama folder and writes the pruned model in
Pare's own folder format, so `pare eval` measures it with Pare's protocol (issue 14).

Nothing of FLAP is copied here: the script imports FLAP's `lib/layerwrapper.py` and
`lib/prune.py` from a checkout given on the command line and runs `prune_flap` /
`prune_wanda_sp` as they are, after a few textual substitutions made in memory at load time
(the checkout stays untouched; each substitution is asserted to match the expected number of
times, so a different FLAP revision fails loudly instead of silently running other code):

  - CPU: `W_metric.cuda()` becomes `W_metric` (FLAP sorts its scores on the GPU).
  - head width: FLAP hard-codes LLaMA's head dimension 128 (`reshape(-1, 128)`,
    `repeat_interleave(128)`, `retain_heads * 128`); it becomes the model's `head_dim`.
  - data: `get_loaders` (which downloads WikiText-2 / C4 from the Hugging Face hub) is
    replaced by Pare's calibration windows (below). FLAP's own sampler draws 128 windows with
    Python's `random.seed(0)` from the HF `wikitext-2-raw-v1` train split; ORIGINAL wanda-sp
    calibrates on C4. Both get the same WikiText-2 windows here, for the same data as Pare.
  - how many units a layer loses: FLAP's `int(pruning_ratio * num_heads)` and
    `int(numel * pruning_ratio)` (UL-UM structure) become per-layer functions. By default
    they compute exactly FLAP's expressions from `--pruning-ratio`; `--keep-heads/--keep-channels`
    (with `--dense-layers`) give another structure, e.g. Pare's default with dense edges.
  - precision: FLAP runs in float16 on a GPU; here float32 on the CPU. FLAP stores each
    module's input mean in half precision (`baseline_inp.type(torch.half)`) before the bias
    compensation; that rounding is kept (the value is cast back to float32 so the float32
    matmul accepts it).

The model is the stock `transformers` LlamaForCausalLM (FLAP ships a copy of an old
modeling_llama.py that adds biases to o_proj and down_proj; here those two biases are added
to the stock model, zero-initialised as FLAP's main.py does). transformers 5 decoder layers
need the rotary `position_embeddings` that FLAP's layer-by-layer calls do not pass; each
layer computes them from `position_ids` when they are missing.

Calibration windows: Pare's own (`pare prune --calibration FILE --format wikitext --samples N
--seq-len L --seed S`): the file joined as Pare's `wikitext` format does, tokenized by
`pare tokenize`, N windows of L consecutive tokens at starts `SplitMix64(seed).next() %
(tokens − L + 1)`, drawn in order. So FLAP's statistics and Pare's come from the same tokens.

Output (`--out DIR`, written to DIR.tmp then renamed): config.json (the source's, plus Pare's
`"pare"` block of per-layer sizes and kept original head / channel indices), model.safetensors
(float32; o_proj and down_proj carry FLAP's compensation biases), tokenizer files, and
`choices.json` (per layer: removed heads and channels in original indices, the bias norms),
and for flap `metric.npz` (FLAP's per-column metric, e.g. WIFV, of every layer's o_proj and
down_proj inputs, before FLAP squares and sums the attention columns per head).
`--verify-chunks K` evaluates the torch model's perplexity on the first K chunks of
`--verify-dataset` with Pare's protocol and prints it, to compare with `pare eval OUT
--max-chunks K` (the conversion check).

Setup (throwaway venv outside the repository; CPU torch):
  python3 -m venv /work/venvs/flap
  /work/venvs/flap/bin/pip install torch --index-url https://download.pytorch.org/whl/cpu
  /work/venvs/flap/bin/pip install transformers safetensors numpy tqdm
  (or reuse a venv with torch 2.x + transformers 5.x, e.g. /work/venvs/lmeval)
  FLAP's code: any checkout of github.com/CASIA-IVA-Lab/FLAP (tested at 3bb57db), e.g.
  /work/flap-src; `datasets` is not needed (get_loaders is replaced).
Run (from the repository root, after `swift build -c release`):
  /work/venvs/lmeval/bin/python scripts/flap-original.py --flap-src /work/flap-src \\
      --model /tmp/smol-mha --method flap --pruning-ratio 0.5 --out /tmp/flap-orig-50 \\
      --calibration ../shared/data/wikitext-2-tokenized/wiki.train.tokens --verify-chunks 4
  .build/release/pare eval /tmp/flap-orig-50 --dataset ../shared/data/wikitext-2-raw/wiki.test.raw \\
      --format wikitext --max-chunks 256
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import types

import numpy as np
import torch
import torch.nn as nn

MASK64 = (1 << 64) - 1


def splitmix64(seed):
    """Pare's SplitMix64 (Sources/LinearAlgebra/SplitMix64.swift)."""
    state = seed & MASK64
    while True:
        state = (state + 0x9E3779B97F4A7C15) & MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        yield z ^ (z >> 31)


def is_blank(line):
    # Python's str.isspace() set, as Pare's EvaluationText; the empty line is blank too.
    return line.strip() == "" and all(c.isspace() or 0x1C <= ord(c) <= 0x1F for c in line)


def join_dataset(text, fmt):
    """Pare's EvaluationText.join: rows joined with "\\n\\n"."""
    if fmt == "text":
        return text
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if fmt == "wikitext":
        return "\n\n".join("" if is_blank(l) else l + "\n" for l in lines)
    if fmt == "ptb":
        return "\n\n".join(l.strip() for l in lines)
    raise ValueError(fmt)


def pare_tokens(pare, model, path, fmt, cache_dir):
    """Token ids of a dataset file joined as Pare joins it, from `pare tokenize` (cached)."""
    st = os.stat(path)
    key = f"{os.path.basename(path)}.{fmt}.{st.st_size}.{int(st.st_mtime)}.npy"
    cached = os.path.join(cache_dir, key)
    if os.path.exists(cached):
        return np.load(cached)
    with open(path, encoding="utf-8") as f:
        joined = join_dataset(f.read(), fmt)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt", delete=False) as f:
        f.write(joined)
        tmp = f.name
    try:
        out = subprocess.run([pare, "tokenize", model, "--file", tmp, "--json"], check=True,
                             capture_output=True, text=True).stdout
    finally:
        os.unlink(tmp)
    ids = np.array(json.loads(out)["ids"], dtype=np.int64)
    os.makedirs(cache_dir, exist_ok=True)
    np.save(cached, ids)
    return ids


def pare_windows(tokens, count, length, seed):
    """Pare's Calibration.windows: starts drawn with replacement from SplitMix64(seed)."""
    starts = len(tokens) - length + 1
    rng = splitmix64(seed)
    return [tokens[s:s + length] for s in (next(rng) % starts for _ in range(count))]


def flap_windows(tokens, count, length, seed):
    """FLAP's own sampler (its lib/data.py), on the same token stream: Python's random.seed(seed),
    starts random.randint(0, tokens − length − 1)."""
    import random
    random.seed(seed)
    return [tokens[s:s + length] for s in (random.randint(0, len(tokens) - length - 1) for _ in range(count))]


def load_flap(flap_src, head_dim, loaders, cuts, unsquared_heads=False):
    """FLAP's lib.layerwrapper as it is and lib.prune with the substitutions of the docstring."""
    lib = types.ModuleType("lib")
    lib.__path__ = [os.path.join(flap_src, "lib")]
    sys.modules["lib"] = lib

    def module(name, source, extra):
        m = types.ModuleType(f"lib.{name}")
        m.__file__ = os.path.join(flap_src, "lib", f"{name}.py")
        m.__package__ = "lib"
        m.__dict__.update(extra)
        sys.modules[m.__name__] = m
        exec(compile(source, m.__file__, "exec"), m.__dict__)
        setattr(lib, name, m)
        return m

    with open(os.path.join(flap_src, "lib", "layerwrapper.py")) as f:
        module("layerwrapper", f.read(), {})
    with open(os.path.join(flap_src, "lib", "prune.py")) as f:
        source = f.read()
    substitutions = [
        # (old, new, expected count)
        ("from .data import get_loaders", "get_loaders = _PARE_LOADERS", 1),
        ("W_metric.cuda()", "W_metric", 8),
        ("reshape(-1, 128)", "reshape(-1, _HEAD_DIM)", 4),
        ("repeat_interleave(128)", "repeat_interleave(_HEAD_DIM)", 2),
        ("retain_heads * 128", "retain_heads * _HEAD_DIM", 1),
        ("baseline_inp.type(torch.half)", "baseline_inp.type(torch.half).type(torch.float32)", 2),
        ("int(args.pruning_ratio*layer.self_attn.num_heads)", "_HEADS_CUT(args, i, layer.self_attn.num_heads)", 3),
        ("int(W_metric.numel()*args.pruning_ratio)", "_CHANNELS_CUT(args, i, W_metric.numel())", 3),
    ]
    if unsquared_heads:  # an ablation, not FLAP: sum a head's column metrics without squaring them
        substitutions.append(("W_metric = metrics[args.metrics](wrapped_layers, subset, name) ** 2",
                              "W_metric = metrics[args.metrics](wrapped_layers, subset, name)", 1))
    for old, new, count in substitutions:
        found = source.count(old)
        if found != count:
            sys.exit(f"error: FLAP's lib/prune.py has {found} × {old!r}, expected {count}: another revision?")
        source = source.replace(old, new)
    return module("prune", source, {"_PARE_LOADERS": loaders, "_HEAD_DIM": head_dim,
                                    "_HEADS_CUT": cuts[0], "_CHANNELS_CUT": cuts[1]})


def build_model(path):
    from transformers import LlamaForCausalLM
    model = LlamaForCausalLM.from_pretrained(path, dtype=torch.float32)
    model.eval()
    rotary = model.model.rotary_emb
    for layer in model.model.layers:
        attn, mlp = layer.self_attn, layer.mlp
        for parent, name in ((attn, "o_proj"), (mlp, "down_proj")):
            old = getattr(parent, name)
            new = nn.Linear(old.in_features, old.out_features, bias=True)
            new.weight.data = old.weight.data
            nn.init.zeros_(new.bias)
            setattr(parent, name, new)
        attn.num_heads = model.config.num_attention_heads  # FLAP reads it; transformers 5 has no such attribute

        base = type(layer)

        class WithRotary(base):  # FLAP calls layers without position_embeddings
            def forward(self, hidden_states, attention_mask=None, position_ids=None, position_embeddings=None, **kw):
                if position_embeddings is None:
                    if position_ids is None:
                        position_ids = torch.arange(hidden_states.shape[1]).unsqueeze(0)
                    position_embeddings = rotary(hidden_states, position_ids)
                return base.forward(self, hidden_states, attention_mask=attention_mask, position_ids=position_ids,
                                    position_embeddings=position_embeddings, **kw)

        layer.__class__ = WithRotary
    return model


@torch.no_grad()
def perplexity(model, tokens, seq_len, chunks):
    """Pare's protocol: non-overlapping chunks, no BOS, NLL over the L−1 predicted positions."""
    total, count = 0.0, 0
    for c in range(chunks):
        ids = torch.as_tensor(tokens[c * seq_len:(c + 1) * seq_len]).unsqueeze(0)
        logits = model(ids).logits[0, :-1].double()
        nll = torch.nn.functional.cross_entropy(logits, ids[0, 1:], reduction="sum")
        total += nll.item()
        count += seq_len - 1
    return float(np.exp(total / count))


def write_pare_folder(model, source, out, heads_kept, channels_kept, choices):
    from safetensors.torch import save_file
    from safetensors import safe_open
    with safe_open(os.path.join(source, "model.safetensors"), "pt") as f:
        names = list(f.keys())
    state = model.state_dict()
    tensors = {}
    for name in names:
        tensors[name] = state[name].detach().to(torch.float32).contiguous()
    for i in range(len(model.model.layers)):
        for b in ("self_attn.o_proj.bias", "mlp.down_proj.bias"):
            name = f"model.layers.{i}.{b}"
            tensors[name] = state[name].detach().to(torch.float32).contiguous()
    with open(os.path.join(source, "config.json")) as f:
        config = json.load(f)
    if config.get("num_key_value_heads", config["num_attention_heads"]) != config["num_attention_heads"]:
        sys.exit("error: FLAP's code prunes MHA models; write an MHA copy first (scripts/make-mha-copy.py)")
    layers = []
    for heads, channels in zip(heads_kept, channels_kept):
        layers.append({"key_value_head_of_query": list(range(len(heads))), "key_value_head_count": len(heads),
                       "intermediate_size": len(channels), "original_query_heads": heads,
                       "original_channels": channels})
    config["pare"] = {"format_version": 1, "layers": layers}
    tmp = out + ".tmp"
    if os.path.exists(tmp):
        shutil.rmtree(tmp)
    shutil.copytree(source, tmp, ignore=shutil.ignore_patterns("model.safetensors", "config.json", "*.tmp"))
    save_file(tensors, os.path.join(tmp, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(tmp, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(tmp, "choices.json"), "w") as f:
        json.dump(choices, f)
    os.rename(tmp, out)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--flap-src", required=True, help="checkout of github.com/CASIA-IVA-Lab/FLAP")
    p.add_argument("--model", required=True, help="HF llama folder with num_key_value_heads = num_attention_heads")
    p.add_argument("--out", required=True)
    p.add_argument("--method", choices=["flap", "wanda_sp"], required=True)
    p.add_argument("--pruning-ratio", type=float, default=None, help="FLAP's --pruning_ratio (UL-UM: int(r·heads), int(r·channels) per layer)")
    p.add_argument("--keep-heads", type=int, default=None, help="instead of the ratio: heads kept per pruned layer")
    p.add_argument("--keep-channels", type=int, default=None, help="instead of the ratio: MLP channels kept per pruned layer")
    p.add_argument("--dense-layers", default="", help="comma-separated layers left dense with --keep-*")
    p.add_argument("--metrics", default="WIFV", choices=["IFV", "WIFV", "WIFN"], help="FLAP's metric (flap only)")
    p.add_argument("--unsquared-heads", action="store_true",
                   help="ablation (not FLAP): a head's score sums its columns' metrics without FLAP's square")
    p.add_argument("--calibration", required=True, help="calibration text file")
    p.add_argument("--format", default="wikitext", choices=["wikitext", "ptb", "text"])
    p.add_argument("--samples", type=int, default=128)
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sampler", default="pare", choices=["pare", "flap"],
                   help="window starts: Pare's SplitMix64 (default) or FLAP's random.randint, on the same tokens")
    p.add_argument("--pare", default=".build/release/pare", help="the pare binary (for `pare tokenize`)")
    p.add_argument("--cache", default=os.path.expanduser("~/.cache/pare/flap-original"), help="token id cache")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--verify-chunks", type=int, default=0)
    p.add_argument("--verify-dataset", default="../shared/data/wikitext-2-raw/wiki.test.raw")
    p.add_argument("--verify-format", default="wikitext")
    a = p.parse_args()
    if (a.pruning_ratio is None) == (a.keep_heads is None and a.keep_channels is None):
        p.error("give --pruning-ratio, or --keep-heads/--keep-channels")
    if os.path.exists(a.out):
        sys.exit(f"error: {a.out} exists")
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)

    with open(os.path.join(a.model, "config.json")) as f:
        cfg = json.load(f)
    heads, inner, n_layers = cfg["num_attention_heads"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    head_dim = cfg.get("head_dim") or cfg["hidden_size"] // heads
    dense = {int(x) for x in a.dense_layers.split(",") if x.strip()}

    def heads_cut(args, i, num_heads):
        if a.pruning_ratio is not None:
            return int(args.pruning_ratio * num_heads)  # FLAP's expression
        return 0 if i in dense or a.keep_heads is None else num_heads - a.keep_heads

    def channels_cut(args, i, numel):
        if a.pruning_ratio is not None:
            return int(numel * args.pruning_ratio)  # FLAP's expression
        return 0 if i in dense or a.keep_channels is None else numel - a.keep_channels

    tokens = pare_tokens(a.pare, a.model, a.calibration, a.format, a.cache)
    windows = (pare_windows if a.sampler == "pare" else flap_windows)(tokens, a.samples, a.seq_len, a.seed)
    print(f"calibration: {len(windows)} windows of {a.seq_len} tokens from {len(tokens)} tokens "
          f"(first starts with ids {windows[0][:4].tolist()})", flush=True)

    def loaders(name, nsamples=128, seed=0, seqlen=128, tokenizer=None):
        assert nsamples <= len(windows) and seqlen == a.seq_len, (nsamples, seqlen)
        return [(torch.as_tensor(w).unsqueeze(0), None) for w in windows[:nsamples]], None

    flap = load_flap(a.flap_src, head_dim, loaders, (heads_cut, channels_cut), a.unsquared_heads)
    model = build_model(a.model)
    model.seqlen = a.seq_len
    index_of = {id(l): i for i, l in enumerate(model.model.layers)}

    # Record the masks compress() applies (original indices), then let it do its work.
    masks = {i: {} for i in range(n_layers)}
    original_compress = flap.compress

    def recording_compress(layer, attn_mask, mlp_mask, *rest, **kw):
        i = index_of[id(layer)]
        if attn_mask is not None:
            masks[i]["heads"] = attn_mask.clone().bool()
        if mlp_mask is not None:
            masks[i]["channels"] = mlp_mask.clone().bool()
        return original_compress(layer, attn_mask, mlp_mask, *rest, **kw)

    flap.compress = recording_compress

    # Record FLAP's per-column metric (before its head squaring / summing) for the analysis.
    recorded = {"attention": [], "mlp": []}
    if a.method == "flap":
        metric = flap.metrics[a.metrics]

        def recording_metric(wrapped_layers, subset, name):
            value = metric(wrapped_layers, subset, name)
            recorded["attention" if name == "self_attn.o_proj" else "mlp"].append(value.detach().double().numpy().copy())
            return value

        flap.metrics[a.metrics] = recording_metric
    args = argparse.Namespace(nsamples=a.samples, seed=a.seed, pruning_ratio=a.pruning_ratio or 0.0,
                              metrics=a.metrics, structure="UL-UM", prune_method=a.method, unstr=False,
                              remove_heads=-1)
    device = torch.device("cpu")
    if a.method == "flap":
        flap.prune_flap(args, model, None, device)
    else:
        flap.prune_wanda_sp(args, model, None, device)

    heads_kept, channels_kept, choices = [], [], []
    for i, layer in enumerate(model.model.layers):
        hm = masks[i].get("heads", torch.ones(heads, dtype=torch.bool))
        cm = masks[i].get("channels", torch.ones(inner, dtype=torch.bool))
        h = torch.where(hm)[0].tolist()
        c = torch.where(cm)[0].tolist()
        assert layer.self_attn.q_proj.weight.shape[0] == len(h) * head_dim, (i, layer.self_attn.q_proj.weight.shape)
        assert layer.mlp.down_proj.weight.shape[1] == len(c), (i, layer.mlp.down_proj.weight.shape)
        heads_kept.append(h)
        channels_kept.append(c)
        choices.append({"layer": i, "removed_heads": torch.where(~hm)[0].tolist(),
                        "removed_channels": torch.where(~cm)[0].tolist(),
                        "o_proj_bias_norm": float(layer.self_attn.o_proj.bias.detach().norm()),
                        "down_proj_bias_norm": float(layer.mlp.down_proj.bias.detach().norm())})
        print(f"layer {i}: {len(h)}/{heads} heads (removed {choices[-1]['removed_heads']}), "
              f"{len(c)}/{inner} channels", flush=True)

    write_pare_folder(model, a.model, a.out, heads_kept, channels_kept, choices)
    if recorded["attention"]:
        np.savez(os.path.join(a.out, "metric.npz"), attention=np.stack(recorded["attention"]), mlp=np.stack(recorded["mlp"]))
    print(f"wrote {a.out}", flush=True)
    if a.verify_chunks:
        test = pare_tokens(a.pare, a.model, a.verify_dataset, a.verify_format, a.cache)
        ppl = perplexity(model, test, a.seq_len, a.verify_chunks)
        print(json.dumps({"torch_perplexity": ppl, "chunks": a.verify_chunks, "dataset": a.verify_dataset}), flush=True)


if __name__ == "__main__":
    main()
