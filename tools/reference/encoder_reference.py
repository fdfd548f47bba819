#!/usr/bin/env python3
# Test-time reference for shared/models/encoder: the same BERT-family sentence encoder run by Hugging Face
# transformers (PyTorch) and by ONNX Runtime, printing JSON. Never imported by Parley itself.
# Depends on the venv from tools/reference/setup encoder (requirements-encoder.txt, Debian torch).
#
# Commands (all print one JSON object on stdout):
#   embed --model-dir D --input FILE [--max-length 256] [--dtype float64|float32]
#       FILE: JSON list of strings. Output: {"input_ids": [[...]], "embeddings": [[...]],
#       "pooling": "mean", "normalize": true, "versions": {...}}. Embeddings follow
#       sentence-transformers: mean of the last hidden states over the attention mask, then L2
#       normalized (for models whose modules.json lists Normalize, or have no modules.json).
#   bench --model-dir D [--threads 2] [--seq 128] [--batches 1,32] [--seconds 3] [--onnx-dir DIR]
#       Exports the model to ONNX (torch.onnx.export, opset 14) into --onnx-dir (default
#       ~/.cache/parley/onnx-encoder/<model hash>/; never in the repo), then times ONNX Runtime
#       (CPU, intra-op threads = --threads, graph optimizations on) on random ids of length --seq.
#       Output: {"onnxruntime": {"<batch>": {"ms_per_batch": x, "sequences_per_s": y}}, ...}.
#   train-bench --model-dir D [--threads 2] [--batch 32] [--seq 16] [--labels 7] [--tags 40]
#               [--steps 20] [--precisions fp32,bf16]
#       PyTorch fine-tuning steps of the encoder with an intent head on [CLS] and a tag head on every
#       token (cross-entropy both, AdamW lr 1e-4): forward + backward + optimizer step on random ids
#       of length --seq, as tests/bench/encoder/encoder_train_bench times ours. bf16 = CPU autocast
#       (torch.autocast("cpu", torch.bfloat16): oneDNN bf16 matmuls). Output: {"<precision>":
#       {"ms_per_step": median, "tokens_per_s": y, "steps": n}, "versions": {...}}.
import argparse
import hashlib
import json
import os
import sys
import time


def load(model_dir, dtype):
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir)
    model.eval()
    if dtype == "float64":
        model = model.double()
    return torch, tok, model


def sentence_head(model_dir):
    pooling, normalize = "mean", True
    p = os.path.join(model_dir, "1_Pooling", "config.json")
    if os.path.exists(p):
        cfg = json.load(open(p))
        if cfg.get("pooling_mode_cls_token"):
            pooling = "cls"
        elif cfg.get("pooling_mode_max_tokens"):
            pooling = "max"
    m = os.path.join(model_dir, "modules.json")
    if os.path.exists(m):
        normalize = any("Normalize" in x.get("type", "") for x in json.load(open(m)))
    return pooling, normalize


def cmd_embed(args):
    torch, tok, model = load(args.model_dir, args.dtype)
    texts = json.load(open(args.input, encoding="utf-8"))
    pooling, normalize = sentence_head(args.model_dir)
    out_ids, out_emb = [], []
    with torch.no_grad():
        for i in range(0, len(texts), 16):
            chunk = texts[i:i + 16]
            enc = tok(chunk, padding=True, truncation=True, max_length=args.max_length, return_tensors="pt")
            hidden = model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            if pooling == "cls":
                emb = hidden[:, 0]
            elif pooling == "max":
                emb = hidden.masked_fill(mask == 0, -1e9).max(dim=1).values
            else:
                emb = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            if normalize:
                emb = torch.nn.functional.normalize(emb, p=2, dim=1)
            for r in range(len(chunk)):
                n = int(enc["attention_mask"][r].sum())
                out_ids.append([int(x) for x in enc["input_ids"][r][:n]])
                out_emb.append([float(x) for x in emb[r]])
    import transformers
    return ({
        "input_ids": out_ids,
        "embeddings": out_emb,
        "pooling": pooling,
        "normalize": normalize,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
    })


def export_onnx(args, torch, model):
    h = hashlib.sha256()
    with open(os.path.join(args.model_dir, "model.safetensors"), "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    onnx_dir = args.onnx_dir or os.path.join(os.path.expanduser("~"), ".cache", "parley", "onnx-encoder",
                                             h.hexdigest()[:16])
    os.makedirs(onnx_dir, exist_ok=True)
    path = os.path.join(onnx_dir, "model.onnx")
    if not os.path.exists(path):
        ids = torch.ones(2, 16, dtype=torch.long)
        with torch.no_grad():
            torch.onnx.export(
                model, (ids, torch.ones_like(ids), torch.zeros_like(ids)), path + ".tmp",
                input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["last_hidden_state"],
                dynamic_axes={n: {0: "batch", 1: "seq"} for n in
                              ["input_ids", "attention_mask", "token_type_ids", "last_hidden_state"]},
                opset_version=14, do_constant_folding=True)
        os.replace(path + ".tmp", path)
    return path


