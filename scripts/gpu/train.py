#!/usr/bin/env python3
"""Train a Concord model with PyTorch on a GPU (or the CPU): the structure generator's denoising
loss and the potential's energy and force losses, on the data `concord export-data` wrote.

Concord's trainer (`concord train`) runs on libtorch from Rust; the GPU machines some sessions
are lent have PyTorch but no Rust toolchain and no network. This script computes the same
network and losses (docs/method.md) in PyTorch for those machines:

    concord export-data --config C.toml --out runs/gpu/data.safetensors.gz
    python3 scripts/gpu/train.py --data runs/gpu/data.safetensors.gz --init MODEL.concord \
        --out DIR --minutes 7 [--energy-weight W --force-weight W --denoise-weight W]
    concord import-parameters --model MODEL.concord --parameters DIR/best.safetensors --out NEW

The export carries the data exactly as the Rust trainer sees them (species of the init model,
every topological edge of the generator's graphs with its kind, the trainer's validation split,
the energy normalisation it would fit) and reference outputs of the init model computed by
Rust in float64: denoised positions of noisy molecules, energies and forces of frames. Before
training, this script evaluates the same inputs with the same parameters in float64 and stops
unless both implementations agree (to 1e-9 relative): the PyTorch network below is checked
against the Rust one on every run.

Generator: only the all-pair graph scheme (`[generator] edges = "all_pairs"`) is supported
(every edge has a kind, so no radius search is needed). Frames: molecules (no periodic cells);
the pairs within the cutoff are found here (a pair beyond it adds exactly zero). The
relative-energy term (`--relative-energy-weight`, as `training.relative_energy_weight`) pairs
each frame with the partner the export names (its molecule's lowest-energy frame of the same
split) and is checked against Rust's value on the reference frames too. The ZBL core of a
model that has one is added to the energies with the constants the export carries (and the
reference frames include the training frame deepest inside it). No consistency losses (yet).
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
# The universal ZBL screening (src/model/zbl.rs): e^2 / (4 pi eps0) in eV Å, the screening
# length's numerator (Å) and exponent, coefficients c_m and decay rates d_m.
ZBL_COULOMB, ZBL_SCREENING_LENGTH, ZBL_SCREENING_EXPONENT = 14.399645, 0.46850, 0.23
ZBL_COEFFICIENTS = (0.18175, 0.50986, 0.28022, 0.02817)
ZBL_DECAYS = (3.19980, 0.94229, 0.40290, 0.20162)
FIXED = ("encoder.avg_neighbors", "energy.e_ref", "energy.scale")  # fitted, not trained
silu = torch.nn.functional.silu


def lin(p, name, x, bias=True):
    """`x W^T + b` with the parameters `name.weight` (and `name.bias`) of `p`."""
    b = p.get(f"{name}.bias") if bias else None
    return torch.nn.functional.linear(x, p[f"{name}.weight"], b)


class Network:
    """The network of a Concord model file (src/model/painn.rs, denoiser.rs, network.rs) as
    functions of its parameter dictionary `p` (names as in the model file)."""

    def __init__(self, config: dict):
        enc, gen = config["encoder"], config.get("generator")
        self.features = enc["features"]
        self.layers = enc["layers"]
        self.cutoff = enc["cutoff"]
        self.n_basis = enc["radial_basis"]
        self.vector_norm = enc.get("vector_norm", False)
        self.zbl_range = enc.get("zbl")
        self.zbl = None  # (atomic numbers, covalent radii) `[S]` each, from the export
        self.generator = gen
        if gen is not None:
            self.sigma_data = gen["sigma_data"]
            self.distance_features = gen["distance_features"]
            self.distance_max = gen["distance_max"]
            self.n_kinds = enc["edge_features"] - self.distance_features

    def use_zbl(self, export, device):
        """Takes the ZBL core's constants from the export when the model has the core (a fixed
        pair repulsion below `zbl` times a pair's covalent-radii sum, src/model/zbl.rs)."""
        if self.zbl_range is None:
            return
        if "zbl_radius" not in export:
            sys.exit("the init model has a ZBL core but the export carries no zbl_radius: export it again")
        self.zbl = tuple(torch.as_tensor(np.array(export[k]), device=device)
                         for k in ("zbl_atomic_numbers", "zbl_radius"))

    def zbl_atomic(self, species, first, second, vec):
        """Half of each edge's ZBL pair energy summed on its first atom, eV `[N]`
        (src/model/network.rs `ZblTensors::atomic`)."""
        z, radius = (t.to(vec.dtype) for t in self.zbl)
        r = torch.sqrt((vec * vec).sum(-1) + 1e-12)
        zi, zj = z[species[first]], z[species[second]]
        rs = (radius[species[first]] + radius[species[second]]) * self.zbl_range
        screen = ZBL_SCREENING_LENGTH / (zi**ZBL_SCREENING_EXPONENT + zj**ZBL_SCREENING_EXPONENT)
        s = sum(c * torch.exp(-d * r / screen) for c, d in zip(ZBL_COEFFICIENTS, ZBL_DECAYS))
        phi = zi * zj / r * s * envelope(r / rs) * (0.5 * ZBL_COULOMB)
        return torch.zeros(species.shape[0], dtype=vec.dtype, device=vec.device).index_add_(0, first, phi)

    def radial(self, vec):
        """Distances `[E]`, unit vectors `[E, 3, 1]`, Bessel basis `[E, K]`, envelope `[E, 1]`."""
        r = torch.sqrt((vec * vec).sum(-1) + 1e-12)
        unit = (vec / r[:, None])[:, :, None]
        n = torch.arange(1, self.n_basis + 1, dtype=vec.dtype, device=vec.device)
        rbf = torch.sin(r[:, None] * (n * (math.pi / self.cutoff))) / r[:, None]
        rbf = rbf * math.sqrt(2.0 / self.cutoff)
        return r, unit, rbf, envelope(r / self.cutoff)[:, None]

    def encoder(self, p, species, first, second, vec, attr=None, bias=None):
        """Scalar `[N, F]` and vector `[N, 3, F]` features; `attr`: the generator's edge
        features; `bias`: added to the initial scalars."""
        f = self.features
        s = p["encoder.embedding"][species]
        if bias is not None:
            s = s + bias
        v = torch.zeros(s.shape[0], 3, f, dtype=s.dtype, device=s.device)
        _, unit, rbf, env = self.radial(vec)
        avg = p["encoder.avg_neighbors"]
        for layer in range(self.layers):
            m, u = f"encoder.message{layer}", f"encoder.update{layer}"
            phi = lin(p, f"{m}.phi2", silu(lin(p, f"{m}.phi1", s)))
            w = lin(p, f"{m}.filter", rbf) * env
            if attr is not None:
                w = w + lin(p, f"{m}.edge_filter", attr, False)
            gate_v, ds_e, gate_r = (phi[second] * w).split(f, -1)
            dv_e = v[second] * gate_v[:, None, :] + unit * gate_r[:, None, :]
            s = s + torch.zeros_like(s).index_add_(0, first, ds_e) / avg
            v = v + torch.zeros_like(v).index_add_(0, first, dv_e) / avg
            v_in = v
            if self.vector_norm:
                v_in = v / torch.sqrt((v * v).sum((1, 2), keepdim=True) / f + 1.0)
            uv = lin(p, f"{u}.u", v_in, False)
            vv = lin(p, f"{u}.v", v_in, False)
            vnorm = torch.sqrt((vv * vv).sum(1) + 1e-8)
            a = lin(p, f"{u}.a2", silu(lin(p, f"{u}.a1", torch.cat([s, vnorm], -1))))
            a_vv, a_sv, a_ss = a.split(f, -1)
            v = v + a_vv[:, None, :] * uv
            s = s + a_sv * (uv * vv).sum(1) + a_ss
        return s, v

    def energies(self, p, batch, x):
        """Energies `[B]` (eV) of the batch's molecules at positions `x` `[N, 3]` (Å)."""
        first, second, species = batch["first"], batch["second"], batch["species"]
        vec = x[second] - x[first]
        s, _ = self.encoder(p, species, first, second, vec)
        e = lin(p, "energy.readout2", silu(lin(p, "energy.readout1", s)))[:, 0]
        atomic = e * p["energy.scale"] + p["energy.e_ref"][species]
        if self.zbl is not None:
            atomic = atomic + self.zbl_atomic(species, first, second, vec)
        out = torch.zeros(batch["n_mols"], dtype=x.dtype, device=x.device)
        return out.index_add_(0, batch["atom_mol"], atomic)

    def energies_and_forces(self, p, batch, x, create_graph):
        """Energies `[B]` and forces `[N, 3]` (eV/Å, by autograd)."""
        x = x.detach().requires_grad_(True)
        e = self.energies(p, batch, x)
        (g,) = torch.autograd.grad(e.sum(), x, create_graph=create_graph)
        return e, -g

    def preconditioning(self, sigma):
        """EDM factors (c_skip, c_out) for noise levels `sigma`."""
        sd = self.sigma_data
        s2 = sigma * sigma + sd * sd
        return sd * sd / s2, sigma * sd / torch.sqrt(s2)

    def denoise(self, p, batch, x, sigma):
        """Denoised positions `[N, 3]` of noisy `x` `[N, 3]` at per-atom levels `sigma` `[N]`."""
        first, second = batch["first"], batch["second"]
        vec = x[second] - x[first]
        r = torch.sqrt((vec * vec).sum(-1) + 1e-12)
        centres = torch.linspace(0.0, self.distance_max, self.distance_features, dtype=x.dtype, device=x.device)
        width = self.distance_max / self.distance_features
        gauss = torch.exp((r[:, None] - centres) ** 2 * (-0.5 / (width * width)))
        onehot = torch.nn.functional.one_hot(batch["kind"], self.n_kinds).to(x.dtype)
        attr = torch.cat([onehot, gauss], -1)
        arg = (torch.log(sigma) / 4.0)[:, None] * (
            2.0 ** torch.arange(NOISE_FREQUENCIES, dtype=x.dtype, device=x.device)
        )
        fourier = torch.cat([torch.sin(arg), torch.cos(arg)], -1)
        bias = lin(p, "denoiser.noise2", silu(lin(p, "denoiser.noise1", fourier)))
        _, v = self.encoder(p, batch["species"], first, second, vec, attr, bias)
        out = lin(p, "denoiser.out", v, False)[..., 0]
        c_skip, c_out = self.preconditioning(sigma[:, None])
        return center(batch, c_skip * x + c_out * out)


