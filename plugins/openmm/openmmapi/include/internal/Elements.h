#ifndef CONCORD_OPENMM_ELEMENTS_H_
#define CONCORD_OPENMM_ELEMENTS_H_

#include <string>

namespace ConcordPlugin {

/**
 * The atomic number of a chemical element symbol ("H" -> 1, "Cl" -> 17; case as written in
 * the periodic table). Throws OpenMM::OpenMMException for anything else.
 */
int atomicNumberOf(const std::string& symbol);

}  // namespace ConcordPlugin

#endif  // CONCORD_OPENMM_ELEMENTS_H_
