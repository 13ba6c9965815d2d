#include "pair_concord.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "atom.h"
#include "comm.h"
#include "concord.hpp"
#include "concord_lammps.h"
#include "domain.h"
#include "error.h"
#include "force.h"
#include "memory.h"
#include "neigh_list.h"
#include "neighbor.h"
#include "update.h"
#include "utils.h"

using namespace LAMMPS_NS;

namespace {
const char *const kWho = "pair concord";

/// Throws concord::Error with the library's message and atoms when a C call failed.
void check(concord_status_t status) { concord::detail::check(status); }
}  // namespace

PairConcord::PairConcord(LAMMPS *lmp) : Pair(lmp) {
  single_enable = 0;
  restartinfo = 0;
  one_coeff = 1;
  manybody_flag = 1;
}

PairConcord::~PairConcord() {
  if (devi_file_) std::fclose(devi_file_);
  memory->destroy(atom_devi_);
  if (allocated) {
    memory->destroy(setflag);
    memory->destroy(cutsq);
  }
}

void PairConcord::settings(int narg, char **arg) {
  if (narg < 1)
    error->all(FLERR,
               "{}: missing model file; usage: pair_style concord MODEL [MODEL2 ...] "
               "[precision auto|32|64] [device D] [pairs concord|lammps] [cell auto|no] "
               "[exchange yes|no] [out_freq N] [out_file FILE]",
               kWho);
  energy_unit_ = concord_lammps::energy_per_ev(lmp, kWho);
  // A repeated pair_style starts from the defaults, not from the previous command's keywords.
  precision_ = 0;
  device_ = "cpu";
  lammps_pairs_ = false;
  cell_allowed_ = true;
  exchange_ = true;
  out_freq_ = 0;
  out_file_ = "model_devi.out";
  static const char *const keywords[] = {"precision", "device",   "pairs",   "cell",
                                         "exchange",  "out_freq", "out_file"};
  auto is_keyword = [](const std::string &a) {
    return std::find(std::begin(keywords), std::end(keywords), a) != std::end(keywords);
  };
  std::vector<std::string> paths;
  int i = 0;
  // Model files first (the first drives; committee members must be named *.concord).
  auto is_member = [](const std::string &a) {
    return a.size() > 8 && a.compare(a.size() - 8, 8, ".concord") == 0;
  };
  while (i < narg && !is_keyword(arg[i]) && (i == 0 || is_member(arg[i])))
    paths.emplace_back(arg[i++]);
  model_path_ = paths.empty() ? "" : paths[0];
  if (paths.empty()) error->all(FLERR, "{}: missing model file before '{}'", kWho, arg[0]);
  for (; i < narg; i += 2) {
    const std::string key = arg[i];
    if (!is_keyword(key))
      error->all(FLERR,
                 "{}: unknown keyword '{}' (expected precision, device, pairs, cell, exchange, "
                 "out_freq or out_file; model files come first)",
                 kWho, key);
    if (i + 1 >= narg) error->all(FLERR, "{}: keyword '{}' needs a value", kWho, key);
    const std::string value = arg[i + 1];
    if (key == "precision") {
      if (value != "auto" && value != "32" && value != "64")
        error->all(FLERR, "{}: precision '{}' must be auto, 32 or 64", kWho, value);
      precision_ = value == "auto" ? 0 : std::stoi(value);
    } else if (key == "device") {
      device_ = value;
    } else if (key == "pairs") {
      if (value != "concord" && value != "lammps")
        error->all(FLERR, "{}: pairs '{}' must be concord or lammps", kWho, value);
      lammps_pairs_ = value == "lammps";
    } else if (key == "cell") {
      if (value != "auto" && value != "no")
        error->all(FLERR, "{}: cell '{}' must be auto or no", kWho, value);
      cell_allowed_ = value == "auto";
    } else if (key == "exchange") {
      if (value != "yes" && value != "no")
        error->all(FLERR, "{}: exchange '{}' must be yes or no", kWho, value);
      exchange_ = value == "yes";
    } else if (key == "out_freq") {
      out_freq_ = utils::inumeric(FLERR, value, false, lmp);
      if (out_freq_ < 1) error->all(FLERR, "{}: out_freq {} must be at least 1", kWho, value);
    } else {
      out_file_ = value;
    }
  }
  const int loaded = precision_ == 0 ? 32 : precision_;
  model_ = concord_lammps::load_model(lmp, kWho, model_path_, device_, loaded);
  model64_.reset();
  committee_.clear();
  for (size_t k = 1; k < paths.size(); ++k)
    committee_.push_back(concord_lammps::load_model(lmp, kWho, paths[k], device_, loaded));
  if (committee_.empty() && out_freq_ > 0)
    error->all(FLERR, "{}: out_freq needs a committee (two or more model files)", kWho);
  if (!committee_.empty()) {
    if (out_freq_ == 0) out_freq_ = 1;
    if (comm->me == 0) {
      if (devi_file_) std::fclose(devi_file_);
      devi_file_ = std::fopen(out_file_.c_str(), "w");
      if (!devi_file_)
        error->one(FLERR, "{}: cannot open out_file '{}': {}", kWho, out_file_,
                   std::strerror(errno));
      std::fprintf(devi_file_, "#%11s %18s %18s %18s %18s %18s %18s\n", "step", "max_devi_v",
                   "min_devi_v", "avg_devi_v", "max_devi_f", "min_devi_f", "avg_devi_f");
    }
  }
  // Buffer sizes of LAMMPS's communication, set here because pair_style hybrid takes the
  // largest of its sub-styles' when they are created: the committee's forces, and the widest
  // row any model exchanges between layers.
  comm_forward = 0;
  comm_reverse = committee_.empty() ? 0 : 3 * static_cast<int>(1 + committee_.size());
  for (size_t k = 0; exchange_ && k <= committee_.size(); ++k) {
    int64_t width = 0;
    int32_t rounds = 0;
    check(concord_model_exchange_shape((k == 0 ? model_ : committee_[k - 1])->handle(), &width,
                                       &rounds));
    comm_forward = std::max(comm_forward, static_cast<int>(width));
  }
  comm_reverse = std::max(comm_reverse, comm_forward);
  cutoff_ = model_->cutoff();
  receptive_field_ = model_->receptive_field();
  for (const auto &m : committee_) {
    cutoff_ = std::max(cutoff_, m->cutoff());
    receptive_field_ = std::max(receptive_field_, m->receptive_field());
  }
}

