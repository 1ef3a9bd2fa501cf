#!/usr/bin/env python3
"""Writes the dequantisation goldens under Tests/TransformerTests/Fixtures/files/.

dequant.gguf holds one small tensor per ggml type Pare reads (2 rows; 64 columns for the
32-element block types, 512 for the 256-element K-quants). Plain and 32-block types are
quantised from seeded Gaussian floats with the `gguf` package's quantiser; Q4_K and Q6_K
(which the package cannot quantise) are seeded random bytes with sane f16 scales. The
expected floats are the `gguf` package's own dequantisation of the stored bytes, written to
dequant-expected.json as {tensor name: [float32 values as decimal, row-major]}.

Run with the goldens venv:  /work/goldens-venv/bin/python scripts/make-dequant-goldens.py
"""
import importlib.metadata
import json
import pathlib

import gguf
import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import quants

OUT = pathlib.Path(__file__).resolve().parent.parent / "Tests/TransformerTests/Fixtures/files"
rng = np.random.default_rng(20240517)


def random_k_blocks(qtype, rows, cols):
    """Random bytes for K-quant blocks, with finite f16 scales of a realistic size."""
    block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
    nblocks = rows * cols // block_size
    raw = rng.integers(0, 256, size=(nblocks, type_size), dtype=np.uint8)
    if qtype == T.Q4_K:
        d = rng.uniform(0.001, 0.02, nblocks).astype(np.float16)
        dmin = rng.uniform(0.001, 0.02, nblocks).astype(np.float16)
        raw[:, 0:2] = d.view(np.uint8).reshape(-1, 2)
        raw[:, 2:4] = dmin.view(np.uint8).reshape(-1, 2)
    elif qtype == T.Q6_K:
        d = rng.uniform(0.0005, 0.005, nblocks).astype(np.float16)
        raw[:, 208:210] = d.view(np.uint8).reshape(-1, 2)
    return raw.reshape(rows, -1)


def main():
    writer = gguf.GGUFWriter(str(OUT / "dequant.gguf"), arch="llama")
    expected = {}
    cases = [(T.F32, 64), (T.F16, 64), (T.BF16, 64), (T.Q8_0, 64), (T.Q4_0, 64), (T.Q4_1, 64),
             (T.Q4_K, 512), (T.Q6_K, 512)]
    for qtype, cols in cases:
        name = qtype.name.lower()
        if qtype in (T.Q4_K, T.Q6_K):
            stored = random_k_blocks(qtype, 2, cols)
        else:
            x = (rng.standard_normal((2, cols)) * 0.5).astype(np.float32)
            x[0, 0] = 0.0  # exact zeros and a large value exercise the edges
            x[1, 5] = 3.75
            stored = x if qtype == T.F32 else quants.quantize(x, qtype)
        values = stored if qtype == T.F32 else quants.dequantize(stored, qtype)
        values = np.asarray(values, dtype=np.float32).reshape(2, cols)
        writer.add_tensor(name, stored, raw_dtype=qtype)
        expected[name] = [float(v) for v in values.reshape(-1)]
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    (OUT / "dequant-expected.json").write_text(json.dumps(expected, indent=0) + "\n")
    print("gguf", importlib.metadata.version("gguf"), "numpy", np.__version__)


if __name__ == "__main__":
    main()
