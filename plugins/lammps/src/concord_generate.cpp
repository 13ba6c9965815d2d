#include "concord_generate.h"

#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <optional>
#include <unordered_map>

#include "atom.h"
#include "comm.h"
#include "concord.hpp"
#include "concord_lammps.h"
#include "domain.h"
#include "error.h"
#include "utils.h"

using namespace LAMMPS_NS;
using concord_lammps::MolecularGraph;
using concord_lammps::TopologyAtom;
using concord_lammps::TopologyBond;

namespace {
const char *const kWho = "concord_generate";
constexpr int kAtomRecord = 7;  // id, molecule, type, x, y, z (unwrapped), charge
constexpr int kBondRecord = 3;  // id, id, bond type

/// Gathers every rank's `local` doubles on rank 0 (in rank order).
std::vector<double> gather_doubles(MPI_Comm world, int me, int nprocs,
                                   const std::vector<double> &local) {
  int count = static_cast<int>(local.size());
  std::vector<int> counts(nprocs), offsets(nprocs);
  MPI_Gather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, world);
  int total = 0;
  for (int p = 0; p < nprocs; ++p) {
    offsets[p] = total;
    total += counts[p];
  }
  std::vector<double> all(me == 0 ? total : 0);
  MPI_Gatherv(local.data(), count, MPI_DOUBLE, all.data(), counts.data(), offsets.data(),
              MPI_DOUBLE, 0, world);
  return all;
}

/// Broadcasts a string from rank 0.
std::string broadcast_string(MPI_Comm world, const std::string &text) {
  int size = static_cast<int>(text.size());
  MPI_Bcast(&size, 1, MPI_INT, 0, world);
  std::string out = text;
  out.resize(size);
  MPI_Bcast(out.data(), size, MPI_CHAR, 0, world);
  return out;
}
}  // namespace

ConcordGenerate::Options ConcordGenerate::parse(int narg, char **arg) {
  const std::string usage =
      "usage: concord_generate MODEL elements E1 ... En bondorder O1 ... Om [seed S] "
      "[samples K] [relax yes|no] [fmax F] [maxiter N] [steps N] [precision 32|64] "
      "[potential FILE] [charges yes|no]";
  if (narg < 1) error->all(FLERR, "{}: missing model file; {}", kWho, usage);
  Options opt;
  opt.model = arg[0];
  const int ntypes = atom->ntypes, nbondtypes = atom->nbondtypes;
  for (int i = 1; i < narg;) {
    const std::string key = arg[i];
    if (key == "elements") {
      if (i + ntypes >= narg)
        error->all(FLERR, "{}: elements needs one element symbol for each of the {} atom types",
                   kWho, ntypes);
      opt.type_z.assign(ntypes + 1, 0);
      for (int t = 1; t <= ntypes; ++t) {
        const std::string symbol = arg[i + t];
        opt.type_z[t] = concord_lammps::atomic_number(symbol);
        if (opt.type_z[t] == 0)
          error->all(FLERR, "{}: elements: '{}' (atom type {}) is not an element symbol", kWho,
                     symbol, t);
      }
      i += ntypes + 1;
      continue;
    }
    if (key == "bondorder") {
      if (i + nbondtypes >= narg)
        error->all(FLERR, "{}: bondorder needs one bond order (1, 2, 3 or 4 = aromatic) for each "
                          "of the {} bond types",
                   kWho, nbondtypes);
      opt.bond_order.assign(nbondtypes + 1, 0);
      for (int t = 1; t <= nbondtypes; ++t) {
        const std::string value = arg[i + t];
        if (value != "1" && value != "2" && value != "3" && value != "4")
          error->all(FLERR, "{}: bondorder '{}' (bond type {}) must be 1, 2, 3 or 4 (aromatic)",
                     kWho, value, t);
        opt.bond_order[t] = std::stoi(value);
      }
      i += nbondtypes + 1;
      continue;
    }
    if (i + 1 >= narg) error->all(FLERR, "{}: keyword '{}' needs a value; {}", kWho, key, usage);
    const char *value = arg[i + 1];
    if (key == "seed") {
      opt.seed = static_cast<unsigned long long>(utils::bnumeric(FLERR, value, false, lmp));
    } else if (key == "samples") {
      opt.samples = utils::inumeric(FLERR, value, false, lmp);
      if (opt.samples < 1) error->all(FLERR, "{}: samples {} must be at least 1", kWho, value);
    } else if (key == "relax") {
      opt.relax = utils::logical(FLERR, value, false, lmp) != 0;
    } else if (key == "fmax") {
      opt.fmax = utils::numeric(FLERR, value, false, lmp);
      if (!(opt.fmax > 0.0)) error->all(FLERR, "{}: fmax {} must be positive", kWho, value);
    } else if (key == "maxiter") {
      opt.maxiter = utils::inumeric(FLERR, value, false, lmp);
      if (opt.maxiter < 0) error->all(FLERR, "{}: maxiter {} must be >= 0", kWho, value);
    } else if (key == "steps") {
      opt.steps = utils::inumeric(FLERR, value, false, lmp);
    } else if (key == "potential") {
      opt.potential = value;
    } else if (key == "charges") {
      opt.charges = utils::logical(FLERR, value, false, lmp) != 0;
      if (opt.charges && !atom->q_flag)
        error->all(FLERR, "{}: charges yes needs an atom style with charges (e.g. full)", kWho);
    } else if (key == "precision") {
      opt.precision = utils::inumeric(FLERR, value, false, lmp);
      if (opt.precision != 32 && opt.precision != 64)
        error->all(FLERR, "{}: precision {} must be 32 or 64", kWho, value);
    } else {
      error->all(FLERR, "{}: unknown keyword '{}'; {}", kWho, key, usage);
    }
    i += 2;
  }
  if (opt.type_z.empty())
    error->all(FLERR, "{}: the elements keyword is required; {}", kWho, usage);
  if (opt.bond_order.empty() && nbondtypes > 0)
    error->all(FLERR, "{}: the bondorder keyword is required (the system has {} bond types); {}",
               kWho, nbondtypes, usage);
  return opt;
}