def envelope(x):
    """The radial envelope (p = ENVELOPE_P) of `x` = distance / cutoff, exactly 0 from 1 on."""
    p = float(ENVELOPE_P)
    d = torch.clamp(x, max=1.0)
    dp = d**ENVELOPE_P
    return 1.0 - (p + 1.0) * (p + 2.0) / 2.0 * dp + p * (p + 2.0) * dp * d - p * (p + 1.0) / 2.0 * dp * d * d


def center(batch, x):
    """Subtracts each molecule's centroid from `x` `[N, 3]`."""
    sums = torch.zeros(batch["n_mols"], 3, dtype=x.dtype, device=x.device)
    sums.index_add_(0, batch["atom_mol"], x)
    return x - (sums / batch["counts"][:, None].to(x.dtype))[batch["atom_mol"]]


class Data:
    """Molecules (prefix "") or labelled frames (prefix "frame_") of an export on `device`;
    `batch(ids)` gathers some into one graph."""

    def __init__(self, tensors: dict[str, np.ndarray], prefix: str, cutoff: float, device):
        def t(name, dtype=torch.long):
            return torch.as_tensor(np.asarray(tensors[prefix + name]).astype(np.int64), device=device).to(dtype)

        self.cutoff = cutoff
        self.species = t("species")
        self.positions = torch.as_tensor(np.array(tensors[prefix + "positions"], dtype=np.float64), device=device)
        self.atom_ptr = t("atom_ptr")
        self.n_atoms = self.atom_ptr[1:] - self.atom_ptr[:-1]
        self.edges = prefix + "edge_ptr" in tensors
        if self.edges:
            self.edge_ptr = t("edge_ptr")
            self.first, self.second, self.kind = t("edge_first"), t("edge_second"), t("edge_kind")
            self.n_edges = self.edge_ptr[1:] - self.edge_ptr[:-1]
        self.labels = prefix + "energy" in tensors
        if self.labels:
            self.energy = torch.as_tensor(np.array(tensors[prefix + "energy"]), device=device)
            self.forces = torch.as_tensor(np.array(tensors[prefix + "forces"], dtype=np.float64), device=device)
            self.has_forces = t("has_forces")
            self.partner = t("partner") if prefix + "partner" in tensors else None
        val = np.asarray(tensors[prefix + "validation"]).astype(bool)
        train_ids = np.flatnonzero(~val)
        if prefix + "repeat" in tensors:  # a dataset's `repeat`: that many times per epoch
            train_ids = np.repeat(train_ids, np.asarray(tensors[prefix + "repeat"]).astype(np.int64)[train_ids])
        self.train_ids = torch.as_tensor(train_ids, device=device)
        self.val_ids = torch.as_tensor(np.flatnonzero(val), device=device)

    def with_partners(self, ids):
        """`ids` `[B]` followed by their relative-energy partners that are not among them, and
        the pairs as positions in that list: (all ids, frame positions `[P]`, partner
        positions `[P]`), as src/train/samples.rs `Selection::with_partners`."""
        partner = self.partner[ids]
        has = partner >= 0
        wanted = partner[has]
        extra = torch.unique(wanted[~torch.isin(wanted, ids)])
        every = torch.cat([ids, extra])
        order = torch.argsort(every)
        at = order[torch.searchsorted(every[order], wanted)]
        return every, torch.nonzero(has).squeeze(1), at

    def batch(self, ids, dtype, positions=None):
        """The molecules `ids` `[B]` concatenated, positions `x0` `[N, 3]` (`positions` instead
        of the exported ones when given): graph edges with kinds, or the pairs within the cutoff."""
        dev = ids.device
        b = ids.shape[0]
        n = self.n_atoms[ids]
        off = torch.cumsum(n, 0) - n
        total = int(n.sum())
        atom_mol = torch.repeat_interleave(torch.arange(b, device=dev), n, output_size=total)
        atoms = self.atom_ptr[ids][atom_mol] + torch.arange(total, device=dev) - off[atom_mol]
        x0 = self.positions[atoms] if positions is None else positions
        out = {"species": self.species[atoms], "atom_mol": atom_mol, "n_mols": b, "counts": n, "x0": x0.to(dtype)}
        if self.edges:
            ne = self.n_edges[ids]
            eoff, etotal = torch.cumsum(ne, 0) - ne, int(ne.sum())
            edge_mol = torch.repeat_interleave(torch.arange(b, device=dev), ne, output_size=etotal)
            edges = self.edge_ptr[ids][edge_mol] + torch.arange(etotal, device=dev) - eoff[edge_mol]
            out.update(
                first=self.first[edges] + off[edge_mol],
                second=self.second[edges] + off[edge_mol],
                kind=self.kind[edges],
            )
        else:
            # Every ordered pair of each molecule, kept when closer than the cutoff.
            per_atom = n[atom_mol]
            first = torch.repeat_interleave(torch.arange(total, device=dev), per_atom)
            block = (torch.cumsum(per_atom, 0) - per_atom)[first]
            second = off[atom_mol[first]] + torch.arange(first.shape[0], device=dev) - block
            vec = x0[second] - x0[first]
            keep = (first != second) & ((vec * vec).sum(-1) < self.cutoff**2)
            out.update(first=first[keep], second=second[keep])
        if self.labels:
            out.update(
                energy=self.energy[ids].to(dtype),
                forces=self.forces[atoms].to(dtype),
                force_mask=self.has_forces[ids][atom_mol].to(dtype),
            )
        return out


