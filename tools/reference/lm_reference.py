#!/usr/bin/env python3
"""llama.cpp reference for the LM model tests (tests/model/shared/models/llama): greedy continuations with their
per-step logits, perplexity of a fixed text, and llama.cpp's own prefill/decode speed.

Why: shared/models/llama must match llama.cpp on the same GGUF before any speed is claimed.
Depends on llama-cpp-python and numpy (venv ~/.cache/parley/refenv).

Usage:
  lm_reference.py --model M.gguf --input in.json --out-dir DIR [--n-gen 32] [--threads 2]
  lm_reference.py --model M.gguf --speed-only [--n-prompt 64] [--n-gen 128] [--threads 2]
    (prints {"prefill_tokens_per_s", "decode_tokens_per_s", ...}: greedy batch-1 decode with
     logits for the last token only, as a server would run it)
in.json: {"prompts": ["...", ...], "perplexity_text": "..."}
Prints one JSON object:
  {"prompts": [{"ids": [...], "greedy": [...], "margins": [...], "logits_file": "DIR/prompt_0.f32"}],
   "perplexity": {"ids": [...], "ppl": x, "nll_file": "DIR/nll.f32"},
   "speed": {"prefill_tokens_per_s": x, "decode_tokens_per_s": y, "threads": n},
   "llama_cpp_version": "..."}
logits_file: float32 [n_gen, vocab]; row i = logits that chose greedy[i] (row 0: last prompt token).
nll_file: float32 [len(ids) - 1], -log p(ids[t+1] | ids[..t]).
Token ids come from llama.cpp's tokenizer (no BOS: SmolLM2 sets add_bos_token false), so the C++
side feeds the same ids and compares the model alone.
"""
import argparse
import json
import os
import sys
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--input")
    ap.add_argument("--out-dir")
    ap.add_argument("--speed-only", action="store_true")
    ap.add_argument("--n-prompt", type=int, default=64)
    ap.add_argument("--n-gen", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import llama_cpp
    from llama_cpp import Llama

    if args.speed_only:
        llm = Llama(model_path=args.model, n_ctx=2048, n_batch=512, n_threads=args.threads,
                    n_threads_batch=args.threads, logits_all=False, verbose=False, seed=0)
        prompt = [100 + (i * 37) % 40000 for i in range(args.n_prompt)]
        llm.eval(prompt[:8])  # warm-up
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(prompt)
        t1 = time.perf_counter()
        tok = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        t2 = time.perf_counter()
        for _ in range(args.n_gen):
            llm.eval([tok])
            tok = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        t3 = time.perf_counter()
        json.dump({"prefill_tokens_per_s": args.n_prompt / (t1 - t0),
                   "decode_tokens_per_s": args.n_gen / (t3 - t2), "threads": args.threads,
                   "n_prompt": args.n_prompt, "n_gen": args.n_gen,
                   "llama_cpp_version": getattr(llama_cpp, "__version__", "?")}, sys.stdout)
        sys.stdout.write("\n")
        return
    if not args.input or not args.out_dir:
        ap.error("--input and --out-dir are required (or --speed-only)")
    with open(args.input, encoding="utf-8") as f:
        spec = json.load(f)
    os.makedirs(args.out_dir, exist_ok=True)
    llm = Llama(model_path=args.model, n_ctx=2048, n_batch=512, n_threads=args.threads,
                n_threads_batch=args.threads, logits_all=True, verbose=False, seed=0)
    vocab = llm.n_vocab()

    out = {"prompts": [], "llama_cpp_version": getattr(llama_cpp, "__version__", "?")}
    prefill_tokens, prefill_time, decode_tokens, decode_time = 0, 0.0, 0, 0.0
    for i, text in enumerate(spec["prompts"]):
        ids = llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(ids)
        prefill_time += time.perf_counter() - t0
        prefill_tokens += len(ids)
        rows, greedy, margins = [], [], []
        for step in range(args.n_gen):
            logits = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)
            order = np.argsort(-logits, kind="stable")
            tok = int(order[0])
            rows.append(logits)
            greedy.append(tok)
            margins.append(float(logits[order[0]] - logits[order[1]]))
            if step + 1 < args.n_gen:
                t0 = time.perf_counter()
                llm.eval([tok])
                decode_time += time.perf_counter() - t0
                decode_tokens += 1
        path = os.path.join(args.out_dir, f"prompt_{i}.f32")
        np.stack(rows).astype(np.float32).tofile(path)
        out["prompts"].append({"ids": ids, "greedy": greedy, "margins": margins, "logits_file": path})

    text = spec.get("perplexity_text")
    if text:
        ids = llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)
        llm.reset()
        llm.eval(ids)
        scores = np.array(llm.scores[: len(ids)], dtype=np.float64)
        m = scores.max(axis=1, keepdims=True)
        logp = scores - m - np.log(np.exp(scores - m).sum(axis=1, keepdims=True))
        nll = -logp[np.arange(len(ids) - 1), np.array(ids[1:])]
        path = os.path.join(args.out_dir, "nll.f32")
        nll.astype(np.float32).tofile(path)
        out["perplexity"] = {"ids": ids, "ppl": float(np.exp(nll.mean())), "nll_file": path}

    out["speed"] = {
        "prefill_tokens_per_s": prefill_tokens / prefill_time if prefill_time > 0 else 0.0,
        "decode_tokens_per_s": decode_tokens / decode_time if decode_time > 0 else 0.0,
        "threads": args.threads,
    }
    out["vocab"] = vocab
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
