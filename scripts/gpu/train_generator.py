#!/usr/bin/env python3
"""Train the structure generator's denoiser with PyTorch, on a GPU when there is one.

Concord's trainer (`concord train`) runs on libtorch from Rust; the GPU machine some sessions
are lent has PyTorch but no Rust toolchain and no network. This script is the same denoising
objective (EDM, docs/method.md) written in PyTorch, for that machine:

    concord export-structures --config C.toml --out runs/gpu/structures.safetensors.gz
    python3 scripts/gpu/train_generator.py --data runs/gpu/structures.safetensors.gz \
        --init MODEL.concord --out DIR --minutes 7
    concord import-parameters --model MODEL.concord --parameters DIR/best.safetensors --out NEW

The export carries the data exactly as the Rust trainer sees them (species of the init model,
every topological edge with its kind, the trainer's validation split) and reference outputs of
the init model's denoiser computed by Rust in float64. Before training, this script evaluates
the same inputs with the same parameters in float64 and stops unless both implementations agree
(to 1e-9 relative): the PyTorch network below is checked against the Rust one on every run.

Only the all-pair graph scheme (`[generator] edges = "all_pairs"`) is supported: every edge
has a topological kind, so no radius search is needed on the GPU. The energy head is not
trained (denoising only); its tensors are written back unchanged.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch

from safetensors_io import read_safetensors, write_safetensors

NOISE_FREQUENCIES = 8  # src/model/denoiser.rs
ENVELOPE_P = 6  # src/model/radial.rs
FIXED = ("encoder.avg_neighbors", "energy.")  # fitted or not part of the denoiser
class Denoiser:
    """The denoiser of a Concord model file (src/model/denoiser.rs, src/model/painn.rs) as a
    function of its parameter dictionary `p` (names as in the model file)."""

    def __init__(self, config: dict):
        enc, gen = config["encoder"], config["generator"]
        if gen.get("edges") != "all_pairs":
            sys.exit("train_generator.py supports the all-pair graph scheme only")
        self.features = enc["features"]
        self.layers = enc["layers"]
        self.cutoff = enc["cutoff"]
        self.n_basis = enc["radial_basis"]
        self.vector_norm = enc.get("vector_norm", False)
        self.sigma_data = gen["sigma_data"]
        self.distance_features = gen["distance_features"]
        self.distance_max = gen["distance_max"]
        self.n_kinds = enc["edge_features"] - self.distance_features

    @staticmethod
    def lin(p, name, x, bias=True):
        b = p.get(f"{name}.bias") if bias else None
        return torch.nn.functional.linear(x, p[f"{name}.weight"], b)

    def edge_terms(self, first, second, kind, x):
        """Unit vectors `[E, 3, 1]`, enveloped radial basis `[E, K]`, envelope `[E, 1]` and
        edge attributes `[E, kinds + distance features]` at positions `x`."""
        vec = x[second] - x[first]
        r = torch.sqrt((vec * vec).sum(-1) + 1e-12)
        unit = (vec / r[:, None])[:, :, None]
        n = torch.arange(1, self.n_basis + 1, dtype=x.dtype, device=x.device)
        rbf = torch.sin(r[:, None] * (n * (math.pi / self.cutoff))) / r[:, None]
        rbf = rbf * math.sqrt(2.0 / self.cutoff)
        p = float(ENVELOPE_P)
        d = torch.clamp(r / self.cutoff, max=1.0)
        dp = d**ENVELOPE_P
        env = (
            1.0
            - (p + 1.0) * (p + 2.0) / 2.0 * dp
            + p * (p + 2.0) * dp * d
            - p * (p + 1.0) / 2.0 * dp * d * d
        )
        centres = torch.linspace(
            0.0, self.distance_max, self.distance_features, dtype=x.dtype, device=x.device
        )
        width = self.distance_max / self.distance_features
        gauss = torch.exp((r[:, None] - centres) ** 2 * (-0.5 / (width * width)))
        onehot = torch.nn.functional.one_hot(kind, self.n_kinds).to(x.dtype)
        return unit, rbf, env[:, None], torch.cat([onehot, gauss], -1)

    def encoder(self, p, species, first, second, unit, rbf, env, attr, bias):
        f = self.features
        s = p["encoder.embedding"][species] + bias
        v = torch.zeros(s.shape[0], 3, f, dtype=s.dtype, device=s.device)
        avg = p["encoder.avg_neighbors"]
        for layer in range(self.layers):
            m, u = f"encoder.message{layer}", f"encoder.update{layer}"
            phi = self.lin(p, f"{m}.phi2", torch.nn.functional.silu(self.lin(p, f"{m}.phi1", s)))
            w = self.lin(p, f"{m}.filter", rbf) * env + self.lin(p, f"{m}.edge_filter", attr, False)
            gate_v, ds_e, gate_r = (phi[second] * w).split(f, -1)
            dv_e = v[second] * gate_v[:, None, :] + unit * gate_r[:, None, :]
            s = s + torch.zeros_like(s).index_add_(0, first, ds_e) / avg
            v = v + torch.zeros_like(v).index_add_(0, first, dv_e) / avg
            v_in = v
            if self.vector_norm:
                v_in = v / torch.sqrt((v * v).sum((1, 2), keepdim=True) / f + 1.0)
            uv = self.lin(p, f"{u}.u", v_in, False)
            vv = self.lin(p, f"{u}.v", v_in, False)
            vnorm = torch.sqrt((vv * vv).sum(1) + 1e-8)
            a = self.lin(
                p, f"{u}.a2", torch.nn.functional.silu(self.lin(p, f"{u}.a1", torch.cat([s, vnorm], -1)))
            )
            a_vv, a_sv, a_ss = a.split(f, -1)
            v = v + a_vv[:, None, :] * uv
            s = s + a_sv * (uv * vv).sum(1) + a_ss
        return s, v

    def preconditioning(self, sigma):
        """EDM factors (c_skip, c_out) for noise levels `sigma`."""
        sd = self.sigma_data
        s2 = sigma * sigma + sd * sd
        return sd * sd / s2, sigma * sd / torch.sqrt(s2)

    def __call__(self, p, batch, x, sigma):
        """Denoised positions `[N, 3]` of noisy `x` `[N, 3]` at per-atom levels `sigma` `[N]`."""
        unit, rbf, env, attr = self.edge_terms(batch["first"], batch["second"], batch["kind"], x)
        arg = (torch.log(sigma) / 4.0)[:, None] * (
            2.0 ** torch.arange(NOISE_FREQUENCIES, dtype=x.dtype, device=x.device)
        )
        fourier = torch.cat([torch.sin(arg), torch.cos(arg)], -1)
        bias = self.lin(p, "denoiser.noise2", torch.nn.functional.silu(self.lin(p, "denoiser.noise1", fourier)))
        _, v = self.encoder(
            p, batch["species"], batch["first"], batch["second"], unit, rbf, env, attr, bias
        )
        out = self.lin(p, "denoiser.out", v, False)[..., 0]
        c_skip, c_out = self.preconditioning(sigma[:, None])
        return center(batch, c_skip * x + c_out * out)


def center(batch, x):
    """Subtracts each molecule's centroid from `x` `[N, 3]`."""
    sums = torch.zeros(batch["n_mols"], 3, dtype=x.dtype, device=x.device)
    sums.index_add_(0, batch["atom_mol"], x)
    return x - (sums / batch["counts"][:, None].to(x.dtype))[batch["atom_mol"]]