void PairConcord::coeff(int narg, char **arg) {
  if (!model_) error->all(FLERR, "{}: pair_coeff before pair_style", kWho);
  const int ntypes = atom->ntypes;
  if (narg != 2 + ntypes || std::strcmp(arg[0], "*") != 0 || std::strcmp(arg[1], "*") != 0)
    error->all(FLERR,
               "{}: expected 'pair_coeff * * ELEMENT...' with one element symbol (or NULL) for "
               "each of the {} atom types",
               kWho, ntypes);
  if (!allocated) {
    allocated = 1;
    memory->create(setflag, ntypes + 1, ntypes + 1, "pair:setflag");
    memory->create(cutsq, ntypes + 1, ntypes + 1, "pair:cutsq");
  }
  const std::vector<int32_t> known = model_->elements();
  type_z_.assign(ntypes + 1, 0);
  for (int t = 1; t <= ntypes; ++t) {
    const std::string symbol = arg[1 + t];
    if (symbol == "NULL") continue;
    const int z = concord_lammps::atomic_number(symbol);
    if (z == 0)
      error->all(FLERR, "{}: pair_coeff: '{}' (atom type {}) is not an element symbol", kWho,
                 symbol, t);
    if (std::find(known.begin(), known.end(), z) == known.end()) {
      std::string names;
      for (int32_t k : known) names += std::string(" ") + std::to_string(k);
      error->all(FLERR,
                 "{}: pair_coeff: element {} (atom type {}) is not one of the model's elements "
                 "(atomic numbers{})",
                 kWho, symbol, t, names);
    }
    type_z_[t] = z;
  }
  int count = 0;
  for (int i = 1; i <= ntypes; ++i) {
    for (int j = i; j <= ntypes; ++j) {
      setflag[i][j] = (type_z_[i] != 0 && type_z_[j] != 0) ? 1 : 0;
      count += setflag[i][j];
    }
  }
  if (count == 0) error->all(FLERR, "{}: pair_coeff maps every atom type to NULL", kWho);
}

