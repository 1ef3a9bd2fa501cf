#!/usr/bin/env python3
"""Golden values for Prune on a tiny llama, computed independently in numpy (float64).

Writes Tests/PruneTests/Fixtures/prune-golden.json: a tiny random llama (2 layers, hidden 16,
4 query heads over 2 KV heads of width 4, gated MLP of width 24, vocab 32; weights are
float32 values), calibration token ids, and for each scenario below, per layer, what the
pipeline of DESIGN.md §3 gives: the attention head scores, the MLP channel scores, the
head-distance matrix D (paper Eq. 1), the redundant heads (Alg. 1), the kept heads and
channels, and the repaired level-2 weights (remedy least squares, or FLAP's compensated bias).

This file restates the method from DESIGN.md and docs/ALGORITHM.md on its own (llama forward
pass, HF rotate_half RoPE, JS distances, exact-moment / second-moment / flap scores, the ridge
toward the prior with an intercept column); it shares no code with Pare.
Run: python3 scripts/make-prune-golden.py   (numpy only; tool versions go into the JSON)
"""
import json
import math
import os
import sys

import numpy as np

HIDDEN, HEADS, KV, D, WIDTH, LAYERS, VOCAB, THETA, EPS = 16, 4, 2, 4, 24, 2, 32, 10000.0, 1e-5
SEQUENCES, LENGTH, SCORING = 8, 12, 4


def make_model(rng):
    def lin(out, inp):
        return (rng.uniform(-1, 1, (out, inp)) / math.sqrt(inp)).astype(np.float32)

    def norm():
        return rng.uniform(0.8, 1.2, HIDDEN).astype(np.float32)

    layers = []
    for _ in range(LAYERS):
        layers.append(dict(attention_norm=norm(), q=lin(HEADS * D, HIDDEN), k=lin(KV * D, HIDDEN),
                           v=lin(KV * D, HIDDEN), o=lin(HIDDEN, HEADS * D), mlp_norm=norm(),
                           gate=lin(WIDTH, HIDDEN), up=lin(WIDTH, HIDDEN), down=lin(HIDDEN, WIDTH)))
    embedding = rng.uniform(-1, 1, (VOCAB, HIDDEN)).astype(np.float32)
    return embedding, layers


# ---- forward pieces (float64) ----

def rmsnorm(x, w):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + EPS) * w.astype(np.float64)


def rope(x, positions):
    half = D // 2
    inv = 1.0 / (THETA ** (np.arange(0, half) * 2 / D))
    ang = positions[:, None] * inv[None, :]
    cos, sin = np.cos(ang), np.sin(ang)
    a, b = x[..., :half], x[..., half:]
    return np.concatenate([a * cos - b * sin, b * cos + a * sin], axis=-1)