class Data:
    """The exported molecules on `device`; `batch(ids)` gathers molecules into one graph."""

    def __init__(self, tensors: dict[str, np.ndarray], device):
        t = lambda a, dt=torch.long: torch.as_tensor(np.asarray(a).astype(np.int64), device=device).to(dt)
        self.species = t(tensors["species"])
        self.positions = torch.as_tensor(np.array(tensors["positions"], dtype=np.float64), device=device)
        self.atom_ptr = t(tensors["atom_ptr"])
        self.edge_ptr = t(tensors["edge_ptr"])
        self.first = t(tensors["edge_first"])
        self.second = t(tensors["edge_second"])
        self.kind = t(tensors["edge_kind"])
        self.n_atoms = self.atom_ptr[1:] - self.atom_ptr[:-1]
        self.n_edges = self.edge_ptr[1:] - self.edge_ptr[:-1]
        val = np.asarray(tensors["validation"]).astype(bool)
        self.train_ids = torch.as_tensor(np.flatnonzero(~val), device=device)
        self.val_ids = torch.as_tensor(np.flatnonzero(val), device=device)

    def batch(self, ids, dtype):
        """The molecules `ids` `[B]` concatenated, with clean positions `x0` `[N, 3]`."""
        dev = ids.device
        b = ids.shape[0]
        n, ne = self.n_atoms[ids], self.n_edges[ids]
        off, eoff = torch.cumsum(n, 0) - n, torch.cumsum(ne, 0) - ne
        total, etotal = int(n.sum()), int(ne.sum())
        atom_mol = torch.repeat_interleave(torch.arange(b, device=dev), n, output_size=total)
        atoms = self.atom_ptr[ids][atom_mol] + torch.arange(total, device=dev) - off[atom_mol]
        edge_mol = torch.repeat_interleave(torch.arange(b, device=dev), ne, output_size=etotal)
        edges = self.edge_ptr[ids][edge_mol] + torch.arange(etotal, device=dev) - eoff[edge_mol]
        return {
            "species": self.species[atoms],
            "atom_mol": atom_mol,
            "n_mols": b,
            "counts": n,
            "first": self.first[edges] + off[edge_mol],
            "second": self.second[edges] + off[edge_mol],
            "kind": self.kind[edges],
            "x0": self.positions[atoms].to(dtype),
        }