void PairConcord::init_style() {
  if (force->newton_pair == 0)
    error->all(FLERR,
               "{}: needs 'newton on' (or 'newton on off'): forces on ghost atoms must be "
               "sent back to their owners",
               kWho);
  energy_unit_ = concord_lammps::energy_per_ev(lmp, kWho);
  use_cell_ = cell_allowed_ && comm->nprocs == 1;
  if (!committee_.empty() && atom->nmax > nmax_devi_) {  // fix pair may ask before step 0
    memory->destroy(atom_devi_);
    nmax_devi_ = atom->nmax;
    memory->create(atom_devi_, nmax_devi_, "pair:atom_devi");
    std::fill(atom_devi_, atom_devi_ + nmax_devi_, 0.0);
  }
  // The one-rank path computes the global virial itself (no ghosts to sum r.f over).
  no_virial_fdotr_compute = use_cell_ ? 1 : 0;
  if (!use_cell_) {
    // Ghosts must cover one cutoff (with the exchange between layers) or the receptive field
    // around every local atom until the next reneighbouring, when atoms may have moved by up
    // to half the skin each.
    const double needed = (exchange_ ? cutoff_ : receptive_field_) + neighbor->skin;
    if (comm->cutghostuser < needed) comm->cutghostuser = needed;
  }
  if (!use_cell_ && lammps_pairs_) {
    // LAMMPS drops bonded pairs whose special_bonds weights are all zero from its lists.
    for (int k = 1; k <= 3 && atom->molecular != Atom::ATOMIC; ++k) {
      if (force->special_lj[k] == 0.0 && force->special_coul[k] == 0.0)
        error->all(FLERR,
                   "{}: 'pairs lammps' needs every bonded pair in the neighbour list; set "
                   "special_bonds lj/coul 1 1 1 (or 'pairs concord')",
                   kWho);
    }
    neighbor->add_request(this, NeighConst::REQ_FULL | NeighConst::REQ_GHOST);
  }
}

double PairConcord::init_one(int i, int j) {
  if (setflag[i][j] == 0) error->all(FLERR, "{}: all pair coeffs are not set", kWho);
  return cutoff_;
}

void PairConcord::compute(int eflag, int vflag) {
  ev_init(eflag, vflag);
  std::string failure;
  try {
    if (use_cell_) {
      compute_cell();
    } else {
      compute_ghosts();
    }
    if (!committee_.empty() && update->ntimestep % out_freq_ == 0) compute_deviation();
  } catch (const concord::Error &e) {
    failure = e.what() + atom_ids(e.atoms());
  } catch (const std::exception &e) {  // e.g. std::bad_alloc for the buffers
    failure = e.what();
  }
  report_failure(failure);
  if (vflag_fdotr) virial_fdotr_compute();
}

const concord::Model &PairConcord::driver() {
  // update->whichflag: 1 during run, 2 during minimize. A line search compares energies that
  // differ by less than float32 round-off, so minimisation runs in float64.
  if (precision_ != 0 || update->whichflag != 2) return *model_;
  if (!model64_) {
    model64_ = concord_lammps::load_model(lmp, kWho, model_path_, device_, 64);
    if (comm->me == 0)
      utils::logmesg(lmp, "{}: precision auto: minimisation evaluates the model in float64\n",
                     kWho);
  }
  return *model64_;
}

std::string PairConcord::atom_ids(const std::vector<int64_t> &atoms) const {
  if (atoms.empty()) return "";
  std::string ids = " (LAMMPS atom IDs";
  for (int64_t a : atoms) {
    const bool known = a >= 0 && static_cast<size_t>(a) < selected_.size();
    ids += " " + (known ? std::to_string(atom->tag[selected_[a]]) : std::string("?"));
  }
  return ids + ")";
}

