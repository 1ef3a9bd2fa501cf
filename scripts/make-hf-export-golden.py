#!/usr/bin/env python3
"""Golden logits of Pare's Hugging Face export, computed by stock transformers.

Input: Tests/TransformerTests/Fixtures/export/pruned-bytes, a folder `pare prune` wrote from the
tiny byte-vocabulary llama (uneven query-head groups in layer 1, o_proj/down_proj biases), made by
  pare prune Tests/TransformerTests/Fixtures/forward/llama-bytes.gguf --out …/pruned-bytes \
    --sparsity 0.5 --calibration Tests/TransformerTests/Fixtures/forward/eval-sample.txt --format text \
    --samples 4 --seq-len 16 --remedy --recovery-samples 8 --allocation global
(report files removed). This script runs `pare export … --format hf` on it, loads the result with
`AutoModelForCausalLM.from_pretrained` (no remote code), and writes the logits of fixed token ids in
float64 to Tests/TransformerTests/Fixtures/export/hf-golden.json. The Swift test exports the same
folder and compares Pare's logits of the export with these (≤ 1e-4 relative).

Run: PARE=.build/debug/pare /work/venvs/lmeval/bin/python scripts/make-hf-export-golden.py
(any venv with torch, transformers and safetensors).
"""
import json, os, subprocess, sys, tempfile

import torch
import transformers
from transformers import AutoModelForCausalLM

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
fixtures = os.path.join(root, "Tests/TransformerTests/Fixtures/export")
pare = os.environ.get("PARE", os.path.join(root, ".build/debug/pare"))

with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, "hf")
    subprocess.run([pare, "export", os.path.join(fixtures, "pruned-bytes"), "--out", out, "--format", "hf"], check=True)
    model = AutoModelForCausalLM.from_pretrained(out, torch_dtype=torch.float32)
    model.eval()
    config = json.load(open(os.path.join(out, "config.json")))
    ids = [[(7 * t + 3) % 256 for t in range(20)], [(11 * t + 5) % 256 for t in range(20)]]
    with torch.no_grad():
        model = model.double()
        logits = model(torch.tensor(ids)).logits
    golden = {
        "input_ids": ids,
        "logits": logits.tolist(),
        "architecture": type(model).__name__,
        "config": {k: config[k] for k in ["num_attention_heads", "num_key_value_heads", "intermediate_size",
                                          "attention_bias", "mlp_bias"]},
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
    }
with open(os.path.join(fixtures, "hf-golden.json"), "w") as f:
    json.dump(golden, f)
print("wrote", os.path.join(fixtures, "hf-golden.json"), golden["config"], golden["versions"])