def denoising_loss(net, p, batch, log_mean, log_std, generator=None):
    """EDM loss: mean over atoms of |D(x0 + sigma eps, sigma) - x0|^2 / c_out^2, one
    `ln sigma ~ N(log_mean, log_std)` per molecule (src/train/generator_losses.rs)."""
    x0 = batch["x0"]
    kw = {"generator": generator} if generator is not None else {}
    ln_sigma = log_mean + log_std * torch.randn(batch["n_mols"], dtype=x0.dtype, device=x0.device, **kw)
    sigma = torch.exp(ln_sigma)[batch["atom_mol"]]
    eps = center(batch, torch.randn(x0.shape, dtype=x0.dtype, device=x0.device, **kw))
    d = net.denoise(p, batch, x0 + eps * sigma[:, None], sigma)
    _, c_out = net.preconditioning(sigma)
    return (((d - x0) ** 2).sum(-1) / c_out**2).mean()


def potential_errors(net, p, batch, create_graph, scored=None):
    """Mean squared errors of energy per atom ((eV/atom)^2, frames with an energy) and of force
    components ((eV/Å)^2, frames with forces), as src/train/batch_forward.rs, with the
    energies and forces; only the first `scored` frames count (the rest are relative-energy
    partners; default all)."""
    e, f = net.energies_and_forces(p, batch, batch["x0"], create_graph)
    scored = batch["n_mols"] if scored is None else scored
    in_loss = torch.arange(batch["n_mols"], device=e.device) < scored
    has_e = torch.isfinite(batch["energy"]) & in_loss
    de = torch.where(has_e, (e - torch.nan_to_num(batch["energy"])) / batch["counts"], 0.0)
    e_mse = (de * de).sum() / has_e.sum().clamp(min=1)
    mask = (batch["force_mask"] * in_loss[batch["atom_mol"]])[:, None]
    df = (f - batch["forces"]) * mask
    f_mse = (df * df).sum() / (3.0 * mask.sum()).clamp(min=1.0)
    return e_mse, f_mse, e, f


