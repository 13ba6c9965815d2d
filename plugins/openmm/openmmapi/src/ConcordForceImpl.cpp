#include "internal/ConcordForceImpl.h"

#include "concord.hpp"
#include "openmm/OpenMMException.h"
#include "openmm/internal/ContextImpl.h"

#include <algorithm>
#include <limits>
#include <string>

namespace ConcordPlugin {

namespace {
/// Lengths: nm -> Å.
constexpr double LENGTH_FACTOR = ConcordForce::ANGSTROM_PER_NM;
/// Energies: eV -> kJ/mol.
constexpr double ENERGY_FACTOR = ConcordForce::KJ_PER_MOL_PER_EV;
/// Forces: eV/Å -> kJ/mol/nm.
constexpr double FORCE_FACTOR = ENERGY_FACTOR * LENGTH_FACTOR;

/// Concord's message with the atoms it names given as System particle indices.
std::string describe(const concord::Error& e, const std::vector<int>& indices) {
    std::string message = e.what();
    if (e.atoms().empty()) return message;
    message += " (System particles";
    for (int64_t a : e.atoms()) {
        const bool known = a >= 0 && static_cast<size_t>(a) < indices.size();
        message += " " + (known ? std::to_string(indices[a]) : "?");
    }
    return message + ")";
}
}  // namespace

ConcordForceImpl::ConcordForceImpl(const ConcordForce& owner)
    : OpenMM::CustomCPPForceImpl(owner), owner(owner),
      numbers(owner.getAtomicNumbers().begin(), owner.getAtomicNumbers().end()) {}

void ConcordForceImpl::initialize(OpenMM::ContextImpl& context) {
    const int particles = context.getSystem().getNumParticles();
    indices = owner.getParticles();
    if (indices.empty()) {
        if (particles != owner.getNumParticles()) {
            throw OpenMM::OpenMMException(
                "ConcordForce: the force has " + std::to_string(owner.getNumParticles()) +
                " atomic numbers but the System has " + std::to_string(particles) +
                " particles (give one atomic number per particle, in System order, or choose "
                "the particles with setParticles)");
        }
        for (int i = 0; i < particles; ++i) indices.push_back(i);
    }
    for (int index : indices) {
        if (index >= particles) {
            throw OpenMM::OpenMMException("ConcordForce: particle index " + std::to_string(index) +
                                          " is beyond the System's " + std::to_string(particles) +
                                          " particles");
        }
    }
    positionsA.resize(3 * numbers.size());
    OpenMM::CustomCPPForceImpl::initialize(context);
}

double ConcordForceImpl::computeForce(OpenMM::ContextImpl& context,
                                      const std::vector<OpenMM::Vec3>& positions,
                                      std::vector<OpenMM::Vec3>& forces) {
    for (size_t i = 0; i < numbers.size(); ++i) {
        for (int k = 0; k < 3; ++k) positionsA[3 * i + k] = positions[indices[i]][k] * LENGTH_FACTOR;
    }
    const bool periodic = owner.usesPeriodicBoundaryConditions();
    double cell[9];
    if (periodic) {
        OpenMM::Vec3 box[3];
        context.getPeriodicBoxVectors(box[0], box[1], box[2]);
        for (int row = 0; row < 3; ++row) {
            for (int k = 0; k < 3; ++k) cell[3 * row + k] = box[row][k] * LENGTH_FACTOR;
        }
    }
    concord::Result result;
    try {
        result = owner.getModel()->compute(numbers.size(), numbers.data(), positionsA.data(),
                                           periodic ? cell : nullptr);
    } catch (const concord::Error& e) {
        if (e.status() == CONCORD_ERROR_OVERLAP) {
            // Infinite energy lets a minimiser's line search step back; NaN forces stop dynamics.
            lastOverlap = describe(e, indices);
            const double nan = std::numeric_limits<double>::quiet_NaN();
            std::fill(forces.begin(), forces.end(), OpenMM::Vec3());
            for (int index : indices) forces[index] = OpenMM::Vec3(nan, nan, nan);
            return std::numeric_limits<double>::infinity();
        }
        std::string message = "ConcordForce: " + describe(e, indices);
        if (!lastOverlap.empty()) {
            message += " (the previous evaluation had overlapping atoms: " + lastOverlap + ")";
        }
        throw OpenMM::OpenMMException(message);
    }
    lastOverlap.clear();
    std::fill(forces.begin(), forces.end(), OpenMM::Vec3());
    for (size_t i = 0; i < numbers.size(); ++i) {
        const concord::Vector3& f = result.forces[i];
        forces[indices[i]] = OpenMM::Vec3(f[0], f[1], f[2]) * FORCE_FACTOR;
    }
    return result.energy * ENERGY_FACTOR;
}

}  // namespace ConcordPlugin