void ConcordGenerate::gather(const Options &opt, std::vector<TopologyAtom> &atoms,
                             std::vector<TopologyBond> &bonds) {
  const int nlocal = atom->nlocal;
  std::vector<double> my_atoms, my_bonds;
  my_atoms.reserve(kAtomRecord * nlocal);
  for (int i = 0; i < nlocal; ++i) {
    double xu[3];
    domain->unmap(atom->x[i], atom->image[i], xu);
    my_atoms.insert(my_atoms.end(), {static_cast<double>(atom->tag[i]),
                                     static_cast<double>(atom->molecule[i]),
                                     static_cast<double>(atom->type[i]), xu[0], xu[1], xu[2],
                                     opt.charges ? atom->q[i] : 0.0});
    for (int m = 0; m < atom->num_bond[i]; ++m) {
      if (atom->bond_type[i][m] <= 0) continue;  // bonds turned off (e.g. by fix shake)
      my_bonds.insert(my_bonds.end(), {static_cast<double>(atom->tag[i]),
                                       static_cast<double>(atom->bond_atom[i][m]),
                                       static_cast<double>(atom->bond_type[i][m])});
    }
  }
  const std::vector<double> all_atoms = gather_doubles(world, comm->me, comm->nprocs, my_atoms);
  const std::vector<double> all_bonds = gather_doubles(world, comm->me, comm->nprocs, my_bonds);
  for (size_t k = 0; k < all_atoms.size(); k += kAtomRecord) {
    TopologyAtom a;
    a.id = static_cast<int64_t>(all_atoms[k]);
    a.molecule = static_cast<int64_t>(all_atoms[k + 1]);
    a.atomic_number = opt.type_z[static_cast<int>(all_atoms[k + 2])];
    for (int d = 0; d < 3; ++d) a.x[d] = all_atoms[k + 3 + d];
    const double q = all_atoms[k + 6];
    // A charge that is not a small integer stays fractional here; generate() names it.
    a.formal_charge = std::abs(q) <= 15.0 && q == std::round(q) ? static_cast<int32_t>(q) : 99;
    atoms.push_back(a);
  }
  for (size_t k = 0; k < all_bonds.size(); k += kBondRecord) {
    TopologyBond b;
    b.first = static_cast<int64_t>(all_bonds[k]);
    b.second = static_cast<int64_t>(all_bonds[k + 1]);
    b.order = opt.bond_order[static_cast<int>(all_bonds[k + 2])];
    bonds.push_back(b);
  }
}