void PairConcord::report_failure(const std::string &failure) {
  // Collective, so that a failure on any rank ends the run through error->all: rank 0 then
  // writes the message to the log file too (error->one on another rank reaches only its screen).
  const int mine = failure.empty() ? comm->nprocs : comm->me;
  int first = comm->nprocs;
  MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, world);
  if (first == comm->nprocs) return;
  int length = comm->me == first ? static_cast<int>(failure.size()) : 0;
  MPI_Bcast(&length, 1, MPI_INT, first, world);
  std::string message = comm->me == first ? failure : std::string(length, ' ');
  MPI_Bcast(message.data(), length, MPI_CHAR, first, world);
  error->all(FLERR, "{}: {} (on MPI rank {})", kWho, message, first);
}

int64_t PairConcord::select_atoms(int n) {
  const int nlocal = atom->nlocal;
  const int *type = atom->type;
  double **x = atom->x;
  selected_.clear();
  numbers_.clear();
  positions_.clear();
  concord_index_.assign(n, -1);
  int64_t n_local = 0;
  for (int i = 0; i < n; ++i) {
    const int32_t z = type_z_[type[i]];
    if (z == 0) continue;
    concord_index_[i] = static_cast<int>(selected_.size());
    selected_.push_back(i);
    numbers_.push_back(z);
    positions_.insert(positions_.end(), x[i], x[i] + 3);
    if (i < nlocal) ++n_local;
  }
  return n_local;
}

void PairConcord::compute_cell() {
  const int64_t n = select_atoms(atom->nlocal);
  n_local_selected_ = n;
  if (n == 0) return;
  const double *h = domain->h;  // xprd yprd zprd yz xz xy
  const double cell[9] = {h[0], 0.0, 0.0, h[5], h[1], 0.0, h[4], h[3], h[2]};
  const int32_t periodic[3] = {domain->xperiodic, domain->yperiodic, domain->zperiodic};
  const bool any_periodic = periodic[0] || periodic[1] || periodic[2];
  forces_.resize(3 * n);
  atom_energies_.resize(eflag_atom ? n : 0);
  atom_virial_.resize(vflag_atom ? 9 * n : 0);
  check(concord_compute(driver().handle(), n, numbers_.data(), positions_.data(),
                        any_periodic ? cell : nullptr, any_periodic ? periodic : nullptr,
                        &energy_, forces_.data(), eflag_atom ? atom_energies_.data() : nullptr,
                        vflag_global ? virial_ : nullptr,
                        vflag_atom ? atom_virial_.data() : nullptr));
  accumulate(n);
  if (vflag_global) {
    virial[0] += energy_unit_ * virial_[0];
    virial[1] += energy_unit_ * virial_[4];
    virial[2] += energy_unit_ * virial_[8];
    virial[3] += energy_unit_ * virial_[1];
    virial[4] += energy_unit_ * virial_[2];
    virial[5] += energy_unit_ * virial_[5];
  }
}

void PairConcord::compute_ghosts() {
  const int64_t n_local = select_atoms(atom->nlocal + atom->nghost);
  n_local_selected_ = n_local;
  // No local atoms: no energy here and no forces from this rank, but the exchange's
  // communication calls still take part.
  if (n_local == 0 && !exchange_) return;
  const int64_t n = static_cast<int64_t>(selected_.size());
  if (lammps_pairs_) collect_pairs();
  forces_.resize(3 * n);
  atom_energies_.resize(eflag_atom ? n : 0);
  atom_virial_.resize(vflag_atom ? 9 * n : 0);
  compute_local(driver(), &energy_, forces_.data(), eflag_atom ? atom_energies_.data() : nullptr,
                nullptr, vflag_atom ? atom_virial_.data() : nullptr);
  if (n_local > 0) accumulate(n_local);
}

