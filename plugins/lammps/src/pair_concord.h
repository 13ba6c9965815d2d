// pair_style concord: the Concord learned potential as a LAMMPS pair style.
//
//   pair_style concord MODEL [precision auto|32|64] [device cpu|cuda|cuda:N]
//                            [pairs concord|lammps] [cell auto|no] [exchange yes|no]
//   (precision auto, the default: float32 network arithmetic with float64 accumulation in
//   dynamics, float64 throughout in minimisation)
//   pair_coeff * * H C N O        (one element symbol per atom type; NULL skips a type)
//
// Energies in eV (units metal) or kcal/mol (units real), positions in Å. Needs newton pair on.
#ifndef CONCORD_PAIR_CONCORD_H
#define CONCORD_PAIR_CONCORD_H

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pair.h"

namespace concord {
class Model;
}

namespace LAMMPS_NS {

class PairConcord : public Pair {
 public:
  explicit PairConcord(class LAMMPS *lmp);
  ~PairConcord() override;

  void compute(int eflag, int vflag) override;
  void settings(int narg, char **arg) override;
  void coeff(int narg, char **arg) override;
  void init_style() override;
  double init_one(int i, int j) override;
  int pack_forward_comm(int n, int *list, double *buf, int pbc_flag, int *pbc) override;
  void unpack_forward_comm(int n, int first, double *buf) override;
  int pack_reverse_comm(int n, int first, double *buf) override;
  void unpack_reverse_comm(int n, int *list, double *buf) override;
  /// "devi_f": the committee's per-atom force deviation (force units), for `fix pair`.
  void *extract_peratom(const char *name, int &ncol) override;

 private:
  /// Whole-system evaluation on one rank: local atoms and the periodic cell, no ghosts.
  void compute_cell();
  /// Local + ghost atoms (any number of ranks, any boundaries).
  void compute_ghosts();
  /// Ends the run on every rank with `failure` when it is not empty on some rank (collective).
  void report_failure(const std::string &failure);
  /// " (LAMMPS atom IDs a b)" for Concord's atom indices (into `selected_`); "" when none.
  std::string atom_ids(const std::vector<int64_t> &atoms) const;
  /// Collects the atoms of mapped types among the first `n` atoms: `selected_`, `numbers_`,
  /// `positions_`; returns how many of them are local.
  int64_t select_atoms(int n);
  /// Adds the Concord result in the buffers (forces, energy, atom energies and virials, eV)
  /// to LAMMPS's arrays; the first `n_local` selected atoms are local.
  void accumulate(int64_t n_local);
  /// `model` on this step's local + ghost atoms (outputs as concord_compute_local): with
  /// `exchange yes` through concord_compute_local_exchange, LAMMPS's forward and reverse
  /// communication moving features between layers; every rank makes the same exchanges, also
  /// one without atoms or whose call failed.
  void compute_local(const concord::Model &model, double *energy, double *forces,
                     double *atom_energies, double *virial, double *atom_virial);
  /// The exchange callback of concord_compute_local_exchange (`self` is the pair style).
  static int32_t exchange_rows(void *self, int32_t direction, int64_t n_rows, int64_t width,
                               double *rows);
  /// Writes LAMMPS atom `atom`'s exchanged row to `out` ([exchange_width_]; zeros for an atom
  /// Concord does not evaluate, or on a rank without rows).
  void pack_row(int atom, double *out) const;
  /// Neighbour pairs from LAMMPS's full ghost list within the model cutoff.
  void collect_pairs();
  /// Committee step: every model's forces and virial on this step's atoms (summed onto their
  /// owners), the per-atom force deviation, and a row of the model-deviation file.
  void compute_deviation();
  /// The model that evaluates this step: `model_`, or under `precision auto` during a
  /// minimisation its float64 copy `model64_` (loaded on first use).
  const concord::Model &driver();
  /// One model's forces (eV/Å, [selected][3]) and virial (eV, [9]) of this step's atoms.
  void model_forces(const concord::Model &model, std::vector<double> &forces, double *virial);
  /// Writes the step's row (DeePMD-kit's columns) on rank 0.
  void write_deviation(const double *devi_v, const double *devi_f);

  std::unique_ptr<concord::Model> model_;
  std::unique_ptr<concord::Model> model64_;  ///< precision auto: model_ in float64, for minimize
  std::vector<std::unique_ptr<concord::Model>> committee_;  ///< models 2..K (model_ drives)
  int out_freq_ = 0;                  ///< committee: deviation every this many steps
  std::string out_file_ = "model_devi.out";
  FILE *devi_file_ = nullptr;         ///< open on rank 0 when there is a committee
  std::vector<double> committee_forces_;  ///< [LAMMPS atom][model][3], eV/Å (reverse comm)
  double *atom_devi_ = nullptr;       ///< per-atom force deviation, LAMMPS force units
  int nmax_devi_ = 0;
  int64_t n_local_selected_ = 0;      ///< local atoms among selected_ this step
  std::string model_path_;
  std::string device_ = "cpu";
  int precision_ = 0;  ///< 32, 64, or 0 = auto (32 in dynamics, 64 in minimisation)
  bool lammps_pairs_ = false;  ///< pairs from LAMMPS's neighbour list (else Concord searches)
  bool cell_allowed_ = true;   ///< `cell auto`: one-rank whole-system path when possible
  bool use_cell_ = false;      ///< decided in init_style
  bool exchange_ = true;       ///< `exchange yes`: ghosts within one cutoff, features exchanged
  // During an exchange: the rows ([selected][width], NULL on a rank without atoms), their
  // width, and what pack/unpack_reverse_comm move (rows, or the committee's forces).
  double *exchange_rows_ = nullptr;
  int exchange_width_ = 0;
  bool exchanging_ = false;
  int exchanges_[2] = {0, 0};  ///< forward and reverse exchanges made in the current call
  double cutoff_ = 0.0;        ///< model cutoff, Å
  double receptive_field_ = 0.0;  ///< ghost cutoff the model needs, Å
  double energy_unit_ = 1.0;   ///< LAMMPS energy units per eV
  std::vector<int32_t> type_z_;  ///< atomic number per LAMMPS type (0 = NULL, not computed)

  // Per-call buffers (kept to avoid reallocating every step).
  std::vector<int> selected_;        ///< LAMMPS index of each Concord atom
  std::vector<int> concord_index_;   ///< Concord index of each LAMMPS atom (-1 = not selected)
  std::vector<int32_t> numbers_;
  std::vector<double> positions_;
  std::vector<int32_t> pair_first_, pair_second_;
  std::vector<double> forces_, atom_energies_, atom_virial_;
  double energy_ = 0.0;
  double virial_[9] = {};
};

}  // namespace LAMMPS_NS

#endif
