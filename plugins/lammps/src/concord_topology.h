// Splits a system's atoms and bonds (as gathered from LAMMPS: global atom IDs, molecule IDs)
// into molecular graphs for Concord's structure generator, and screens generated samples.
// No LAMMPS types.
#ifndef CONCORD_TOPOLOGY_H
#define CONCORD_TOPOLOGY_H

#include <cstdint>
#include <string>
#include <vector>

namespace concord_lammps {

/// One atom as gathered from all ranks: its global ID, molecule ID, atomic number, formal
/// charge and unwrapped position (Å).
struct TopologyAtom {
  int64_t id = 0;
  int64_t molecule = 0;
  int32_t atomic_number = 0;
  int32_t formal_charge = 0;
  double x[3] = {0.0, 0.0, 0.0};
};

/// One bond between two atoms given by global ID, with its bond order (1-4).
struct TopologyBond {
  int64_t first = 0;
  int64_t second = 0;
  int32_t order = 1;
};

/// A molecular graph: indices into the gathered atoms, and bonds in local (0-based) indices.
struct MolecularGraph {
  int64_t molecule = 0;                   ///< molecule ID
  std::vector<size_t> atoms;              ///< indices into the gathered atom array
  std::vector<int32_t> numbers;           ///< atomic numbers, in the order of `atoms`
  std::vector<int32_t> charges;           ///< formal charges, in the order of `atoms`
  std::vector<int32_t> first, second, order;  ///< bonds in indices into `atoms`
  double centre[3] = {0.0, 0.0, 0.0};     ///< mean unwrapped position of the atoms, Å
};

/// Groups atoms by molecule ID (ascending) and assigns each bond to its molecule. A bond
/// listed twice (newton_bond off) counts once. Returns an empty string on success, or the
/// problem: an atom without a molecule ID (0), a bond to an unknown atom ID, a bond between two
/// molecules, a bond of an atom to itself, the same atom pair with two different orders.
std::string split_molecules(const std::vector<TopologyAtom> &atoms,
                            const std::vector<TopologyBond> &bonds,
                            std::vector<MolecularGraph> &molecules);

}  // namespace concord_lammps

#endif
