#include "concord_lammps.h"

#include "concord.hpp"
#include "error.h"
#include "lammps.h"
#include "update.h"

using namespace LAMMPS_NS;

namespace concord_lammps {

int atomic_number(const std::string &symbol) {
  int32_t z = 0;
  return concord_element_number(symbol.c_str(), &z) == CONCORD_SUCCESS ? z : 0;
}

double energy_per_ev(LAMMPS *lmp, const std::string &who) {
  const std::string style = lmp->update->unit_style;
  if (style == "metal") return 1.0;
  if (style == "real") return CONCORD_KCAL_PER_MOL_PER_EV;
  lmp->error->all(FLERR,
                  "{}: units {} are not supported; use units metal (eV, Å; native) or units real "
                  "(kcal/mol, Å; converted)",
                  who, style);
  return 0.0;  // not reached: error->all throws
}

std::unique_ptr<concord::Model> load_model(LAMMPS *lmp, const std::string &who,
                                           const std::string &path, const std::string &device,
                                           int precision) {
  try {
    return std::make_unique<concord::Model>(path, device, precision);
  } catch (const concord::Error &e) {
    lmp->error->all(FLERR, "{}: cannot load model '{}': {}", who, path, e.what());
  }
  return nullptr;  // not reached
}

}  // namespace concord_lammps
