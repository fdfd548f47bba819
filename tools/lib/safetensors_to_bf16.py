#!/usr/bin/env python3
"""safetensors_to_bf16.py IN OUT: rewrite every F32 tensor of a safetensors file as BF16.

Why: tools/gpu-check carries the MiniLM encoder to the lent GPU machine inside a 64 MiB bundle;
its 91 MB of f32 weights become 45 MB. The bf16 values are the f32 values with the low 16 bits
dropped (rounding toward zero: done with byte slicing, so the standard library converts 90 MB in
a second). Parley's safetensors reader widens BF16 back to f32 at load, so the GPU-vs-CPU checks
compare both paths on the same (rounded) weights. Other dtypes are copied unchanged.
Standard library only.
"""
import json
import struct
import sys


def main(src, dst):
    with open(src, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    data = memoryview(raw)[8 + n :]
    meta = header.pop("__metadata__", None)
    out_header, chunks, offset = {}, [], 0
    for name, t in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        begin, end = t["data_offsets"]
        blob = data[begin:end]
        if t["dtype"] == "F32":
            b = bytearray(len(blob) // 2)
            b[0::2] = blob[2::4]  # little-endian: bytes 2 and 3 of each f32 are its top 16 bits
            b[1::2] = blob[3::4]
            blob, dtype = bytes(b), "BF16"
        else:
            blob, dtype = bytes(blob), t["dtype"]
        out_header[name] = {"dtype": dtype, "shape": t["shape"], "data_offsets": [offset, offset + len(blob)]}
        chunks.append(blob)
        offset += len(blob)
    if meta is not None:
        out_header["__metadata__"] = meta
    text = json.dumps(out_header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(dst, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for c in chunks:
            f.write(c)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
