#!/usr/bin/env python3
"""Reference outputs of ONNX Runtime on pipecat's smart-turn v3.2 model, for
tests/model/asr/smart_turn_reference_test (our shared/onnx run of the same file must agree).

  smart_turn_reference.py MODEL.onnx OUT_DIR CASE...
      CASE = CLIP.wav:END_S:PAD_S  -- the clip's first END_S seconds (0 = all of it) followed by
      PAD_S seconds of zeros. Per case: OUT_DIR/<i>.feat.f32 (the [80, 800] float32 model input,
      computed here independently in float64 as pipecat's LocalSmartTurnAnalyzerV3 does it: the
      last 8 s, zeros in front, zero-mean/unit-variance over the window, Hugging Face's Whisper
      log-mel with reflect padding and the last frame dropped) and one JSON line on stdout:
      {"case", "p_ort", "p_ort_noopt", "lo_ort", "hi_ort", "lo_noopt", "hi_noopt"}: ONNX Runtime's
      probability with all graph optimizations (what pipecat runs: QDQ fused into integer
      kernels) and with none (QDQ as written: float math between explicit quantize/dequantize
      steps); lo/hi: the range of each over the features plus 16 draws of Gaussian noise of
      sigma 1e-5 (seeded) -- a QDQ graph rounds every activation to 8 bits, so inputs that differ
      in the 5th decimal (any two float implementations of the features) move the probability by
      whole quantization steps, and this is how far the model itself moves.
"""
import json
import os
import sys
import wave

import numpy as np

SR = 16000
N_FFT = 400
HOP = 160
N_MELS = 80
WINDOW = 8 * SR


def read_wav(path):
    with wave.open(path, "rb") as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1 and w.getframerate() == SR, path
        data = w.readframes(w.getnframes())
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0


def slaney_mel(freq):
    freq = np.asarray(freq, dtype=np.float64)
    mel = 3.0 * freq / 200.0
    log = freq >= 1000.0
    mel = np.where(log, 15.0 + np.log(np.maximum(freq, 1e-12) / 1000.0) * (27.0 / np.log(6.4)), mel)
    return mel


def slaney_hz(mel):
    mel = np.asarray(mel, dtype=np.float64)
    hz = 200.0 * mel / 3.0
    log = mel >= 15.0
    return np.where(log, 1000.0 * np.exp(np.log(6.4) / 27.0 * (mel - 15.0)), hz)


def mel_filters():
    bins = N_FFT // 2 + 1
    mels = np.linspace(slaney_mel(0.0), slaney_mel(SR / 2.0), N_MELS + 2)
    f = slaney_hz(mels)
    fft_f = np.linspace(0, SR // 2, bins)
    diff = np.diff(f)
    slopes = f[None, :] - fft_f[:, None]
    down = -slopes[:, :-2] / diff[:-1]
    up = slopes[:, 2:] / diff[1:]
    w = np.maximum(0.0, np.minimum(down, up))
    w *= (2.0 / (f[2:N_MELS + 2] - f[:N_MELS]))[None, :]
    return w  # [bins, mels]


def features(audio):
    x = np.zeros(WINDOW, dtype=np.float32)
    n = min(len(audio), WINDOW)
    if n:
        x[WINDOW - n:] = audio[len(audio) - n:]
    x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
    padded = np.pad(x.astype(np.float64), (N_FFT // 2, N_FFT // 2), mode="reflect")
    window = np.hanning(N_FFT + 1)[:-1]
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP]
    power = np.abs(np.fft.rfft(frames * window, axis=-1)) ** 2  # [frames, bins]
    mel = np.maximum(1e-10, power @ mel_filters())  # [frames, mels]
    log = np.log10(mel).T[:, :-1]
    log = np.maximum(log, log.max() - 8.0)
    return ((log + 4.0) / 4.0).astype(np.float32)


def main():
    import onnxruntime as ort
    model, out_dir, cases = sys.argv[1], sys.argv[2], sys.argv[3:]
    os.makedirs(out_dir, exist_ok=True)
    sessions = {}
    for name, level in (("p_ort", ort.GraphOptimizationLevel.ORT_ENABLE_ALL),
                        ("p_ort_noopt", ort.GraphOptimizationLevel.ORT_DISABLE_ALL)):
        so = ort.SessionOptions()
        so.graph_optimization_level = level
        so.intra_op_num_threads = 2
        so.inter_op_num_threads = 1
        sessions[name] = ort.InferenceSession(model, sess_options=so, providers=["CPUExecutionProvider"])
    for i, case in enumerate(cases):
        path, end_s, pad_s = case.rsplit(":", 2)
        audio = read_wav(path)
        if float(end_s) > 0:
            audio = audio[: int(round(float(end_s) * SR))]
        audio = np.concatenate([audio, np.zeros(int(round(float(pad_s) * SR)), dtype=np.float32)])
        feat = features(audio)
        feat.tofile(os.path.join(out_dir, "%d.feat.f32" % i))
        line = {"case": case}
        rng = np.random.default_rng(1234 + i)
        noisy = [feat + rng.normal(0.0, 1e-5, feat.shape).astype(np.float32) for _ in range(16)]
        for name, s in sessions.items():
            p = float(s.run(None, {"input_features": feat[None]})[0].reshape(-1)[0])
            ps = [p] + [float(s.run(None, {"input_features": x[None]})[0].reshape(-1)[0]) for x in noisy]
            line[name] = p
            suffix = "ort" if name == "p_ort" else "noopt"
            line["lo_" + suffix] = min(ps)
            line["hi_" + suffix] = max(ps)
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
