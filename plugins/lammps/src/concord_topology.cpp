#include "concord_topology.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <unordered_map>
#include <utility>

namespace concord_lammps {

namespace {
/// Single-bond covalent radius in Å (Cordero et al. 2008; sp3 carbon), 1.0 for other elements.
double covalent_radius(int32_t z) {
  switch (z) {
    case 1: return 0.31;
    case 5: return 0.84;
    case 6: return 0.76;
    case 7: return 0.71;
    case 8: return 0.66;
    case 9: return 0.57;
    case 14: return 1.11;
    case 15: return 1.07;
    case 16: return 1.05;
    case 17: return 1.02;
    case 35: return 1.20;
    case 53: return 1.39;
    default: return 1.0;
  }
}
}  // namespace

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

bool matches_graph(const MolecularGraph &m, const double *positions) {
  std::set<std::pair<int32_t, int32_t>> bonded;
  for (size_t b = 0; b < m.first.size(); ++b) bonded.insert(std::minmax(m.first[b], m.second[b]));
  const int32_t n = static_cast<int32_t>(m.numbers.size());
  for (int32_t i = 0; i < n; ++i) {
    for (int32_t j = i + 1; j < n; ++j) {
      double d2 = 0.0;
      for (int a = 0; a < 3; ++a) {
        const double d = positions[3 * i + a] - positions[3 * j + a];
        d2 += d * d;
      }
      const double d = std::sqrt(d2);
      const double radii = covalent_radius(m.numbers[i]) + covalent_radius(m.numbers[j]);
      if (bonded.count({i, j}) > 0 ? d > 1.3 * radii : d < std::max(1.0, 1.1 * radii))
        return false;
    }
  }
  return true;
}

}  // namespace concord_lammps