def denoising_loss(model, p, batch, log_mean, log_std, generator=None):
    """EDM loss: mean over atoms of |D(x0 + sigma eps, sigma) - x0|^2 / c_out^2, one
    `ln sigma ~ N(log_mean, log_std)` per molecule (src/train/generator_losses.rs)."""
    x0 = batch["x0"]
    kw = {"generator": generator} if generator is not None else {}
    ln_sigma = log_mean + log_std * torch.randn(batch["n_mols"], dtype=x0.dtype, device=x0.device, **kw)
    sigma = torch.exp(ln_sigma)[batch["atom_mol"]]
    eps = center(batch, torch.randn(x0.shape, dtype=x0.dtype, device=x0.device, **kw))
    d = model(p, batch, x0 + eps * sigma[:, None], sigma)
    _, c_out = model.preconditioning(sigma)
    return (((d - x0) ** 2).sum(-1) / c_out**2).mean()


def check_reference(model, params, data, export, device):
    """Evaluates the export's reference inputs in float64 and compares with Rust's outputs;
    returns the largest deviation relative to the largest output."""
    p = {k: v.to(device, torch.float64) for k, v in params.items()}
    ids = torch.as_tensor(np.asarray(export["reference_mol"]), device=device)
    batch = data.batch(ids, torch.float64)
    x = torch.as_tensor(np.array(export["reference_x"]), device=device)
    sigma = torch.as_tensor(np.array(export["reference_sigma"]), device=device)
    want = torch.as_tensor(np.array(export["reference_denoised"]), device=device)
    with torch.no_grad():
        got = model(p, batch, x, sigma)
    return float((got - want).abs().max() / want.abs().max())


