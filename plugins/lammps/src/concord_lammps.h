// Helpers shared by Concord's LAMMPS styles: element symbols, unit conversion, model loading.
#ifndef CONCORD_LAMMPS_H
#define CONCORD_LAMMPS_H

#include <memory>
#include <string>

namespace concord {
class Model;
}

namespace LAMMPS_NS {
class LAMMPS;
}

namespace concord_lammps {

/// Atomic number of an element symbol ("H", "C", "Cl"...; Concord's table,
/// concord_element_number), or 0 when it is not an element.
int atomic_number(const std::string &symbol);

/// LAMMPS energy units per eV for the current `units` style: 1 for metal (eV, Å),
/// CONCORD_KCAL_PER_MOL_PER_EV (23.0605478) for real (kcal/mol, Å). Any other style is a LAMMPS error naming `who`.
double energy_per_ev(LAMMPS_NS::LAMMPS *lmp, const std::string &who);

/// Loads a model file (precision 32 or 64, device "cpu"/"cuda[:N]"); a failure is a LAMMPS
/// error naming `who`, the path and Concord's message.
std::unique_ptr<concord::Model> load_model(LAMMPS_NS::LAMMPS *lmp, const std::string &who,
                                           const std::string &path, const std::string &device,
                                           int precision);

}  // namespace concord_lammps

#endif
