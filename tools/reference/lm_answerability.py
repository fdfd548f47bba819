#!/usr/bin/env python3
"""Does a pinned LM tell SQuAD 2.0's unanswerable questions from answerable ones? (issue 17's
"cross-check with the LM" for QA abstention; an experiment, not a test.)

For every question of a SQuAD 2.0 file, the gold paragraph is given (oracle retrieval, so only
answerability is judged) in a ChatML prompt asking "Can the question be answered from the passage
alone? Answer yes or no."; the score is log p(yes) - log p(no) of the next token (the yes/no
spellings' first tokens pooled). Prints the AUC of that score for answerable vs unanswerable, on
all questions and on the even / odd paragraphs (services/qa's tuning / held-out halves).

Usage: ~/.cache/parley/refenv/bin/python tools/reference/lm_answerability.py SQUAD.json MODEL.gguf
Depends on llama-cpp-python (tools/reference/setup lm).
"""
import json
import math
import sys
import time

from llama_cpp import Llama


def auc(scores):
    pos = [s for s, label, _ in scores if label == 1]
    neg = [s for s, label, _ in scores if label == 0]
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def main():
    path, model = sys.argv[1], sys.argv[2]
    items = []
    for article in json.load(open(path, encoding="utf-8"))["data"]:
        for pi, p in enumerate(article["paragraphs"]):
            for qa in p["qas"]:
                items.append((pi, p["context"], qa["question"], 0 if qa.get("is_impossible") else 1))
    llm = Llama(model_path=model, n_ctx=640, n_threads=2, logits_all=True, verbose=False)

    def first_tokens(words):
        return sorted({llm.tokenize(w.encode(), add_bos=False, special=False)[0] for w in words})

    yes = first_tokens(["yes", "Yes", " yes", " Yes", "YES"])
    no = first_tokens(["no", "No", " no", " No", "NO"])
    scores = []
    t0 = time.time()
    for pi, ctx, q, label in items:
        user = (f"Passage: {ctx}\n\nQuestion: {q}\n\nCan the question be answered from the passage alone? "
                "Answer yes or no.")
        text = (f"<|im_start|>system\nYou are a careful reader.<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n"
                "<|im_start|>assistant\n")
        llm.reset()
        llm.eval(llm.tokenize(text.encode(), add_bos=True, special=True))
        logits = llm.scores[llm.n_tokens - 1]
        mx = float(max(logits))

        def lse(ids):
            return mx + math.log(sum(math.exp(float(logits[i]) - mx) for i in ids))

        scores.append((lse(yes) - lse(no), label, pi))
    print(f"{len(items)} questions in {time.time() - t0:.0f} s")
    print(f"AUC all {auc(scores):.3f}, even paragraphs {auc([s for s in scores if s[2] % 2 == 0]):.3f}, "
          f"odd {auc([s for s in scores if s[2] % 2 == 1]):.3f}")


if __name__ == "__main__":
    main()
