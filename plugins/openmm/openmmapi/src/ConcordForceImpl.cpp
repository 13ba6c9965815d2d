#include "internal/ConcordForceImpl.h"

#include "concord.hpp"
#include "openmm/OpenMMException.h"
#include "openmm/internal/ContextImpl.h"

#include <algorithm>
#include <limits>
#include <string>

namespace ConcordPlugin {

namespace {
/// Forces: eV/Å -> kJ/mol/nm.
constexpr double FORCE_FACTOR = ConcordForce::KJ_PER_MOL_PER_EV * ConcordForce::ANGSTROM_PER_NM;
}  // namespace

ConcordForceImpl::ConcordForceImpl(const ConcordForce& owner)
    : OpenMM::CustomCPPForceImpl(owner), owner(owner),
      numbers(owner.getAtomicNumbers().begin(), owner.getAtomicNumbers().end()) {}

void ConcordForceImpl::initialize(OpenMM::ContextImpl& context) {
    const int particles = context.getSystem().getNumParticles();
    if (particles != owner.getNumParticles()) {
        throw OpenMM::OpenMMException(
            "ConcordForce: the force has " + std::to_string(owner.getNumParticles()) +
            " atomic numbers but the System has " + std::to_string(particles) +
            " particles (give one atomic number per particle, in System order)");
    }
    positionsA.resize(3 * numbers.size());
    OpenMM::CustomCPPForceImpl::initialize(context);
}

double ConcordForceImpl::computeForce(OpenMM::ContextImpl& context,
                                      const std::vector<OpenMM::Vec3>& positions,
                                      std::vector<OpenMM::Vec3>& forces) {
    for (size_t i = 0; i < numbers.size(); ++i) {
        for (int k = 0; k < 3; ++k) positionsA[3 * i + k] = positions[i][k] * ConcordForce::ANGSTROM_PER_NM;
    }
    double cell[9];
    if (owner.usesPeriodicBoundaryConditions()) {
        OpenMM::Vec3 box[3];
        context.getPeriodicBoxVectors(box[0], box[1], box[2]);
        for (int row = 0; row < 3; ++row) {
            for (int k = 0; k < 3; ++k) cell[3 * row + k] = box[row][k] * ConcordForce::ANGSTROM_PER_NM;
        }
    }
    concord::Result result;
    try {
        result = owner.getModel()->compute(numbers.size(), numbers.data(), positionsA.data(),
                                           owner.usesPeriodicBoundaryConditions() ? cell : nullptr);
    } catch (const concord::Error& e) {
        const std::string message = e.what();
        if (e.status() == CONCORD_ERROR_INVALID_INPUT && message.find(" overlap ") != std::string::npos) {
            // Infinite energy lets a minimiser's line search step back; NaN forces stop dynamics.
            lastOverlap = message;
            const double nan = std::numeric_limits<double>::quiet_NaN();
            std::fill(forces.begin(), forces.end(), OpenMM::Vec3(nan, nan, nan));
            return std::numeric_limits<double>::infinity();
        }
        throw OpenMM::OpenMMException(
            "ConcordForce: " + message +
            (lastOverlap.empty() ? "" : " (the previous evaluation had overlapping atoms: " + lastOverlap + ")"));
    }
    lastOverlap.clear();
    for (size_t i = 0; i < numbers.size(); ++i) {
        forces[i] = OpenMM::Vec3(result.forces[i][0], result.forces[i][1], result.forces[i][2]) * FORCE_FACTOR;
    }
    return result.energy * ConcordForce::KJ_PER_MOL_PER_EV;
}

}  // namespace ConcordPlugin
