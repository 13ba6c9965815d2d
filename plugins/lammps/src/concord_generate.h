// The concord_generate command: places the atoms of every molecule with Concord's structure
// generator from the bond topology of the data file, optionally relaxed on the model's
// potential or on another model's (`potential FILE`), whose energies then also rank the samples.
//
//   concord_generate MODEL elements E1 ... En bondorder O1 ... Om [seed S] [samples K]
//                    [relax yes|no] [fmax F] [maxiter N] [steps N] [precision 32|64]
//                    [potential FILE]
//
// n = atom types, m = bond types (order 1, 2, 3 or 4 = aromatic per bond type). Needs molecule
// IDs and bonds (atom_style bond, molecular or full). Each molecule is centred where its atoms'
// mean position was. Runs on rank 0 (gather, generate, broadcast).
#ifndef CONCORD_GENERATE_H
#define CONCORD_GENERATE_H

#include <string>
#include <vector>

#include "command.h"
#include "concord_topology.h"

namespace LAMMPS_NS {

class ConcordGenerate : public Command {
 public:
  explicit ConcordGenerate(class LAMMPS *lmp) : Command(lmp) {}
  void command(int narg, char **arg) override;

 private:
  /// Parsed arguments.
  struct Options {
    std::string model;
    std::string potential;         ///< model file that relaxes and ranks; "" = `model`
    std::vector<int> type_z;       ///< atomic number per atom type (index 0 unused)
    std::vector<int> bond_order;   ///< bond order per bond type (index 0 unused)
    unsigned long long seed = 1;
    int samples = 8;
    bool relax = true;
    double fmax = 0.0;             ///< LAMMPS force units; 0 = 0.01 eV/Å
    int maxiter = 500;
    int steps = 0;
    int precision = 64;
    bool charges = false;          ///< atom charges q are the atoms' formal charges
  };
  Options parse(int narg, char **arg);
  /// All atoms and bonds of the system, on rank 0 (empty elsewhere).
  void gather(const Options &opt, std::vector<concord_lammps::TopologyAtom> &atoms,
              std::vector<concord_lammps::TopologyBond> &bonds);
  /// Generates every molecule on rank 0; returns an error message or "".
  std::string generate(const Options &opt, const std::vector<concord_lammps::TopologyAtom> &atoms,
                       const std::vector<concord_lammps::TopologyBond> &bonds,
                       std::vector<double> &new_positions);
  /// Sets the positions of the owned atoms from [id, x, y, z] records broadcast by rank 0.
  void scatter(const std::vector<double> &records);
};

}  // namespace LAMMPS_NS

#endif
