#!/usr/bin/env python3
"""Zero-shot goldens from lm-evaluation-harness itself (issue 15).

Runs lm-evaluation-harness 0.4 on the first N items of the seven zero-shot tasks, with the
harness's own task YAMLs (local configs `include` them and only point the dataset at a JSON
file made from ../shared/data/zeroshot), on SmolLM2 loaded from its GGUF by transformers.
Records every request's context, continuation, token ids (the harness's own split) and
log-likelihood, the per-item predictions and the task metrics.

Setup (throwaway venv, outside the repository):
  python3 -m venv /work/venvs/lmeval
  /work/venvs/lmeval/bin/pip install lm_eval torch transformers gguf
Run:
  nice -n 10 /work/venvs/lmeval/bin/python scripts/zeroshot-goldens.py \
      --model models/SmolLM2-135M-Instruct.Q4_1.gguf --data ../shared/data/zeroshot \
      --limit 50 --out Tests/TransformerTests/Fixtures/zeroshot/harness-goldens.json
Speed mode (used by `pare-bench zeroshot`): `--speed` evaluates each task on its own and prints
one JSON object {"tasks": {task: {"seconds", "items", "acc", "acc_norm"}}} on stdout, no goldens.
"""

import argparse
import json
import os
import sys
import tempfile
import time

import lm_eval
import numpy as np
import torch
import transformers
from lm_eval import evaluator
from lm_eval.models.huggingface import HFLM
from lm_eval.tasks import TaskManager

TASKS = ["boolq", "piqa", "hellaswag", "winogrande", "arc_easy", "arc_challenge", "openbookqa"]

# The harness YAML each local config includes, and the split that YAML evaluates.
HARNESS_YAML = {
    "boolq": ("super_glue/boolq/default.yaml", "validation"),
    "piqa": ("piqa/piqa.yaml", "validation"),
    "hellaswag": ("hellaswag/hellaswag.yaml", "validation"),
    "winogrande": ("winogrande/default.yaml", "validation"),
    "arc_easy": ("arc/arc_easy.yaml", "test"),
    "arc_challenge": ("arc/arc_challenge.yaml", "test"),
    "openbookqa": ("openbookqa/openbookqa.yaml", "test"),
}


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return f.read().split("\n")


def jsonl(path):
    return [json.loads(line) for line in read_lines(path) if line.strip()]


def hellaswag_docs(path, limit):
    """The harness's fields rebuilt from llama.cpp's 6-line file (see docs/ZEROSHOT.md):
    ctx_b = the unfinished sentence after the last '. ', '! ' or '? ' of ctx (empty when ctx
    ends with . ! ?), ctx_a = the rest."""
    lines = read_lines(path)
    docs = []
    for i in range(0, len(lines) - 5, 6):
        if len(docs) == limit:
            break
        head = lines[i].rstrip()
        label, _, ctx = head.partition(": ")
        if ctx and ctx[-1] in ".!?":
            ctx_a, ctx_b = ctx, ""
        else:
            cut = max(ctx.rfind(". "), ctx.rfind("! "), ctx.rfind("? "))
            ctx_a, ctx_b = (ctx[: cut + 1], ctx[cut + 2:]) if cut >= 0 else ("", ctx)
        docs.append({"activity_label": label, "ctx_a": ctx_a, "ctx_b": ctx_b,
                     "endings": lines[i + 2:i + 6], "label": lines[i + 1].strip()})
    return docs


def lettered(item, key_field="answerKey"):
    q = item["question"]
    return {"text": [c["text"] for c in q["choices"]], "label": [c["label"] for c in q["choices"]]}


def task_docs(task, data, limit):
    """The first `limit` items of `task` in the schema of the harness's Hugging Face dataset."""
    if task == "boolq":
        rows = jsonl(f"{data}/boolq/dev.jsonl")[:limit]
        return [{"question": r["question"], "passage": r["passage"], "label": int(r["answer"])} for r in rows]
    if task == "piqa":
        rows = jsonl(f"{data}/piqa/valid.jsonl")[:limit]
        labels = [int(x) for x in read_lines(f"{data}/piqa/valid-labels.lst") if x.strip()]
        return [{"goal": r["goal"], "sol1": r["sol1"], "sol2": r["sol2"], "label": labels[i]} for i, r in enumerate(rows)]
    if task == "winogrande":
        rows = jsonl(f"{data}/winogrande/dev.jsonl")[:limit]
        return [{"sentence": r["sentence"], "option1": r["option1"], "option2": r["option2"], "answer": r["answer"]}
                for r in rows]
    if task in ("arc_easy", "arc_challenge"):
        name = {"arc_easy": "arc_easy/ARC-Easy-Test.jsonl", "arc_challenge": "arc_challenge/ARC-Challenge-Test.jsonl"}[task]
        rows = jsonl(f"{data}/{name}")[:limit]
        return [{"id": r["id"], "question": r["question"]["stem"], "choices": lettered(r), "answerKey": r["answerKey"]}
                for r in rows]
    if task == "openbookqa":
        rows = jsonl(f"{data}/openbookqa/test.jsonl")[:limit]
        return [{"id": r["id"], "question_stem": r["question"]["stem"], "choices": lettered(r),
                 "answerKey": r["answerKey"]} for r in rows]
    if task == "hellaswag":
        return hellaswag_docs(f"{data}/hellaswag/hellaswag_val_full.txt", limit)
    raise ValueError(task)


