#include "internal/Elements.h"

#include "openmm/OpenMMException.h"

#include <array>

namespace ConcordPlugin {

namespace {
// Symbols of elements 1 to 118, in order.
constexpr std::array<const char*, 118> SYMBOLS = {
    "H",  "He", "Li", "Be", "B",  "C",  "N",  "O",  "F",  "Ne", "Na", "Mg", "Al", "Si", "P",
    "S",  "Cl", "Ar", "K",  "Ca", "Sc", "Ti", "V",  "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn",
    "Ga", "Ge", "As", "Se", "Br", "Kr", "Rb", "Sr", "Y",  "Zr", "Nb", "Mo", "Tc", "Ru", "Rh",
    "Pd", "Ag", "Cd", "In", "Sn", "Sb", "Te", "I",  "Xe", "Cs", "Ba", "La", "Ce", "Pr", "Nd",
    "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Hf", "Ta", "W",  "Re",
    "Os", "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po", "At", "Rn", "Fr", "Ra", "Ac", "Th",
    "Pa", "U",  "Np", "Pu", "Am", "Cm", "Bk", "Cf", "Es", "Fm", "Md", "No", "Lr", "Rf", "Db",
    "Sg", "Bh", "Hs", "Mt", "Ds", "Rg", "Cn", "Nh", "Fl", "Mc", "Lv", "Ts", "Og"};
}  // namespace

int atomicNumberOf(const std::string& symbol) {
    for (size_t i = 0; i < SYMBOLS.size(); ++i) {
        if (symbol == SYMBOLS[i]) return static_cast<int>(i) + 1;
    }
    throw OpenMM::OpenMMException("ConcordForce: '" + symbol +
                                  "' is not a chemical element symbol (expected e.g. H, C, Cl)");
}

}  // namespace ConcordPlugin