def relative_errors(e, label, counts, frame, partner):
    """Errors of the frames' energies relative to their partners', eV `[P]`, and their mean
    square per atom ((eV/atom)^2; 0 without pairs), the relative-energy term of
    src/train/batch_forward.rs: `dR = (E - label)(frame) - (E - label)(partner)`."""
    err = e - label
    d = err[frame] - err[partner]
    mse = ((d / counts[frame]) ** 2).sum() / max(frame.shape[0], 1)
    return d, mse


def check_reference(net, params, export, structures, frames, device):
    """Evaluates the export's reference inputs in float64 and compares with Rust's outputs;
    returns the largest deviation relative to the largest reference value."""
    p = {k: v.to(device, torch.float64) for k, v in params.items()}
    worst = 0.0

    def rel(got, want):
        return float((got - want).abs().max() / want.abs().max())

    if structures is not None:
        ids = torch.as_tensor(np.asarray(export["reference_mol"]), device=device)
        batch = structures.batch(ids, torch.float64)
        x = torch.as_tensor(np.array(export["reference_x"]), device=device)
        sigma = torch.as_tensor(np.array(export["reference_sigma"]), device=device)
        want = torch.as_tensor(np.array(export["reference_denoised"]), device=device)
        with torch.no_grad():
            worst = max(worst, rel(net.denoise(p, batch, x, sigma), want))
    if frames is not None:
        ids = torch.as_tensor(np.asarray(export["frame_reference_mol"]), device=device)
        x = torch.as_tensor(np.array(export["frame_reference_positions"]), device=device)
        batch = frames.batch(ids, torch.float64, positions=x)
        e, f = (t.detach() for t in net.energies_and_forces(p, batch, x, False))
        worst = max(worst, rel(e, torch.as_tensor(np.array(export["frame_reference_energy"]), device=device)))
        worst = max(worst, rel(f, torch.as_tensor(np.array(export["frame_reference_forces"]), device=device)))
        if frames.partner is not None:
            # Rust's pairs among the reference frames: each must be a frame and its partner.
            pairs = torch.as_tensor(np.asarray(export["frame_reference_pairs"]), device=device).reshape(-1, 2)
            frame, at = pairs[:, 0], pairs[:, 1]
            if not torch.equal(frames.partner[ids[frame]], ids[at]):
                return float("inf")
            _, mse = relative_errors(e, frames.energy[ids], batch["counts"], frame, at)
            want_mse = float(np.array(export["frame_reference_relative"])[0])
            worst = max(worst, abs(float(mse) - want_mse) / max(want_mse, 1e-300))
    return worst


