#!/usr/bin/env python3
"""llama.cpp side of the LM serving benchmark (tests/bench/lm): prompt processing, batch-1 decode
and aggregate decode with several concurrent sequences, on the same GGUF and thread count as ours.

Why: DESIGN.md asks for LM speed side by side with llama.cpp in the same run. The C++ benchmark
runs this script with the reference venv's python and prints the ratios.
Depends on llama-cpp-python and numpy (venv ~/.cache/parley/refenv).

Usage:
  lm_bench.py --model M.gguf [--threads 2] [--prompt-tokens 512] [--gen 64] [--streams 8]
              [--stream-gen 32] [--stream-prompt 16] [--repeat 2]
Prints one JSON object:
  {"prefill_tokens_per_s": x, "decode_tokens_per_s": y, "aggregate_tokens_per_s": z,
   "threads": n, "streams": 8, "llama_cpp_version": "..."}
Token ids are synthetic and identical to the C++ side's (synthetic_ids below): speed does not
depend on what the text says, and both sides then run exactly the same tokens.
Greedy decoding (argmax) with end-of-generation ignored, as on the C++ side (ignore_eos).
"""
import argparse
import ctypes
import json
import sys
import time

import numpy as np


def synthetic_ids(n, offset, vocab):
    # Same formula as tests/bench/lm/lm_bench.cc: spread over ordinary (non-special) tokens.
    return [100 + ((i + offset) * 7919) % min(vocab - 200, 20000) for i in range(n)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt-tokens", type=int, default=512)
    ap.add_argument("--gen", type=int, default=64)
    ap.add_argument("--streams", type=int, default=8)
    ap.add_argument("--stream-gen", type=int, default=32)
    ap.add_argument("--stream-prompt", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()

    import llama_cpp as L

    L.llama_backend_init()
    mp = L.llama_model_default_params()
    model = L.llama_model_load_from_file(args.model.encode(), mp)
    if not model:
        print(json.dumps({"error": "cannot load " + args.model}))
        return 1
    vocab = L.llama_vocab_n_tokens(L.llama_model_get_vocab(model))

    def make_ctx(n_ctx, n_seq):
        cp = L.llama_context_default_params()
        cp.n_ctx = n_ctx
        cp.n_batch = max(512, args.prompt_tokens)
        cp.n_ubatch = max(512, args.prompt_tokens)
        cp.n_seq_max = n_seq
        cp.n_threads = args.threads
        cp.n_threads_batch = args.threads
        cp.kv_unified = True
        cp.no_perf = True
        return L.llama_init_from_model(model, cp)

    def decode(ctx, batch, items):
        # items: (token, pos, seq, want_logits)
        batch.n_tokens = len(items)
        for i, (tok, pos, seq, want) in enumerate(items):
            batch.token[i] = tok
            batch.pos[i] = pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = seq
            batch.logits[i] = 1 if want else 0
        rc = L.llama_decode(ctx, batch)
        if rc != 0:
            raise RuntimeError("llama_decode returned %d" % rc)

    def argmax(ctx, i):
        ptr = L.llama_get_logits_ith(ctx, i)
        return int(np.argmax(np.ctypeslib.as_array(ptr, shape=(vocab,))))

    out = {"threads": args.threads, "streams": args.streams, "llama_cpp_version": getattr(L, "__version__", "?")}

    # 1 + 2: prompt processing and batch-1 decode on one sequence.
    ctx = make_ctx(args.prompt_tokens + args.gen + 16, 1)
    batch = L.llama_batch_init(max(512, args.prompt_tokens), 0, 1)
    mem = L.llama_get_memory(ctx)
    best_pp, best_dec = 0.0, 0.0
    ids = synthetic_ids(args.prompt_tokens, 0, vocab)
    for _ in range(args.repeat):
        L.llama_memory_clear(mem, True)
        t0 = time.perf_counter()
        decode(ctx, batch, [(t, p, 0, p == len(ids) - 1) for p, t in enumerate(ids)])
        tok = argmax(ctx, len(ids) - 1)
        best_pp = max(best_pp, len(ids) / (time.perf_counter() - t0))
        # Decode from a short prompt (as the C++ side does).
        L.llama_memory_clear(mem, True)
        short = ids[:16]
        decode(ctx, batch, [(t, p, 0, p == len(short) - 1) for p, t in enumerate(short)])
        tok = argmax(ctx, len(short) - 1)
        t0 = time.perf_counter()
        pos = len(short)
        for _ in range(args.gen - 1):
            decode(ctx, batch, [(tok, pos, 0, True)])
            tok = argmax(ctx, 0)
            pos += 1
        best_dec = max(best_dec, (args.gen - 1) / (time.perf_counter() - t0))
    L.llama_batch_free(batch)
    L.llama_free(ctx)
    out["prefill_tokens_per_s"] = best_pp
    out["decode_tokens_per_s"] = best_dec

    # 3: aggregate — `streams` sequences prefilled together, then decoded together, one batch/step.
    n = args.streams
    ctx = make_ctx(n * (args.stream_prompt + args.stream_gen + 8), n)
    batch = L.llama_batch_init(max(512, n * args.stream_prompt), 0, n)
    mem = L.llama_get_memory(ctx)
    best_agg = 0.0
    for _ in range(args.repeat):
        L.llama_memory_clear(mem, True)
        t0 = time.perf_counter()
        items = []
        for s in range(n):
            p_ids = synthetic_ids(args.stream_prompt, 1000 * (s + 1), vocab)
            items += [(t, p, s, p == len(p_ids) - 1) for p, t in enumerate(p_ids)]
        decode(ctx, batch, items)
        toks = [argmax(ctx, (s + 1) * args.stream_prompt - 1) for s in range(n)]
        pos = args.stream_prompt
        for _ in range(args.stream_gen - 1):
            decode(ctx, batch, [(toks[s], pos, s, True) for s in range(n)])
            toks = [argmax(ctx, s) for s in range(n)]
            pos += 1
        best_agg = max(best_agg, n * args.stream_gen / (time.perf_counter() - t0))
    L.llama_batch_free(batch)
    L.llama_free(ctx)
    L.llama_model_free(model)
    out["aggregate_tokens_per_s"] = best_agg
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