void PairConcord::compute_local(const concord::Model &model, double *energy, double *forces,
                                double *atom_energies, double *virial, double *atom_virial) {
  const int64_t n = static_cast<int64_t>(selected_.size());
  static const int32_t none = 0;  // non-NULL pair arrays of length 0 mean "no pairs"
  const int32_t *first =
      lammps_pairs_ ? (pair_first_.empty() ? &none : pair_first_.data()) : nullptr;
  const int32_t *second =
      lammps_pairs_ ? (pair_second_.empty() ? &none : pair_second_.data()) : nullptr;
  const int64_t n_pairs = lammps_pairs_ ? static_cast<int64_t>(pair_first_.size()) : 0;
  if (!exchange_) {
    if (n_local_selected_ > 0)
      check(concord_compute_local(model.handle(), n_local_selected_, n, numbers_.data(),
                                  positions_.data(), n_pairs, first, second, energy, forces,
                                  atom_energies, virial, atom_virial));
    return;
  }
  int64_t width = 0;
  int32_t rounds = 0;
  check(concord_model_exchange_shape(model.handle(), &width, &rounds));
  exchanges_[0] = exchanges_[1] = 0;
  concord_status_t status = CONCORD_SUCCESS;
  if (n_local_selected_ > 0)
    status = concord_compute_local_exchange(
        model.handle(), n_local_selected_, n, numbers_.data(), positions_.data(), n_pairs, first,
        second, &PairConcord::exchange_rows, this, energy, forces, atom_energies, virial,
        atom_virial);
  // The exchanges the call did not make (no local atoms here, or it failed on this rank) are
  // made without rows, so that every rank takes part in the same communication.
  exchange_rows_ = nullptr;
  exchange_width_ = static_cast<int>(width);
  exchanging_ = true;
  for (; exchanges_[0] < rounds; ++exchanges_[0]) comm->forward_comm(this);
  for (; exchanges_[1] < rounds; ++exchanges_[1]) comm->reverse_comm(this);
  exchanging_ = false;
  check(status);
}

int32_t PairConcord::exchange_rows(void *self, int32_t direction, int64_t n_rows, int64_t width,
                                   double *rows) {
  auto *pair = static_cast<PairConcord *>(self);
  // No C++ exception may cross the library's frames: failures become a status.
  try {
    if (n_rows != static_cast<int64_t>(pair->selected_.size()) || width > pair->comm_forward ||
        width > pair->comm_reverse)
      return 1;
    pair->exchange_rows_ = rows;
    pair->exchange_width_ = static_cast<int>(width);
    pair->exchanging_ = true;
    if (direction == CONCORD_EXCHANGE_FORWARD) {
      pair->comm->forward_comm(pair);
      ++pair->exchanges_[0];
    } else {
      pair->comm->reverse_comm(pair);
      ++pair->exchanges_[1];
    }
    pair->exchanging_ = false;
    return 0;
  } catch (...) {
    pair->exchanging_ = false;
    return 2;
  }
}

void PairConcord::collect_pairs() {
  pair_first_.clear();
  pair_second_.clear();
  double **x = atom->x;
  const double cut2 = cutoff_ * cutoff_;
  const int n_lists = list->inum + list->gnum;
  for (int ii = 0; ii < n_lists; ++ii) {
    const int i = list->ilist[ii];
    const int ci = concord_index_[i];
    if (ci < 0) continue;
    const int *jlist = list->firstneigh[i];
    for (int jj = 0; jj < list->numneigh[i]; ++jj) {
      const int j = jlist[jj] & NEIGHMASK;
      const int cj = concord_index_[j];
      if (cj < 0) continue;
      const double dx = x[j][0] - x[i][0], dy = x[j][1] - x[i][1], dz = x[j][2] - x[i][2];
      if (dx * dx + dy * dy + dz * dz >= cut2) continue;
      pair_first_.push_back(ci);
      pair_second_.push_back(cj);
    }
  }
}

void PairConcord::accumulate(int64_t n_local) {
  double **f = atom->f;
  const int64_t n = static_cast<int64_t>(selected_.size());
  for (int64_t k = 0; k < n; ++k) {
    double *fi = f[selected_[k]];
    for (int a = 0; a < 3; ++a) fi[a] += energy_unit_ * forces_[3 * k + a];
  }
  if (eflag_global) eng_vdwl += energy_unit_ * energy_;
  if (eflag_atom) {
    for (int64_t k = 0; k < n_local; ++k) eatom[selected_[k]] += energy_unit_ * atom_energies_[k];
  }
  if (vflag_atom) {
    for (int64_t k = 0; k < n; ++k) {
      const double *w = &atom_virial_[9 * k];
      double *v = vatom[selected_[k]];
      v[0] += energy_unit_ * w[0];
      v[1] += energy_unit_ * w[4];
      v[2] += energy_unit_ * w[8];
      v[3] += energy_unit_ * w[1];
      v[4] += energy_unit_ * w[2];
      v[5] += energy_unit_ * w[5];
    }
  }
}

