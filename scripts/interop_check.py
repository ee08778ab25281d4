#!/usr/bin/env python3
"""interop_check.py - check unigemm's checkpoint importers against the Python
tools that write checkpoints (not run by CI).

In a temporary directory, for each tool found in this Python environment:
  MLX          mx.quantize (affine, bits 2/3/4/5/6/8, group 32/64/128, f32, f16 and
               bf16 scales), saved with mx.save_safetensors beside a config.json
               {"quantization": {...}}; expected weights from mx.dequantize.
               Also: bits/group_size passed on the command line instead of a config,
               a per-layer override in config.json, a layer bias, nn.Module.save_weights
               (no metadata: "__metadata__": null in the header), dense bf16.
  gguf-py      GGUFWriter files with tensors quantized by gguf.quants.quantize
               (Q8_0, Q4_0, Q4_1, F16, BF16, F32), and Q4_K blocks of random bytes
               (gguf-py has no Q4_K quantizer) read back by gguf.quants.dequantize;
               a Q5_0 tensor must be refused cleanly (unigemm does not import it).
  safetensors  dense F32/F16 layers written by safetensors.numpy.save_file.
For every case: Y = X . W^T from `unigemm run` (backends cpu and ref) against
X @ W_deq.T in float64 numpy, W_deq being the tool's own dequantized weights.
Error = max |Y - Y_expected| / max |Y_expected|; PASS below 1e-5 (cpu) or 1e-6
(ref). AWQ/GPTQ checkpoints are not covered: AutoAWQ/AutoGPTQ need CUDA, and
their packing is not re-implemented here.

usage: python3 scripts/interop_check.py [--unigemm PATH] [--keep] [--tool mlx|gguf|safetensors]
Exit status 1 on any failure.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CLI = os.path.join(HERE, "..", "build", "cli", "unigemm")
THRESH = {"cpu": 1e-5, "ref": 1e-6}
BACKENDS = ("cpu", "ref")
M = 5  # rows of X

results = []  # (status, line)


def report(status, tool, fmt, shape, backend, err, note=""):
    err_s = f"{err:.3e}" if isinstance(err, float) else str(err)
    line = f"{tool:<11} {fmt:<34} {shape:<10} {backend:<4} {err_s:>10}  {status}"
    if note:
        line += f"  ({note})"
    print(line, flush=True)
    results.append((status, line))


class Ctx:
    def __init__(self, cli, tmp):
        self.cli, self.tmp, self.count = cli, tmp, 0
        self.rng = np.random.default_rng(1234)

    def path(self, name):
        self.count += 1
        d = os.path.join(self.tmp, f"{self.count:03d}")
        os.makedirs(d, exist_ok=True)
        return os.path.join(d, name)

    def run(self, weights, tensor, x, backend, extra=()):
        """Y from `unigemm run`, or (None, message)."""
        d = os.path.dirname(weights)
        xp, yp = os.path.join(d, "x.npy"), os.path.join(d, f"y_{backend}.npy")
        np.save(xp, np.ascontiguousarray(x, dtype=np.float32))
        cmd = [self.cli, "run", "--weights", weights, "--tensor", tensor, "--input", xp,
               "--output", yp, "--backend", backend, *extra]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            return None, (p.stderr.strip() or p.stdout.strip()).splitlines()[-1:]
        fmt = ""
        if " as " in p.stdout:
            fmt = p.stdout.split(" as ", 1)[1].split(",")[0]
        return np.load(yp), fmt

    def check(self, tool, fmt, weights, tensor, x, w_deq, extra=(), bias=None):
        """Run every backend and compare with X @ W_deq^T (+ bias) in float64."""
        n, k = w_deq.shape
        y_exp = x.astype(np.float64) @ np.asarray(w_deq, dtype=np.float64).T
        if bias is not None:
            y_exp = y_exp + np.asarray(bias, dtype=np.float64)
        scale = float(np.max(np.abs(y_exp))) or 1.0
        for be in BACKENDS:
            y, info = self.run(weights, tensor, x, be, extra)
            if y is None:
                report("FAIL", tool, fmt, f"{n}x{k}", be, "error", "; ".join(info))
                continue
            if y.shape != y_exp.shape:
                report("FAIL", tool, fmt, f"{n}x{k}", be, "shape", f"got {y.shape}")
                continue
            err = float(np.max(np.abs(y.astype(np.float64) - y_exp))) / scale
            ok = np.isfinite(err) and err <= THRESH[be]
            report("PASS" if ok else "FAIL", tool, fmt, f"{n}x{k}", be, err, f"as {info}")

    def x(self, k):
        return self.rng.standard_normal((M, k)).astype(np.float32)


# --------------------------------------------------------------------------- MLX

def mlx_cases(c):
    import mlx.core as mx

    mx.random.seed(1234)
    dtypes = {"f32": mx.float32, "f16": mx.float16, "bf16": mx.bfloat16}

    def to_np(a):
        return np.array(a.astype(mx.float32))

    def write(path, tensors, config, metadata=True):
        mx.save_safetensors(path, tensors, metadata={"format": "mlx"} if metadata else None)
        if config is not None:
            with open(os.path.join(os.path.dirname(path), "config.json"), "w") as f:
                json.dump(config, f)

    def quantized(n, k, bits, g, dt):
        w = mx.array(c.rng.standard_normal((n, k)).astype(np.float32) * 0.05).astype(dt)
        q, s, b = mx.quantize(w, group_size=g, bits=bits)
        # MLX's dequantized weights from the stored values, computed in f32 so
        # that f16/bf16 scales do not add MLX's own half-precision rounding.
        wd = mx.dequantize(q, s.astype(mx.float32), b.astype(mx.float32), group_size=g,
                           bits=bits)
        return q, s, b, to_np(wd)

    shapes = [(96, 256), (67, 384)]
    for n, k in shapes:
        for bits in (2, 3, 4, 5, 6, 8):
            for g in (32, 64, 128):
                for dn in (("f32", "f16", "bf16") if (n, k) == shapes[0] else ("bf16",)):
                    q, s, b, wd = quantized(n, k, bits, g, dtypes[dn])
                    p = c.path("model.safetensors")
                    write(p, {"layer.weight": q, "layer.scales": s, "layer.biases": b},
                          {"quantization": {"group_size": g, "bits": bits}})
                    c.check("mlx", f"affine b{bits} g{g} {dn} scales", p, "layer", c.x(k), wd)

    # No config.json: bits and group size on the command line.
    q, s, b, wd = quantized(96, 256, 4, 64, mx.float16)
    p = c.path("model.safetensors")
    write(p, {"layer.weight": q, "layer.scales": s, "layer.biases": b}, None)
    c.check("mlx", "affine b4 g64 f16, --bits/--group-size", p, "layer", c.x(256), wd,
            extra=("--bits", "4", "--group-size", "64"))

    # Per-layer override (mlx_lm's mixed quantization): default 4/64, one layer 8/32.
    q1, s1, b1, wd1 = quantized(96, 256, 4, 64, mx.bfloat16)
    q2, s2, b2, wd2 = quantized(80, 256, 8, 32, mx.bfloat16)
    p = c.path("model.safetensors")
    write(p, {"model.a.weight": q1, "model.a.scales": s1, "model.a.biases": b1,
              "model.b.weight": q2, "model.b.scales": s2, "model.b.biases": b2},
          {"quantization": {"group_size": 64, "bits": 4,
                            "model.b": {"group_size": 32, "bits": 8}}})
    x = c.x(256)
    c.check("mlx", "mixed: default b4 g64", p, "model.a", x, wd1)
    c.check("mlx", "mixed: override b8 g32", p, "model.b", x, wd2)

    # QuantizedLinear with a bias.
    import mlx.nn as nn
    lin = nn.Linear(256, 48, bias=True)
    lin.weight = lin.weight.astype(mx.float16)
    lin.bias = lin.bias.astype(mx.float16)
    ql = nn.QuantizedLinear.from_linear(lin, group_size=64, bits=4)
    wd = to_np(mx.dequantize(ql.weight, ql.scales.astype(mx.float32),
                             ql.biases.astype(mx.float32), group_size=64, bits=4))
    p = c.path("model.safetensors")
    write(p, {"proj.weight": ql.weight, "proj.scales": ql.scales, "proj.biases": ql.biases,
              "proj.bias": ql.bias}, {"quantization": {"group_size": 64, "bits": 4}})
    x = c.x(256)
    # The expected output against MLX's own forward pass (f32 activations).
    y_mlx = np.array(ql(mx.array(x)).astype(mx.float32), dtype=np.float64)
    y_np = x.astype(np.float64) @ wd.astype(np.float64).T + to_np(ql.bias)
    print(f"# mlx QuantizedLinear(x) against X @ dequantize(W)^T + b: "
          f"{np.abs(y_mlx - y_np).max() / np.abs(y_np).max():.2e} (MLX's f32 kernel)")
    c.check("mlx", "QuantizedLinear b4 g64 f16 +bias", p, "proj", x, wd,
            extra=("--bias",), bias=to_np(ql.bias))

    # nn.Module.save_weights: mx.save_safetensors without metadata, which MLX
    # writes as "__metadata__": null (the safetensors library reads it as none).
    class Block(nn.Module):
        def __init__(self, proj):
            super().__init__()
            self.proj = proj

    p = c.path("model.safetensors")
    Block(ql).save_weights(p)
    with open(os.path.join(os.path.dirname(p), "config.json"), "w") as f:
        json.dump({"quantization": {"group_size": 64, "bits": 4}}, f)
    c.check("mlx", "save_weights (__metadata__ null)", p, "proj", x, wd,
            extra=("--bias",), bias=to_np(ql.bias))

    # Dense bf16 layer.
    w = mx.array(c.rng.standard_normal((72, 160)).astype(np.float32)).astype(mx.bfloat16)
    p = c.path("model.safetensors")
    write(p, {"dense.weight": w}, None)
    c.check("mlx", "dense bf16", p, "dense", c.x(160), to_np(w))


# -------------------------------------------------------------------------- GGUF

def gguf_cases(c):
    import gguf
    from gguf import GGMLQuantizationType as T
    from gguf import quants

    def write(path, name, data, qtype):
        wr = gguf.GGUFWriter(path, "llama")
        wr.add_tensor(name, data, raw_dtype=qtype)
        wr.write_header_to_file()
        wr.write_kv_data_to_file()
        wr.write_tensors_to_file()
        wr.close()

    def q4_k_random(n, k):
        """Q4_K blocks of random bytes (finite positive d, dmin)."""
        blocks = n * k // 256
        raw = c.rng.integers(0, 256, size=(blocks, 144), dtype=np.uint8)
        d = (c.rng.uniform(0.5, 2.0, blocks) * 1e-3).astype(np.float16)
        dmin = (c.rng.uniform(0.5, 2.0, blocks) * 1e-3).astype(np.float16)
        raw[:, 0:2] = d.view(np.uint8).reshape(blocks, 2)
        raw[:, 2:4] = dmin.view(np.uint8).reshape(blocks, 2)
        return raw.reshape(n, k // 256 * 144)

    name = "blk.0.ffn_up.weight"
    for n, k in ((96, 256), (67, 512)):
        w = c.rng.standard_normal((n, k)).astype(np.float32)
        for qt in (T.Q8_0, T.Q4_0, T.Q4_1, T.F16, T.BF16, T.F32):
            data = quants.quantize(w, qt)
            wd = quants.dequantize(data, qt)
            p = c.path("model.gguf")
            write(p, name, data, qt)
            c.check("gguf-py", f"{qt.name} (gguf.quants.quantize)", p, name, c.x(k), wd)
        data = q4_k_random(n, k)
        wd = quants.dequantize(data, T.Q4_K)
        p = c.path("model.gguf")
        write(p, name, data, T.Q4_K)
        c.check("gguf-py", "Q4_K (random blocks)", p, name, c.x(k), wd)

    # A type unigemm does not import must be refused with a message.
    w = c.rng.standard_normal((96, 256)).astype(np.float32)
    p = c.path("model.gguf")
    write(p, name, quants.quantize(w, T.Q5_0), T.Q5_0)
    y, info = c.run(p, name, c.x(256), "ref")
    ok = y is None and any("Q5_0" in s for s in info)
    report("PASS" if ok else "FAIL", "gguf-py", "Q5_0 refused (not imported)", "96x256", "ref",
           "-", "; ".join(info) if y is None else "accepted")


# ------------------------------------------------------------------- safetensors

def safetensors_cases(c):
    from safetensors.numpy import save_file
    for dt in (np.float32, np.float16):
        w = c.rng.standard_normal((80, 192)).astype(dt)
        b = c.rng.standard_normal(80).astype(dt)
        p = c.path("model.safetensors")
        save_file({"fc.weight": w, "fc.bias": b}, p)
        c.check("safetensors", f"dense {np.dtype(dt).name} +bias", p, "fc", c.x(192),
                w.astype(np.float64), extra=("--bias",), bias=b)


# ------------------------------------------------------------------------- main

def version(mod):
    try:
        from importlib.metadata import version as v
        return v(mod)
    except Exception:
        return "not installed"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--unigemm", default=DEFAULT_CLI, help="path of the unigemm command")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--tool", action="append", choices=["mlx", "gguf", "safetensors"])
    a = ap.parse_args()
    cli = os.path.abspath(a.unigemm)
    if not os.access(cli, os.X_OK):
        sys.exit(f"interop_check: {cli} is not an executable; build it (cmake --build build)")
    tools = a.tool or ["mlx", "gguf", "safetensors"]
    modules = {"mlx": "mlx", "gguf": "gguf", "safetensors": "safetensors"}
    funcs = {"mlx": mlx_cases, "gguf": gguf_cases, "safetensors": safetensors_cases}
    print(f"# python {sys.version.split()[0]}, numpy {np.__version__}, " +
          ", ".join(f"{m} {version(m)}" for m in ("mlx", "gguf", "safetensors", "torch")))
    print(f"# {'tool':<9} {'format':<34} {'NxK':<10} {'be':<4} {'rel err':>10}  result")
    tmp = tempfile.mkdtemp(prefix="ug-interop-")
    c = Ctx(cli, tmp)
    skipped = []
    for t in tools:
        try:
            __import__(modules[t])
        except ImportError as e:
            skipped.append(f"{t} ({e})")
            print(f"SKIP {t}: not importable ({e}); pip install {t}")
            continue
        funcs[t](c)
    try:
        import torch  # noqa: F401
        torch_note = "torch present, but"
    except ImportError:
        torch_note = "torch not installed;"
    print(f"SKIP awq/gptq: {torch_note} AutoAWQ/AutoGPTQ need CUDA and their packing is not "
          "re-implemented here")
    fails = [l for s, l in results if s != "PASS"]
    print(f"\nsummary: {len(results) - len(fails)} passed, {len(fails)} failed"
          + (f", skipped: {', '.join(skipped)}" if skipped else "") + f"; files in {tmp}"
          + ("" if a.keep else " (removed)"))
    for l in fails:
        print("FAILED: " + l)
    if not a.keep:
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