std::string ConcordGenerate::generate(const Options &opt, const std::vector<TopologyAtom> &atoms,
                                      const std::vector<TopologyBond> &bonds,
                                      std::vector<double> &records) {
  std::vector<MolecularGraph> molecules;
  const std::string problem = concord_lammps::split_molecules(atoms, bonds, molecules);
  if (!problem.empty()) return problem;
  for (const TopologyAtom &a : atoms) {
    if (a.formal_charge == 99)
      return "atom " + std::to_string(a.id) + " has a charge that is not a whole number (with " +
             "`charges yes` the atoms' charges are their formal charges: -1, 0, +1, ...)";
  }
  const double energy_unit = concord_lammps::energy_per_ev(lmp, kWho);
  try {
    concord::Model model(opt.model, "cpu", opt.precision);
    if (!model.has_generator())
      return "model '" + opt.model + "' has no structure generator (it is a potential only)";
    std::optional<concord::Model> potential;
    if (!opt.potential.empty()) potential.emplace(opt.potential, "cpu", opt.precision);
    std::optional<concord::OptimizeOptions> relax;
    if (opt.relax) {
      relax = concord::OptimizeOptions::generated();
      if (opt.fmax > 0.0) relax->fmax = opt.fmax / energy_unit;
      relax->max_steps = opt.maxiter;
    }
    int converged = 0, distorted = 0;
    for (const MolecularGraph &m : molecules) {
      const int64_t n = static_cast<int64_t>(m.atoms.size());
      const int64_t nb = static_cast<int64_t>(m.first.size());
      std::vector<concord::Bond> graph;
      for (int64_t b = 0; b < nb; ++b) graph.push_back({m.first[b], m.second[b], m.order[b]});
      concord::SamplerOptions sampler;
      sampler.seed = opt.seed + static_cast<uint64_t>(m.molecule);
      sampler.steps = opt.steps;
      std::vector<concord::GeneratedSample> samples;
      try {
        samples = model.generate_structures(m.numbers, graph, opt.relax ? opt.samples : 1,
                                            sampler, relax, potential ? &*potential : nullptr, {},
                                            m.charges);
      } catch (const concord::Error &e) {
        // Concord numbers the molecule's atoms from 0: name their LAMMPS IDs in that order.
        std::string ids;
        for (size_t a = 0; a < m.atoms.size() && a < 20; ++a)
          ids += (a ? " " : "") + std::to_string(atoms[m.atoms[a]].id);
        if (m.atoms.size() > 20) ids += " ...";
        return "molecule " + std::to_string(m.molecule) + " (atom IDs " + ids +
               " are Concord's atoms 0, 1, ...): " + e.what();
      }
      // The pipeline's best sample (rank 0: sane first, then lowest energy).
      const concord::GeneratedSample &best =
          *std::find_if(samples.begin(), samples.end(),
                        [](const concord::GeneratedSample &s) { return s.rank == 0; });
      distorted += best.sane ? 0 : 1;
      if (opt.relax) {
        converged += best.converged;
        if (molecules.size() <= 20)
          utils::logmesg(lmp,
                         "  molecule {}: {} atoms, {} bonds, best of {} samples: energy {:.6g}, "
                         "max force {:.3g}, {} steps, {}, {}\n",
                         m.molecule, n, nb, samples.size(), best.energy * energy_unit,
                         best.max_force * energy_unit, best.steps,
                         best.converged ? "converged" : "not converged",
                         best.sane ? "matches its bonds" : "DISTORTED: " + best.problem);
      }
      for (int64_t a = 0; a < n; ++a) {
        const concord::Vector3 &p = best.positions[static_cast<size_t>(a)];
        records.insert(records.end(), {static_cast<double>(atoms[m.atoms[a]].id),
                                       p[0] + m.centre[0], p[1] + m.centre[1],
                                       p[2] + m.centre[2]});
      }
    }
    utils::logmesg(lmp, "{}: placed {} molecules ({} atoms){}; {} do not match their bonds\n",
                   kWho, molecules.size(), atoms.size(),
                   opt.relax ? fmt::format(", {} relaxations converged", converged) : "",
                   distorted);
    if (distorted > 0)
      error->warning(FLERR, "{}: {} of {} molecules have no sample matching their bonds (more "
                            "samples or another seed may help)",
                     kWho, distorted, molecules.size());
  } catch (const std::exception &e) {  // concord::Error, or std::bad_alloc
    return e.what();
  }
  return "";
}

void ConcordGenerate::scatter(const std::vector<double> &records) {
  std::unordered_map<int64_t, size_t> by_id;
  for (size_t k = 0; k < records.size(); k += 4) by_id[static_cast<int64_t>(records[k])] = k;
  const imageint zero_image = (static_cast<imageint>(IMGMAX) << IMG2BITS) |
                              (static_cast<imageint>(IMGMAX) << IMGBITS) | IMGMAX;
  for (int i = 0; i < atom->nlocal; ++i) {
    const size_t k = by_id.at(static_cast<int64_t>(atom->tag[i]));
    for (int d = 0; d < 3; ++d) atom->x[i][d] = records[k + 1 + d];
    atom->image[i] = zero_image;
    domain->remap(atom->x[i], atom->image[i]);
  }
}

void ConcordGenerate::command(int narg, char **arg) {
  if (domain->box_exist == 0) error->all(FLERR, "{}: no atoms yet (read a data file first)", kWho);
  if (atom->molecular != Atom::MOLECULAR || atom->molecule_flag == 0)
    error->all(FLERR, "{}: needs molecule IDs and bonds per atom (atom_style bond, molecular or "
                      "full)",
               kWho);
  concord_lammps::energy_per_ev(lmp, kWho);  // refuses units other than metal and real
  const Options opt = parse(narg, arg);

  std::vector<TopologyAtom> atoms;
  std::vector<TopologyBond> bonds;
  gather(opt, atoms, bonds);
  std::vector<double> records;
  std::string problem;
  if (comm->me == 0) problem = generate(opt, atoms, bonds, records);
  problem = broadcast_string(world, problem);
  if (!problem.empty()) error->all(FLERR, "{}: {}", kWho, problem);

  int count = static_cast<int>(records.size());
  MPI_Bcast(&count, 1, MPI_INT, 0, world);
  records.resize(count);
  MPI_Bcast(records.data(), count, MPI_DOUBLE, 0, world);
  scatter(records);
}
