#ifndef CONCORD_OPENMM_CONCORDFORCEIMPL_H_
#define CONCORD_OPENMM_CONCORDFORCEIMPL_H_

// The ConcordForce inside one Context: converts OpenMM's state to the model's units, calls the
// Concord C++ API on the host and converts the results back.

#include "ConcordForce.h"
#include "openmm/internal/CustomCPPForceImpl.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ConcordPlugin {

/**
 * Host implementation of ConcordForce, used by every platform (OpenMM's CustomCPPForceImpl
 * hands it the positions and adds its forces to the platform's).
 */
class ConcordForceImpl : public OpenMM::CustomCPPForceImpl {
public:
    explicit ConcordForceImpl(const ConcordForce& owner);
    /** Checks the force's particles against the System's. */
    void initialize(OpenMM::ContextImpl& context) override;
    /**
     * Energy (kJ/mol) of the particles at `positions` (nm); writes their forces (kJ/mol/nm).
     * Two atoms closer than 0.025 nm, which the model refuses, get an infinite energy and NaN
     * forces: a minimiser's line search then steps back, and dynamics stops with OpenMM's
     * NaN error. Any other failure of the model throws OpenMMException with its message.
     */
    double computeForce(OpenMM::ContextImpl& context, const std::vector<OpenMM::Vec3>& positions,
                        std::vector<OpenMM::Vec3>& forces) override;
    const ConcordForce& getOwner() const override { return owner; }

private:
    const ConcordForce& owner;
    std::vector<int32_t> numbers;
    /** System index of each of the model's atoms. */
    std::vector<int> indices;
    std::vector<double> positionsA;
    /** The model's message about the last overlap, until an evaluation succeeds. */
    std::string lastOverlap;
};

}  // namespace ConcordPlugin

#endif  // CONCORD_OPENMM_CONCORDFORCEIMPL_H_