def validate(net, p, structures, frames, args, dtype, passes=8):
    """Validation metrics: denoising loss (seeded noise, `passes` draws per molecule), energy
    and force errors; `loss`: their weighted sum (the trainer's objective)."""
    out, loss = {}, 0.0
    if structures is not None and args.denoise_weight > 0:
        gen = torch.Generator(device=structures.val_ids.device)
        gen.manual_seed(1234)
        total, count = 0.0, 0
        with torch.no_grad():
            for _ in range(passes):
                for chunk in structures.val_ids.split(args.batch):
                    batch = structures.batch(chunk, dtype)
                    l = denoising_loss(net, p, batch, args.log_sigma_mean, args.log_sigma_std, gen)
                    total += float(l) * batch["x0"].shape[0]
                    count += batch["x0"].shape[0]
        out["validation_denoise"] = total / count
        loss += args.denoise_weight * out["validation_denoise"]
    if frames is not None and (args.energy_weight > 0 or args.force_weight > 0):
        se = sf = ne = nf = ae = af = 0.0
        energies = torch.zeros(frames.energy.shape[0], dtype=torch.float64, device=frames.energy.device)
        for chunk in frames.val_ids.split(args.frame_batch):
            batch = frames.batch(chunk, dtype)
            e_mse, f_mse, e, f = potential_errors(net, p, batch, False)
            energies[chunk] = e.detach().double()
            has_e = torch.isfinite(batch["energy"])
            k, kf = float(has_e.sum()), float(batch["force_mask"].sum()) * 3
            se, sf, ne, nf = se + float(e_mse) * k, sf + float(f_mse) * kf, ne + k, nf + kf
            ae += float(torch.where(has_e, (e - torch.nan_to_num(batch["energy"])).abs(), 0.0).sum())
            af += float(((f - batch["forces"]).abs() * batch["force_mask"][:, None]).sum())
        out.update(
            validation_energy_mse=se / max(ne, 1),
            validation_force_mse=sf / max(nf, 1),
            validation_energy_mae=ae / max(ne, 1),
            validation_force_mae=af / max(nf, 1),
        )
        loss += args.energy_weight * out["validation_energy_mse"] + args.force_weight * out["validation_force_mse"]
        if frames.partner is not None:
            frame = frames.val_ids[frames.partner[frames.val_ids] >= 0]
            d, mse = relative_errors(energies, frames.energy, frames.n_atoms, frame, frames.partner[frame])
            out.update(validation_relative_mse=float(mse), validation_relative_mae=float(d.abs().mean()))
            loss += args.relative_energy_weight * out["validation_relative_mse"]
    out["validation_loss"] = loss
    return out