void PairConcord::model_forces(const concord::Model &model, std::vector<double> &forces,
                               double *virial) {
  const int64_t n = static_cast<int64_t>(selected_.size());
  forces.assign(3 * n, 0.0);
  std::fill(virial, virial + 9, 0.0);
  if (use_cell_) {
    if (n == 0) return;
    const double *h = domain->h;
    const double cell[9] = {h[0], 0.0, 0.0, h[5], h[1], 0.0, h[4], h[3], h[2]};
    const int32_t periodic[3] = {domain->xperiodic, domain->yperiodic, domain->zperiodic};
    const bool any = periodic[0] || periodic[1] || periodic[2];
    check(concord_compute(model.handle(), n, numbers_.data(), positions_.data(),
                          any ? cell : nullptr, any ? periodic : nullptr, nullptr, forces.data(),
                          nullptr, virial, nullptr));
  } else {
    // Also without atoms here: a rank makes every exchange of the ghost path.
    compute_local(model, nullptr, forces.data(), nullptr, virial, nullptr);
  }
}

void PairConcord::compute_deviation() {
  const int k_models = static_cast<int>(1 + committee_.size());
  const int nall = atom->nlocal + atom->nghost;
  committee_forces_.assign(static_cast<size_t>(nall) * k_models * 3, 0.0);
  std::vector<double> virials(9 * k_models, 0.0), forces;
  for (int k = 0; k < k_models; ++k) {
    model_forces(k == 0 ? driver() : *committee_[k - 1], forces, &virials[9 * k]);
    for (size_t c = 0; c < selected_.size(); ++c)
      for (int a = 0; a < 3; ++a)
        committee_forces_[(static_cast<size_t>(selected_[c]) * k_models + k) * 3 + a] =
            forces[3 * c + a];
  }
  if (!use_cell_) comm->reverse_comm(this);  // ghost contributions onto their owners
  std::vector<double> total(9 * k_models, 0.0);
  MPI_Allreduce(virials.data(), total.data(), 9 * k_models, MPI_DOUBLE, MPI_SUM, world);

  if (atom->nmax > nmax_devi_) {
    memory->destroy(atom_devi_);
    nmax_devi_ = atom->nmax;
    memory->create(atom_devi_, nmax_devi_, "pair:atom_devi");
  }
  std::fill(atom_devi_, atom_devi_ + nmax_devi_, 0.0);
  // Local: max, -min, sum of devi_f over selected local atoms, and their count.
  double mine[3] = {0.0, -HUGE_VAL, 0.0}, count = 0.0;
  for (int i = 0; i < atom->nlocal; ++i) {
    if (type_z_[atom->type[i]] == 0) continue;
    const double *f = &committee_forces_[static_cast<size_t>(i) * k_models * 3];
    double var = 0.0;
    for (int a = 0; a < 3; ++a) {
      double mean = 0.0;
      for (int k = 0; k < k_models; ++k) mean += f[3 * k + a] / k_models;
      for (int k = 0; k < k_models; ++k) var += (f[3 * k + a] - mean) * (f[3 * k + a] - mean);
    }
    const double devi = std::sqrt(var / k_models);
    atom_devi_[i] = energy_unit_ * devi;
    mine[0] = std::max(mine[0], devi);
    mine[1] = std::max(mine[1], -devi);
    mine[2] += devi;
    count += 1.0;
  }
  double maxes[2], sums[2], local_sums[2] = {mine[2], count};
  MPI_Allreduce(mine, maxes, 2, MPI_DOUBLE, MPI_MAX, world);
  MPI_Allreduce(local_sums, sums, 2, MPI_DOUBLE, MPI_SUM, world);
  const double n_atoms = std::max(sums[1], 1.0);
  const double devi_f[3] = {maxes[0], sums[1] > 0 ? -maxes[1] : 0.0, sums[0] / n_atoms};
  double devi_v[3] = {0.0, HUGE_VAL, 0.0};
  for (int c = 0; c < 9; ++c) {
    double mean = 0.0, var = 0.0;
    for (int k = 0; k < k_models; ++k) mean += total[9 * k + c] / n_atoms / k_models;
    for (int k = 0; k < k_models; ++k) {
      const double d = total[9 * k + c] / n_atoms - mean;
      var += d * d / k_models;
    }
    const double sd = std::sqrt(var);
    devi_v[0] = std::max(devi_v[0], sd);
    devi_v[1] = std::min(devi_v[1], sd);
    devi_v[2] += sd / 9.0;
  }
  write_deviation(devi_v, devi_f);
}

