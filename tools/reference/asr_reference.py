#!/usr/bin/env python3
"""Reference outputs of faster-whisper / CTranslate2 on the same Whisper model.bin, for
tests/model/asr (our engine must produce the same greedy tokens) and tests/bench/asr (speed).

  asr_reference.py reference MODEL_DIR OUT_DIR [--language CODE] CLIP.wav...   per clip: OUT_DIR/<clip>.mel.f32 (faster-whisper's
      [80, 3000] window, float32 LE), and one JSON line per clip and compute type on stdout:
      {"clip", "compute_type", "tokens", "text", "no_speech_prob", "suppress", "prompt"}  (the generate() call
      transcribe() makes for a clip of <= 30 s: same features, prompt and options; --language: the decoder
      language of a multilingual model, default en)
  asr_reference.py bench MODEL_DIR THREADS ROUNDS CLIP.wav...   offline transcription speed of
      faster-whisper (compute_type int8, beam 1, no VAD): one JSON line {"audio_s", "best_s", "texts"}
  asr_reference.py streams MODEL_DIR THREADS N CLIP.wav   N transcriptions of the clip from N Python
      threads sharing one model (CTranslate2 batches nothing across calls; inter_threads = N):
      {"n", "wall_s", "audio_s"}

Greedy settings everywhere: beam_size 1, temperature 0 (no fallback), no VAD, no previous-text
conditioning; the decoder prompt is faster-whisper's ([<|startoftranscript|>] for English-only
models) with timestamps, max_initial_timestamp 1.0, suppress_tokens [-1], suppress_blank.
"""
import json
import os
import sys
import threading
import time
import wave

import numpy as np


def read_wav(path):
    with wave.open(path, "rb") as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1 and w.getframerate() == 16000, path
        data = w.readframes(w.getnframes())
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0


def load(model_dir, compute_type, threads=2, workers=1):
    from faster_whisper import WhisperModel
    return WhisperModel(model_dir, device="cpu", compute_type=compute_type, cpu_threads=threads, num_workers=workers)


def reference(model_dir, out_dir, clips, language="en"):
    import ctranslate2
    from faster_whisper.audio import pad_or_trim
    from faster_whisper.transcribe import get_suppressed_tokens
    os.makedirs(out_dir, exist_ok=True)
    for compute_type in ("float32", "int8"):
        model = load(model_dir, compute_type)
        tok = model.hf_tokenizer
        for clip in clips:
            audio = read_wav(clip)
            feats = model.feature_extractor(audio)
            content = feats.shape[-1] - 1
            seg = pad_or_trim(feats[:, : min(3000, content)]).astype(np.float32)
            name = os.path.splitext(os.path.basename(clip))[0]
            if compute_type == "float32":
                seg.tofile(os.path.join(out_dir, name + ".mel.f32"))
            from faster_whisper.tokenizer import Tokenizer
            tokenizer = Tokenizer(tok, model.model.is_multilingual, task="transcribe", language=language)
            prompt = model.get_prompt(tokenizer, [], without_timestamps=False)
            enc = model.encode(seg)
            res = model.model.generate(enc, [prompt], beam_size=1, max_length=448, return_scores=True,
                                       return_no_speech_prob=True, suppress_blank=True,
                                       suppress_tokens=list(get_suppressed_tokens(tokenizer, [-1])),
                                       max_initial_timestamp_index=50)[0]
            tokens = res.sequences_ids[0]
            print(json.dumps({
                "clip": name, "compute_type": compute_type, "tokens": tokens,
                "text": tokenizer.decode([t for t in tokens if t < tokenizer.eot]).strip(),
                "no_speech_prob": res.no_speech_prob,
                "suppress": list(get_suppressed_tokens(tokenizer, [-1])),
                "prompt": prompt,
            }), flush=True)


def bench(model_dir, threads, rounds, clips):
    model = load(model_dir, "int8", threads)
    audios = [read_wav(c) for c in clips]
    audio_s = sum(len(a) for a in audios) / 16000.0
    best, texts = None, []
    for _ in range(rounds):
        t0 = time.perf_counter()
        texts = []
        for a in audios:
            segs, _ = model.transcribe(a, beam_size=1, temperature=0.0, condition_on_previous_text=False,
                                       vad_filter=False, language="en")
            texts.append("".join(s.text for s in segs).strip())
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    print(json.dumps({"audio_s": audio_s, "best_s": best, "texts": texts}), flush=True)


def streams(model_dir, threads, n, clip):
    model = load(model_dir, "int8", threads, workers=n)
    audio = read_wav(clip)

    def one():
        segs, _ = model.transcribe(audio, beam_size=1, temperature=0.0, condition_on_previous_text=False,
                                   vad_filter=False, language="en")
        "".join(s.text for s in segs)

    one()  # warm-up
    t0 = time.perf_counter()
    ts = [threading.Thread(target=one) for _ in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print(json.dumps({"n": n, "wall_s": time.perf_counter() - t0, "audio_s": len(audio) / 16000.0}), flush=True)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "reference":
        rest = sys.argv[4:]
        if rest[:1] == ["--language"]:
            reference(sys.argv[2], sys.argv[3], rest[2:], rest[1])
        else:
            reference(sys.argv[2], sys.argv[3], rest)
    elif cmd == "bench":
        bench(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5:])
    elif cmd == "streams":
        streams(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    else:
        sys.exit("usage: see the docstring")