def arguments():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="concord export-data output")
    ap.add_argument("--init", required=True, help="the model file the export was made with")
    ap.add_argument("--out", required=True, help="folder for parameters and metrics")
    ap.add_argument("--minutes", type=float, default=5.0, help="training wall-time budget")
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: time only)")
    ap.add_argument("--batch", type=int, default=256, help="structure-data molecules per step")
    ap.add_argument("--frame-batch", type=int, default=64, help="labelled frames per step")
    ap.add_argument("--denoise-weight", type=float, default=1.0)
    ap.add_argument("--energy-weight", type=float, default=0.0, help="on (eV/atom)^2")
    ap.add_argument("--force-weight", type=float, default=0.0, help="on (eV/Å)^2")
    ap.add_argument("--relative-energy-weight", type=float, default=0.0,
                    help="on (eV/atom)^2: each frame's energy relative to its molecule's lowest-energy "
                         "frame (training.relative_energy_weight)")
    ap.add_argument("--fresh-energy-head", action="store_true",
                    help="for an init whose energy head was never trained: the export's fitted reference "
                         "energies and scale, and a zero last read-out layer (energies start at the "
                         "composition fit, forces at zero)")
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
    return ap.parse_args()


class Run:
    """The training state: parameters, their EMA, Adam, data, the output folder."""

    def __init__(self, args):
        self.args = args
        self.device = torch.device(args.device)
        init, init_meta = read_safetensors(args.init)
        self.net = Network(json.loads(init_meta["concord"])["config"])
        self.export, meta = read_safetensors(args.data)
        self.export_meta = json.loads(meta.get("concord_export", "{}"))
        cut = self.net.cutoff
        self.structures = Data(self.export, "", cut, self.device) if "species" in self.export else None
        self.frames = Data(self.export, "frame_", cut, self.device) if "frame_species" in self.export else None
        if self.structures is not None and self.net.generator is None:
            sys.exit("the export holds structure data but the init model has no generator")
        if self.structures is not None and self.net.generator.get("edges") != "all_pairs":
            sys.exit("train.py supports the all-pair graph scheme only")
        self.params = {k: torch.as_tensor(np.array(v)) for k, v in init.items()}
        self.net.use_zbl(self.export, self.device)

    def prepare(self, dtype):
        args = self.args
        if args.fresh_energy_head:
            self.params["energy.e_ref"] = torch.as_tensor(np.array(self.export["fitted_e_ref"]))
            self.params["energy.scale"] = torch.as_tensor(np.array(self.export["fitted_scale"]))
            for name in ["energy.readout2.weight", "energy.readout2.bias"]:
                self.params[name] = torch.zeros_like(self.params[name])
        self.p = {k: v.to(self.device, dtype) for k, v in self.params.items()}
        self.names = sorted(k for k in self.p if k not in FIXED)
        for k in self.names:
            self.p[k].requires_grad_(True)
        self.train = [self.p[k] for k in self.names]
        self.ema = [t.detach().clone() for t in self.train]
        self.ema_p = {**self.p, **dict(zip(self.names, self.ema))}
        fused = self.device.type == "cuda"
        self.opt = torch.optim.Adam(self.train, lr=args.lr, betas=(0.9, 0.999), eps=1e-8, fused=fused)

    def save(self, tag, record):
        out = {k: v.detach().double().cpu().numpy() for k, v in self.ema_p.items()}
        record = {
            "trainer": "scripts/gpu/train.py",
            "device": torch.cuda.get_device_name() if self.device.type == "cuda" else "cpu",
            "torch": torch.__version__,
            "data": self.export_meta,
            "init": os.path.basename(self.args.init),
            "batch_molecules": self.args.batch,
            **record,
            "args": vars(self.args),
        }
        path = os.path.join(self.args.out, f"{tag}.safetensors")
        write_safetensors(path, out, {"concord_training": json.dumps(record)})

    def step_loss(self, cursors):
        """The weighted loss of the next batch of each task."""
        args, total = self.args, 0.0
        parts = {}
        for name, data, size in [("structures", self.structures, args.batch), ("frames", self.frames, args.frame_batch)]:
            if data is None:
                continue
            if name == "structures" and args.denoise_weight <= 0:
                continue
            if name == "frames" and args.energy_weight <= 0 and args.force_weight <= 0:
                continue
            perm, cursor = cursors[name]
            if cursor + size > perm.shape[0]:
                perm, cursor = torch.randperm(perm.shape[0], device=self.device), 0
            ids = data.train_ids[perm[cursor : cursor + size]]
            relative = name == "frames" and args.relative_energy_weight > 0
            if relative:
                ids, pair_frame, pair_partner = data.with_partners(ids)
            batch = data.batch(ids, torch.float32)
            cursors[name] = (perm, cursor + size)
            if name == "structures":
                l = denoising_loss(self.net, self.p, batch, args.log_sigma_mean, args.log_sigma_std)
                parts["train_denoise"] = l
                total = total + args.denoise_weight * l
            else:
                e_mse, f_mse, e, _ = potential_errors(self.net, self.p, batch, True, size)
                parts["train_energy_mse"], parts["train_force_mse"] = e_mse, f_mse
                total = total + args.energy_weight * e_mse + args.force_weight * f_mse
                if relative and pair_frame.shape[0] > 0:
                    _, r_mse = relative_errors(e, batch["energy"], batch["counts"], pair_frame, pair_partner)
                    parts["train_relative_mse"] = r_mse
                    total = total + args.relative_energy_weight * r_mse
        return total, parts