void PairConcord::write_deviation(const double *devi_v, const double *devi_f) {
  if (comm->me != 0 || !devi_file_) return;
  // LAMMPS units: energy per atom for the virial, force for the forces (eV, eV/Å in metal).
  std::fprintf(devi_file_, "%12lld", static_cast<long long>(update->ntimestep));
  for (int c = 0; c < 3; ++c) std::fprintf(devi_file_, " %18.6e", energy_unit_ * devi_v[c]);
  for (int c = 0; c < 3; ++c) std::fprintf(devi_file_, " %18.6e", energy_unit_ * devi_f[c]);
  std::fprintf(devi_file_, "\n");
  std::fflush(devi_file_);
}

int PairConcord::pack_forward_comm(int n, int *list, double *buf, int /*pbc_flag*/,
                                   int * /*pbc*/) {
  for (int k = 0; k < n; ++k) pack_row(list[k], buf + static_cast<size_t>(k) * exchange_width_);
  return n * exchange_width_;
}

void PairConcord::pack_row(int atom, double *out) const {
  const int w = exchange_width_;
  const int c = concord_index_[atom];
  if (exchange_rows_ && c >= 0)
    std::copy_n(exchange_rows_ + static_cast<size_t>(c) * w, w, out);
  else
    std::fill_n(out, w, 0.0);
}

void PairConcord::unpack_forward_comm(int n, int first, double *buf) {
  const int w = exchange_width_;
  if (!exchange_rows_) return;
  for (int k = 0; k < n; ++k) {
    const int c = concord_index_[first + k];
    if (c >= 0)
      std::copy_n(buf + static_cast<size_t>(k) * w, w,
                  exchange_rows_ + static_cast<size_t>(c) * w);
  }
}

int PairConcord::pack_reverse_comm(int n, int first, double *buf) {
  if (exchanging_) {  // exchanged rows of ghost atoms
    for (int k = 0; k < n; ++k)
      pack_row(first + k, buf + static_cast<size_t>(k) * exchange_width_);
    return n * exchange_width_;
  }
  const int width = 3 * static_cast<int>(1 + committee_.size());  // committee forces
  int m = 0;
  for (int i = first; i < first + n; ++i)
    for (int c = 0; c < width; ++c)
      buf[m++] = committee_forces_[static_cast<size_t>(i) * width + c];
  return m;
}

void PairConcord::unpack_reverse_comm(int n, int *list, double *buf) {
  if (exchanging_) {
    const int w = exchange_width_;
    if (!exchange_rows_) return;
    for (int k = 0; k < n; ++k) {
      const int c = concord_index_[list[k]];
      if (c < 0) continue;
      double *row = exchange_rows_ + static_cast<size_t>(c) * w;
      for (int j = 0; j < w; ++j) row[j] += buf[static_cast<size_t>(k) * w + j];
    }
    return;
  }
  const int width = 3 * static_cast<int>(1 + committee_.size());
  int m = 0;
  for (int i = 0; i < n; ++i)
    for (int c = 0; c < width; ++c)
      committee_forces_[static_cast<size_t>(list[i]) * width + c] += buf[m++];
}

void *PairConcord::extract_peratom(const char *name, int &ncol) {
  if (std::strcmp(name, "devi_f") != 0 || committee_.empty()) return nullptr;
  ncol = 0;
  return atom_devi_;
}
