#include "concord_topology.h"

#include "concord.h"

#include <algorithm>
#include <map>
#include <unordered_map>
#include <utility>

namespace concord_lammps {

std::string split_molecules(const std::vector<TopologyAtom> &atoms,
                            const std::vector<TopologyBond> &bonds,
                            std::vector<MolecularGraph> &molecules) {
  molecules.clear();
  std::map<int64_t, size_t> by_molecule;      // molecule ID -> index in `molecules`
  std::unordered_map<int64_t, size_t> by_id;  // atom ID -> index in `atoms`
  std::vector<int32_t> local(atoms.size());   // index of each atom inside its molecule
  for (size_t a = 0; a < atoms.size(); ++a) {
    if (atoms[a].molecule <= 0)
      return "atom " + std::to_string(atoms[a].id) +
             " has no molecule ID (0): every atom needs the ID of its molecule";
    by_molecule.emplace(atoms[a].molecule, 0);
  }
  size_t k = 0;
  for (auto &entry : by_molecule) {
    entry.second = k++;
    molecules.emplace_back();
    molecules.back().molecule = entry.first;
  }
  for (size_t a = 0; a < atoms.size(); ++a) {
    by_id[atoms[a].id] = a;
    MolecularGraph &m = molecules[by_molecule[atoms[a].molecule]];
    local[a] = static_cast<int32_t>(m.atoms.size());
    m.atoms.push_back(a);
    m.numbers.push_back(atoms[a].atomic_number);
    m.charges.push_back(atoms[a].formal_charge);
    for (int d = 0; d < 3; ++d) m.centre[d] += atoms[a].x[d];
  }
  for (MolecularGraph &m : molecules) {
    for (double &c : m.centre) c /= static_cast<double>(m.atoms.size());
  }

  std::map<std::pair<int64_t, int64_t>, int32_t> seen;  // (low ID, high ID) -> order
  for (const TopologyBond &b : bonds) {
    const auto i = by_id.find(b.first), j = by_id.find(b.second);
    if (i == by_id.end() || j == by_id.end())
      return "bond " + std::to_string(b.first) + "-" + std::to_string(b.second) +
             " names an atom ID that does not exist";
    if (b.first == b.second) return "atom " + std::to_string(b.first) + " is bonded to itself";
    const TopologyAtom &ai = atoms[i->second], &aj = atoms[j->second];
    if (ai.molecule != aj.molecule)
      return "bond " + std::to_string(b.first) + "-" + std::to_string(b.second) +
             " joins molecule " + std::to_string(ai.molecule) + " and molecule " +
             std::to_string(aj.molecule) + " (molecule IDs must follow the bonds)";
    const auto key = std::minmax(b.first, b.second);
    const auto found = seen.find(key);
    if (found != seen.end()) {
      if (found->second != b.order)
        return "atoms " + std::to_string(key.first) + " and " + std::to_string(key.second) +
               " are bonded twice with different bond orders";
      continue;
    }
    seen.emplace(key, b.order);
    MolecularGraph &m = molecules[by_molecule[ai.molecule]];
    m.first.push_back(local[i->second]);
    m.second.push_back(local[j->second]);
    m.order.push_back(b.order);
  }
  return "";
}

}  // namespace concord_lammps
