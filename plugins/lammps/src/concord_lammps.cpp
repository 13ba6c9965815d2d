#include "concord_lammps.h"

#include <array>

#include "concord.hpp"
#include "error.h"
#include "lammps.h"
#include "update.h"

using namespace LAMMPS_NS;

namespace concord_lammps {

namespace {
/// Element symbols by atomic number (index 0 unused), hydrogen to radon.
constexpr std::array<const char *, 87> kSymbols = {
    "",   "H",  "He", "Li", "Be", "B",  "C",  "N",  "O",  "F",  "Ne", "Na", "Mg", "Al", "Si",
    "P",  "S",  "Cl", "Ar", "K",  "Ca", "Sc", "Ti", "V",  "Cr", "Mn", "Fe", "Co", "Ni", "Cu",
    "Zn", "Ga", "Ge", "As", "Se", "Br", "Kr", "Rb", "Sr", "Y",  "Zr", "Nb", "Mo", "Tc", "Ru",
    "Rh", "Pd", "Ag", "Cd", "In", "Sn", "Sb", "Te", "I",  "Xe", "Cs", "Ba", "La", "Ce", "Pr",
    "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Hf", "Ta", "W",
    "Re", "Os", "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po", "At", "Rn"};

/// kcal/mol per eV (CODATA 2018: 1 eV = 96.485332 kJ/mol, 4.184 kJ per kcal).
constexpr double kKcalMolPerEv = 23.060548;
}  // namespace

int atomic_number(const std::string &symbol) {
  for (size_t z = 1; z < kSymbols.size(); ++z) {
    if (symbol == kSymbols[z]) return static_cast<int>(z);
  }
  return 0;
}

double energy_per_ev(LAMMPS *lmp, const std::string &who) {
  const std::string style = lmp->update->unit_style;
  if (style == "metal") return 1.0;
  if (style == "real") return kKcalMolPerEv;
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