def attention_inner(x, w, kv_of):
    """Per-head context (T × H·D) and probabilities [sequence][head] (L × L)."""
    q, k, v = x @ w["q"].T, x @ w["k"].T, x @ w["v"].T
    heads = len(kv_of)
    ctx = np.zeros((x.shape[0], heads * D))
    probs = []
    pos = np.arange(LENGTH, dtype=np.float64)
    for s in range(x.shape[0] // LENGTH):
        rows = slice(s * LENGTH, (s + 1) * LENGTH)
        per_head = []
        for h in range(heads):
            kv = kv_of[h]
            qh = rope(q[rows, h * D:(h + 1) * D], pos)
            kh = rope(k[rows, kv * D:(kv + 1) * D], pos)
            vh = v[rows, kv * D:(kv + 1) * D]
            scores = qh @ kh.T / math.sqrt(D)
            scores[np.triu_indices(LENGTH, 1)] = -np.inf
            p = np.exp(scores - scores.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            per_head.append(p)
            ctx[rows, h * D:(h + 1) * D] = p @ vh
        probs.append(per_head)
    return ctx, probs


def mlp_inner(x, w):
    g, u = x @ w["gate"].T, x @ w["up"].T
    return g / (1 + np.exp(-g)) * u, u, g


def head_distances(probs, heads):
    sums, rows = np.zeros((heads, heads)), 0
    for per_head in probs:
        for i in range(heads):
            for j in range(i + 1, heads):
                p, q = per_head[i], per_head[j]
                m = 0.5 * (p + q)
                with np.errstate(divide="ignore", invalid="ignore"):
                    js = 0.5 * np.where(p > 0, p * np.log(p / m), 0) + 0.5 * np.where(q > 0, q * np.log(q / m), 0)
                s = np.sqrt(np.maximum(js.sum(axis=1), 0)).sum()
                sums[i, j] += s
                sums[j, i] += s
        rows += per_head[0].shape[0]
    return sums / rows


def redundant_heads(dist, tau, scores):
    n = len(dist)
    pairs = sorted((dist[i][j], i, j) for i in range(n) for j in range(i + 1, n) if dist[i][j] < tau)
    marked = []
    for _, i, j in pairs:
        if i not in marked and j not in marked:
            marked.append(i if scores[i] < scores[j] else j)
    return marked


def ridge(x, y, kept_columns, prior_w, damp):
    """argmin ‖[X_S 1]Θ − Y‖² + λ‖Θ − Θ₀‖², λ = damp·mean(diag(G)); Θ₀ = [prior_wᵀ; 0]."""
    xs = np.concatenate([x[:, kept_columns], np.ones((x.shape[0], 1))], axis=1)
    g = xs.T @ xs
    lam = damp * np.trace(g) / g.shape[0]
    theta0 = np.concatenate([prior_w.T, np.zeros((1, prior_w.shape[0]))], axis=0)
    theta = np.linalg.solve(g + lam * np.eye(g.shape[0]), xs.T @ y + lam * theta0)
    return theta[:-1].T, theta[-1]


def round_half_away(x):
    return int(math.floor(x + 0.5))


def run(embedding, layers, tokens, criterion, tau, remedy, target, sparsity, damp=0.1):
    dense = embedding[tokens.reshape(-1)].astype(np.float64)
    pruned = dense.copy()
    scoring_rows = SCORING * LENGTH
    out = []
    for w in layers:
        w = {k: v.astype(np.float64) for k, v in w.items()}
        record = {}
        # ---- attention: unit = query head ----
        kv_of = [h * KV // HEADS for h in range(HEADS)]
        xd, xp = rmsnorm(dense, w["attention_norm"]), rmsnorm(pruned, w["attention_norm"])
        ctx_d, _ = attention_inner(xd, w, kv_of)
        yd = ctx_d @ w["o"].T
        t = yd + dense - pruned if target == "residual" else yd
        ctx, probs = attention_inner(xp, w, kv_of)
        col2 = (w["o"] ** 2).sum(axis=0)
        col_scores = col2 * (ctx[:scoring_rows] ** 2).mean(axis=0)  # exact-moment = second-moment for heads
        if criterion == "flap":  # FLAP: fluctuation on the dense model, squared per column, summed per head
            col_scores = (col2 * ctx_d[:scoring_rows].var(axis=0)) ** 2
        scores = [col_scores[h * D:(h + 1) * D].sum() for h in range(HEADS)]
        order = sorted(range(HEADS), key=lambda h: (scores[h], h))
        cut = min(round_half_away(sparsity * HEADS), HEADS - 1)
        if tau is not None:
            dist = head_distances(probs[:SCORING], HEADS)
            red = redundant_heads(dist, tau, scores)
            order = red + [h for h in order if h not in red]
            record["head_distances"], record["redundant_heads"] = dist.tolist(), red
        removed = sorted(order[:cut])
        kept = [h for h in range(HEADS) if h not in removed]
        cols = [c for h in kept for c in range(h * D, (h + 1) * D)]
        gone = [c for h in removed for c in range(h * D, (h + 1) * D)]
        kept_kv = sorted({kv_of[h] for h in kept})
        kv_rows = [r for kv in kept_kv for r in range(kv * D, (kv + 1) * D)]
        new = dict(w)
        new["q"], new["k"], new["v"], new["o"] = w["q"][cols], w["k"][kv_rows], w["v"][kv_rows], w["o"][:, cols]
        o_bias = np.zeros(HIDDEN)
        if remedy:
            new["o"], o_bias = ridge(ctx, t, cols, new["o"], damp)
        elif criterion == "flap":
            o_bias = w["o"][:, gone] @ ctx_d[:scoring_rows, gone].mean(axis=0)  # the dense model's means
        new_kv = [kept_kv.index(kv_of[h]) for h in kept]
        ctx_p, _ = attention_inner(xp, new, new_kv)
        yp = ctx_p @ new["o"].T + o_bias
        dense, pruned = dense + yd, pruned + yp
        record.update(head_scores=scores, kept_heads=kept, output_weight=new["o"].tolist(), output_bias=o_bias.tolist())
        # ---- MLP: unit = channel ----
        xd, xp = rmsnorm(dense, w["mlp_norm"]), rmsnorm(pruned, w["mlp_norm"])
        hd = mlp_inner(xd, w)[0]
        yd = hd @ w["down"].T
        t = yd + dense - pruned if target == "residual" else yd
        h, u, g = mlp_inner(xp, w)
        b2 = (w["down"] ** 2).sum(axis=0)
        hs = h[:scoring_rows]
        if criterion == "exact-moment":
            scores = b2 * (hs ** 2).mean(axis=0)
        elif criterion == "second-moment":  # paper Eq. 2–3 / App. 7, gated product form
            scores = (b2 * (u[:scoring_rows] ** 2).mean(axis=0)) * (b2 * 0.5 * (g[:scoring_rows] ** 2).mean(axis=0))
        else:  # flap: on the dense model's stream
            scores = b2 * hd[:scoring_rows].var(axis=0)
        order = sorted(range(WIDTH), key=lambda i: (scores[i], i))
        cut = min(round_half_away(sparsity * WIDTH), WIDTH - 1)
        removed = sorted(order[:cut])
        kept = [i for i in range(WIDTH) if i not in removed]
        down = w["down"][:, kept]
        d_bias = np.zeros(HIDDEN)
        if remedy:
            down, d_bias = ridge(h, t, kept, down, damp)
        elif criterion == "flap":
            d_bias = w["down"][:, removed] @ hd[:scoring_rows, removed].mean(axis=0)
        yp = mlp_inner(xp, {"gate": w["gate"][kept], "up": w["up"][kept]})[0] @ down.T + d_bias
        dense, pruned = dense + yd, pruned + yp
        record.update(channel_scores=list(scores), kept_channels=kept, down_weight=down.tolist(), down_bias=d_bias.tolist())
        out.append(record)
    return out


def main():
    rng = np.random.default_rng(20241129)
    embedding, layers = make_model(rng)
    tokens = rng.integers(0, VOCAB, (SEQUENCES, LENGTH))
    scenarios = {
        "exact-moment+similarity+remedy": dict(criterion="exact-moment", tau=0.12, remedy=True, target="residual", sparsity=0.5),
        "second-moment": dict(criterion="second-moment", tau=None, remedy=False, target="module", sparsity=0.3),
        "flap": dict(criterion="flap", tau=None, remedy=False, target="module", sparsity=0.4),
    }
    golden = {
        "generator": "scripts/make-prune-golden.py",
        "versions": {"python": sys.version.split()[0], "numpy": np.__version__},
        "config": dict(hidden=HIDDEN, heads=HEADS, kv_heads=KV, head_dim=D, width=WIDTH, layers=LAYERS, vocab=VOCAB,
                       rope_theta=THETA, rms_norm_eps=EPS, sequences=SEQUENCES, length=LENGTH, scoring_sequences=SCORING,
                       damp=0.1, damp_prior="original"),
        "model": {"embedding": embedding.tolist(),
                  "layers": [{k: v.tolist() for k, v in w.items()} for w in layers]},
        "tokens": tokens.tolist(),
        "scenarios": {name: dict(plan=plan, layers=run(embedding, layers, tokens, **plan))
                      for name, plan in scenarios.items()},
    }
    path = os.path.join(os.path.dirname(__file__), "..", "Tests", "PruneTests", "Fixtures", "prune-golden.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(golden, f, separators=(",", ":"))
        f.write("\n")
    for name, s in golden["scenarios"].items():
        print(name, [(l["kept_heads"], len(l["kept_channels"]), l.get("redundant_heads")) for l in s["layers"]])


if __name__ == "__main__":
    main()