def main() -> int:
    args = arguments()
    t_start = time.time()
    torch.manual_seed(args.seed)
    torch.backends.cuda.matmul.allow_tf32 = False
    os.makedirs(args.out, exist_ok=True)
    run = Run(args)
    if args.relative_energy_weight > 0 and (run.frames is None or run.frames.partner is None):
        print("--relative-energy-weight needs an export with frame partners (concord export-data of "
              "this version)", file=sys.stderr)
        return 1
    deviation = check_reference(run.net, run.params, run.export, run.structures, run.frames, run.device)
    print(f"reference check (float64, {run.device}): max deviation {deviation:.2e} relative", flush=True)
    if not deviation < 1e-9:
        print("the PyTorch network disagrees with Concord's: not training", file=sys.stderr)
        return 1
    dtype = torch.float32
    run.prepare(dtype)
    metrics = open(os.path.join(args.out, "metrics.jsonl"), "w")
    step, skipped = 0, 0
    t0 = time.time()
    val = validate(run.net, run.ema_p, run.structures, run.frames, args, dtype)
    best = val["validation_loss"]
    print(json.dumps({"step": 0, **val}), flush=True)
    run.save("best", {"steps": 0, **val})
    budget = args.minutes * 60.0
    cursors = {}
    for name, data in [("structures", run.structures), ("frames", run.frames)]:
        if data is not None:
            cursors[name] = (torch.randperm(data.train_ids.shape[0], device=run.device), 0)
    sums, n_sums, last_val = {}, 0, t0
    while True:
        elapsed = time.time() - t0
        if elapsed >= budget or (args.max_steps and step >= args.max_steps):
            break
        progress = min(elapsed / budget, 1.0)
        lr = args.lr * (args.final_lr / args.lr) ** progress * min(1.0, (step + 1) / args.warmup)
        for g in run.opt.param_groups:
            g["lr"] = lr
        loss, parts = run.step_loss(cursors)
        run.opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(run.train, args.max_grad_norm)
        if not (torch.isfinite(loss) and torch.isfinite(norm)):
            skipped += 1
            continue
        run.opt.step()
        step += 1
        decay = min(args.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            torch._foreach_lerp_(run.ema, [t.detach() for t in run.train], 1.0 - decay)
        for k, v in parts.items():
            sums[k] = sums.get(k, 0.0) + float(v.detach())
        n_sums += 1
        now = time.time()
        if now - last_val >= args.validate_minutes * 60.0:
            val = validate(run.net, run.ema_p, run.structures, run.frames, args, dtype)
            rec = {"step": step, "elapsed_s": round(now - t0, 1), **{k: v / n_sums for k, v in sums.items()},
                   **val, "learning_rate": lr, "skipped_steps": skipped}
            metrics.write(json.dumps(rec) + "\n")
            metrics.flush()
            print(json.dumps(rec), flush=True)
            run.save("last", rec)
            if val["validation_loss"] < best:
                best = val["validation_loss"]
                run.save("best", rec)
            sums, n_sums, last_val = {}, 0, time.time()
    val = validate(run.net, run.ema_p, run.structures, run.frames, args, dtype)
    rec = {"step": step, "elapsed_s": round(time.time() - t0, 1), **val, "skipped_steps": skipped}
    metrics.write(json.dumps(rec) + "\n")
    run.save("last", rec)
    if val["validation_loss"] < best:
        best = val["validation_loss"]
        run.save("best", rec)
    elapsed = max(time.time() - t0, 1e-9)
    print(
        f"done: {step} steps in {elapsed / 60:.1f} min ({step / elapsed:.1f}/s), validation "
        f"{val['validation_loss']:.4f}, best {best:.4f}, {skipped} skipped, total {(time.time() - t_start) / 60:.1f} min",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