def cmd_bench(args):
    import numpy as np
    import onnxruntime as ort
    torch, _, model = load(args.model_dir, "float32")
    torch.set_num_threads(args.threads)
    path = export_onnx(args, torch, model)
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    vocab = model.config.vocab_size
    rng = np.random.default_rng(0)
    results = {}
    for b in [int(x) for x in args.batches.split(",")]:
        ids = rng.integers(1000, vocab, size=(b, args.seq), dtype=np.int64)
        ids[:, 0] = 101
        ids[:, -1] = 102
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
        sess.run(None, feed)  # warm-up
        n, t0 = 0, time.perf_counter()
        times = []
        while time.perf_counter() - t0 < args.seconds or n < 3:
            s = time.perf_counter()
            sess.run(None, feed)
            times.append(time.perf_counter() - s)
            n += 1
        times.sort()
        med = times[len(times) // 2]
        results[str(b)] = {"ms_per_batch": med * 1e3, "sequences_per_s": b / med, "runs": n}
    return {"onnxruntime": results, "onnx_path": path, "threads": args.threads, "seq": args.seq,
            "versions": {"onnxruntime": ort.__version__, "torch": torch.__version__}}


def cmd_train_bench(args):
    # FP32 matmuls go to the system BLAS (Debian's torch: BLAS_INFO=generic); OpenBLAS when it is the
    # libblas alternative (apt-get install libopenblas0-pthread), else netlib's reference BLAS,
    # which makes FP32 ~40x slower here. Its threads are capped like torch's.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))
    torch, _, model = load(args.model_dir, "float32")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model.train()
    # As ours by default (TrainableOptions::train_word_embeddings false): the [vocab, hidden]
    # table stays frozen; every layer, the position/type embeddings and LayerNorms train.
    model.embeddings.word_embeddings.weight.requires_grad_(False)
    hidden = model.config.hidden_size
    intent = torch.nn.Linear(hidden, args.labels)
    tagger = torch.nn.Linear(hidden, args.tags)
    params = [p for p in model.parameters() if p.requires_grad] + list(intent.parameters()) + list(tagger.parameters())
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)
    vocab = model.config.vocab_size
    ids = torch.randint(1000, vocab, (args.batch, args.seq))
    ids[:, 0] = 101
    ids[:, -1] = 102
    mask = torch.ones_like(ids)
    labels = torch.randint(0, args.labels, (args.batch,))
    tags = torch.randint(0, args.tags, (args.batch, args.seq))
    ce = torch.nn.CrossEntropyLoss()
    results = {}
    for precision in args.precisions.split(","):
        def step():
            opt.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                h = model(input_ids=ids, attention_mask=mask).last_hidden_state
                loss = ce(intent(h[:, 0]).float(), labels) + ce(tagger(h).float().reshape(-1, args.tags), tags.reshape(-1))
            loss.backward()
            opt.step()
        for _ in range(2):  # warm-up (allocations, oneDNN primitive caches)
            step()
        times = []
        for _ in range(args.steps):
            t = time.perf_counter()
            step()
            times.append(time.perf_counter() - t)
        times.sort()
        med = times[len(times) // 2]
        results[precision] = {"ms_per_step": med * 1e3, "tokens_per_s": args.batch * args.seq / med, "steps": args.steps}
    blas = "?"
    try:
        blas = os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3")
    except OSError:
        pass
    results["versions"] = {"torch": torch.__version__, "libblas": blas}
    results["threads"] = args.threads
    return results


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("embed")
    e.add_argument("--model-dir", required=True)
    e.add_argument("--input", required=True)
    e.add_argument("--max-length", type=int, default=256)
    e.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    b = sub.add_parser("bench")
    b.add_argument("--model-dir", required=True)
    b.add_argument("--threads", type=int, default=2)
    b.add_argument("--seq", type=int, default=128)
    b.add_argument("--batches", default="1,32")
    b.add_argument("--seconds", type=float, default=3.0)
    b.add_argument("--onnx-dir", default="")
    t = sub.add_parser("train-bench")
    t.add_argument("--model-dir", required=True)
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--batch", type=int, default=32)
    t.add_argument("--seq", type=int, default=16)
    t.add_argument("--labels", type=int, default=7)
    t.add_argument("--tags", type=int, default=40)
    t.add_argument("--steps", type=int, default=20)
    t.add_argument("--precisions", default="fp32,bf16")
    args = ap.parse_args()
    # Library chatter goes to stderr: stdout holds only the JSON answer.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    real_stdout, sys.stdout = sys.stdout, sys.stderr
    result = {"embed": cmd_embed, "bench": cmd_bench, "train-bench": cmd_train_bench}[args.cmd](args)
    sys.stdout = real_stdout
    print(json.dumps(result))


if __name__ == "__main__":
    main()