def validation_loss(model, p, data, args, dtype, passes=8):
    """Mean denoising loss over the validation molecules, `passes` seeded noise draws each."""
    gen = torch.Generator(device=data.val_ids.device)
    gen.manual_seed(1234)
    total, count = 0.0, 0
    with torch.no_grad():
        for _ in range(passes):
            for chunk in data.val_ids.split(args.batch):
                batch = data.batch(chunk, dtype)
                loss = denoising_loss(model, p, batch, args.log_sigma_mean, args.log_sigma_std, gen)
                total += float(loss) * batch["x0"].shape[0]
                count += batch["x0"].shape[0]
    return total / count


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="concord export-structures output")
    ap.add_argument("--init", required=True, help="the model file the export was made with")
    ap.add_argument("--out", required=True, help="folder for parameters and metrics")
    ap.add_argument("--minutes", type=float, default=5.0, help="training wall-time budget")
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: time only)")
    ap.add_argument("--batch", type=int, default=256, help="molecules per step")
    ap.add_argument("--lr", type=float, default=6e-4)
    ap.add_argument("--final-lr", type=float, default=2e-5)
    ap.add_argument("--warmup", type=int, default=300, help="steps of linear warm-up")
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--max-grad-norm", type=float, default=100.0)
    ap.add_argument("--log-sigma-mean", type=float, default=-1.0)
    ap.add_argument("--log-sigma-std", type=float, default=1.6)
    ap.add_argument("--validate-minutes", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()

    t_start = time.time()
    device = torch.device(args.device)
    torch.manual_seed(args.seed)
    torch.backends.cuda.matmul.allow_tf32 = False
    os.makedirs(args.out, exist_ok=True)
    init, init_meta = read_safetensors(args.init)
    config = json.loads(init_meta["concord"])["config"]
    model = Denoiser(config)
    export, export_meta = read_safetensors(args.data)
    data = Data(export, device)
    params = {k: torch.as_tensor(np.array(v)) for k, v in init.items()}
    deviation = check_reference(model, params, data, export, device)
    print(f"reference check (float64, {device}): max deviation {deviation:.2e} relative", flush=True)
    if not deviation < 1e-9:
        print("the PyTorch denoiser disagrees with Concord's: not training", file=sys.stderr)
        return 1

    dtype = torch.float32
    p = {k: v.to(device, dtype) for k, v in params.items()}
    names = sorted(k for k in p if not k.startswith(FIXED))
    for k in names:
        p[k].requires_grad_(True)
    train = [p[k] for k in names]
    ema = [t.detach().clone() for t in train]
    opt = torch.optim.Adam(train, lr=args.lr, betas=(0.9, 0.999), eps=1e-8, fused=device.type == "cuda")
    ema_p = {**p, **dict(zip(names, ema))}
    metrics = open(os.path.join(args.out, "metrics.jsonl"), "w")
    def save(tag, val):
        out = {k: v.detach().double().cpu().numpy() for k, v in ema_p.items()}
        record = {
            "trainer": "scripts/gpu/train_generator.py",
            "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
            "torch": torch.__version__,
            "data": json.loads(export_meta.get("concord_export", "{}")),
            "init": os.path.basename(args.init),
            "steps": step,
            "batch_molecules": args.batch,
            "validation_denoise_ema": val,
            "minutes": (time.time() - t0) / 60.0,
            "args": vars(args),
        }
        write_safetensors(
            os.path.join(args.out, f"{tag}.safetensors"), out, {"concord_training": json.dumps(record)}
        )

    best = validation_loss(model, ema_p, data, args, dtype)
    print(f"step 0: validation {best:.4f} (init)", flush=True)
    step, skipped = 0, 0
    t0 = time.time()
    save("best", best)
    n_train = data.train_ids.shape[0]
    budget = args.minutes * 60.0
    run_loss, run_n, last_val = 0.0, 0, t0
    perm, cursor = torch.randperm(n_train, device=device), 0

    while True:
        elapsed = time.time() - t0
        if elapsed >= budget or (args.max_steps and step >= args.max_steps):
            break
        progress = min(elapsed / budget, 1.0)
        lr = args.lr * (args.final_lr / args.lr) ** progress * min(1.0, (step + 1) / args.warmup)
        for g in opt.param_groups:
            g["lr"] = lr
        if cursor + args.batch > n_train:
            perm, cursor = torch.randperm(n_train, device=device), 0
        batch = data.batch(data.train_ids[perm[cursor : cursor + args.batch]], dtype)
        cursor += args.batch
        loss = denoising_loss(model, p, batch, args.log_sigma_mean, args.log_sigma_std)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(train, args.max_grad_norm)
        if not (torch.isfinite(loss) and torch.isfinite(norm)):
            skipped += 1
            continue
        opt.step()
        step += 1
        decay = min(args.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            torch._foreach_lerp_(ema, [t.detach() for t in train], 1.0 - decay)
        run_loss += float(loss)
        run_n += 1
        now = time.time()
        if now - last_val >= args.validate_minutes * 60.0 or now - t0 >= budget:
            val = validation_loss(model, ema_p, data, args, dtype)
            rec = {
                "step": step,
                "elapsed_s": round(now - t0, 1),
                "train_denoise": run_loss / max(run_n, 1),
                "validation_denoise_ema": val,
                "learning_rate": lr,
                "skipped_steps": skipped,
            }
            metrics.write(json.dumps(rec) + "\n")
            metrics.flush()
            print(json.dumps(rec), flush=True)
            save("last", val)
            if val < best:
                best = val
                save("best", val)
            run_loss, run_n, last_val = 0.0, 0, time.time()
    val = validation_loss(model, ema_p, data, args, dtype)
    save("last", val)
    if val < best:
        best = val
        save("best", val)
    print(
        f"done: {step} steps in {(time.time() - t0) / 60:.1f} min ({step / max(time.time() - t0, 1e-9):.1f}/s), "
        f"validation {val:.4f}, best {best:.4f}, {skipped} skipped, total {(time.time() - t_start) / 60:.1f} min",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
