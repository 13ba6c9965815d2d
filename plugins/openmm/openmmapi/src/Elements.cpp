#include "internal/Elements.h"

#include "concord.h"
#include "openmm/OpenMMException.h"

namespace ConcordPlugin {

int atomicNumberOf(const std::string& symbol) {
    int32_t z = 0;
    if (concord_element_number(symbol.c_str(), &z) == CONCORD_SUCCESS) return z;
    throw OpenMM::OpenMMException("ConcordForce: '" + symbol +
                                  "' is not a chemical element symbol (expected e.g. H, C, Cl)");
}

}  // namespace ConcordPlugin