def gold_index(task, doc):
    """The correct choice's index, from the document as the harness saw it."""
    if task in ("boolq", "piqa"):
        return int(doc["label"])
    if task == "winogrande":
        return int(doc["answer"]) - 1
    if task == "hellaswag":
        return int(doc["gold"])
    return doc["choices"]["label"].index(doc["answerKey"].lstrip())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", default="../shared/data/zeroshot")
    ap.add_argument("--limit", type=int, default=50)
    ap.add_argument("--out")
    ap.add_argument("--speed", action="store_true", help="time each task alone; print JSON, write nothing")
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tasks = args.tasks.split(",")
    harness_tasks = os.path.join(os.path.dirname(lm_eval.__file__), "tasks")

    work = tempfile.mkdtemp(prefix="pare-lmeval-")
    counts = {}
    for task in tasks:
        docs = task_docs(task, os.path.abspath(args.data), args.limit)
        counts[task] = len(docs)
        data_file = os.path.join(work, f"{task}.jsonl")
        with open(data_file, "w", encoding="utf-8") as f:
            for d in docs:
                f.write(json.dumps(d, ensure_ascii=False) + "\n")
        yaml_path, split = HARNESS_YAML[task]
        other = "test" if split == "validation" else "validation"
        with open(os.path.join(work, f"pare_{task}.yaml"), "w") as f:
            f.write(f"include: {os.path.join(harness_tasks, yaml_path)}\n"
                    f"task: pare_{task}\n"
                    f"tag: []\n"
                    f"dataset_path: json\n"
                    f"dataset_name: null\n"
                    f"dataset_kwargs:\n  data_files:\n    {split}: {data_file}\n"
                    f"training_split: null\n"
                    f"{split}_split: {split}\n"
                    f"{other}_split: null\n"
                    f"fewshot_split: null\n")

    model_path = os.path.abspath(args.model)
    lm = HFLM(pretrained=os.path.dirname(model_path), gguf_file=os.path.basename(model_path),
              dtype="float32", device="cpu", batch_size=1)
    if args.speed:
        timings = {}
        for task in tasks:
            start = time.time()
            res = evaluator.simple_evaluate(model=lm, tasks=[f"pare_{task}"], num_fewshot=0,
                                            task_manager=TaskManager(include_path=work, include_defaults=True))
            m = res["results"][f"pare_{task}"]
            timings[task] = {"seconds": time.time() - start, "items": counts[task],
                             "acc": m.get("acc,none"), "acc_norm": m.get("acc_norm,none")}
        print(json.dumps({"tasks": timings}))
        return
    if not args.out:
        ap.error("--out is required (or --speed)")
    start = time.time()
    out = evaluator.simple_evaluate(model=lm, tasks=[f"pare_{t}" for t in tasks], num_fewshot=0,
                                    task_manager=TaskManager(include_path=work, include_defaults=True),
                                    log_samples=True)
    seconds = time.time() - start

    golden = {
        "generator": "scripts/zeroshot-goldens.py",
        "lm_eval": lm_eval.__version__ if hasattr(lm_eval, "__version__") else "unknown",
        "transformers": transformers.__version__, "torch": torch.__version__,
        "model": os.path.basename(model_path), "limit": args.limit, "seconds": seconds,
        "tasks": {},
    }
    for task in tasks:
        name = f"pare_{task}"
        metrics = out["results"][name]
        samples = sorted(out["samples"][name], key=lambda s: s["doc_id"])
        items = []
        for s in samples:
            requests = []
            lls = []
            for (context, continuation), resp in zip(s["arguments"], s["resps"]):
                ll = float(resp[0][0])
                context_enc, continuation_enc = lm._encode_pair(context, continuation)
                requests.append({"context": context, "continuation": continuation,
                                 "tokens": list(context_enc) + list(continuation_enc),
                                 "continuation_count": len(continuation_enc), "loglikelihood": ll})
                lls.append(ll)
            item = {"doc_id": s["doc_id"], "gold": gold_index(task, s["doc"]), "requests": requests,
                    "acc_prediction": int(np.argmax(lls)), "acc": float(s["acc"])}
            if "acc_norm" in s:
                item["acc_norm"] = float(s["acc_norm"])
            items.append(item)
        golden["tasks"][task] = {
            "acc": metrics.get("acc,none"), "acc_stderr": metrics.get("acc_stderr,none"),
            "acc_norm": metrics.get("acc_norm,none"), "acc_norm_stderr": metrics.get("acc_norm_stderr,none"),
            "items": items,
        }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(golden, f, ensure_ascii=False, indent=None, separators=(",", ":"))
        f.write("\n")
    os.replace(tmp, args.out)
    print(f"wrote {args.out}: {sum(len(t['items']) for t in golden['tasks'].values())} items in {seconds:.0f} s",
          file=sys.stderr)
    for task in tasks:
        t = golden["tasks"][task]
        print(f"{task}: acc {t['acc']} acc_norm {t['acc_norm']}", file=sys.stderr)


if __name__ == "__main__":
    main()
