#include "ConcordStructures.h"

#include "ConcordForce.h"
#include "concord.hpp"
#include "openmm/OpenMMException.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ConcordPlugin {

namespace {
constexpr double FORCE_FACTOR = ConcordForce::KJ_PER_MOL_PER_EV * ConcordForce::ANGSTROM_PER_NM;
constexpr double NOT_A_NUMBER = std::numeric_limits<double>::quiet_NaN();

/// Positions in Å -> flattened nm.
std::vector<double> toNanometres(const std::vector<concord::Vector3>& positions) {
    std::vector<double> flat;
    flat.reserve(3 * positions.size());
    for (const concord::Vector3& r : positions) {
        for (double x : r) flat.push_back(x / ConcordForce::ANGSTROM_PER_NM);
    }
    return flat;
}

/// Sets `sane` and `problem` from Concord's structure check (positions in Å).
void check(const std::vector<int32_t>& numbers, const std::vector<concord::Bond>& bonds,
           const std::vector<concord::Vector3>& positions, GeneratedStructure& out) {
    const concord::StructureCheck c = concord::check_structure(numbers, bonds, positions);
    out.sane = c.sane();
    out.problem = c.first;
}

/// Energy and largest force of unrelaxed positions, NaN when the model refuses them.
void evaluate(const concord::Model& model, const std::vector<int32_t>& numbers,
              const std::vector<concord::Vector3>& positions, GeneratedStructure& out) {
    try {
        concord::Result r = model.compute(numbers, positions);
        double largest = 0.0;
        for (const concord::Vector3& f : r.forces) {
            largest = std::max(largest, std::sqrt(f[0] * f[0] + f[1] * f[1] + f[2] * f[2]));
        }
        out.energy = r.energy * ConcordForce::KJ_PER_MOL_PER_EV;
        out.maxForce = largest * FORCE_FACTOR;
    } catch (const concord::Error&) {
        out.energy = NOT_A_NUMBER;
        out.maxForce = NOT_A_NUMBER;
    }
}
}  // namespace

std::vector<GeneratedStructure> generateStructures(
    const std::string& modelPath, const std::vector<int>& atomicNumbers,
    const std::vector<int>& bondFirst, const std::vector<int>& bondSecond,
    const std::vector<int>& bondOrder, int samples, int64_t seed, bool relax, double fmax,
    int precision) {
    if (bondFirst.size() != bondSecond.size() || bondFirst.size() != bondOrder.size()) {
        throw OpenMM::OpenMMException(
            "generateStructures: bondFirst, bondSecond and bondOrder must have the same length (" +
            std::to_string(bondFirst.size()) + ", " + std::to_string(bondSecond.size()) + ", " +
            std::to_string(bondOrder.size()) + ")");
    }
    if (samples < 1) {
        throw OpenMM::OpenMMException("generateStructures: samples must be >= 1, got " +
                                      std::to_string(samples));
    }
    try {
        const concord::Model model(modelPath, "cpu", precision);
        if (!model.has_generator()) {
            throw OpenMM::OpenMMException("generateStructures: the model " + modelPath +
                                          " has no structure generator (use a model trained with "
                                          "one, e.g. concord-qm9-gfn2-generator.concord)");
        }
        const std::vector<int32_t> numbers(atomicNumbers.begin(), atomicNumbers.end());
        std::vector<concord::Bond> bonds;
        for (size_t b = 0; b < bondFirst.size(); ++b) {
            bonds.push_back({bondFirst[b], bondSecond[b], bondOrder[b]});
        }
        concord::SamplerOptions sampler;
        sampler.seed = static_cast<uint64_t>(seed);
        std::vector<GeneratedStructure> out(static_cast<size_t>(samples));
        if (!relax) {
            const auto generated = model.generate(numbers, bonds, out.size(), sampler);
            for (size_t k = 0; k < out.size(); ++k) {
                out[k].positions = toNanometres(generated[k]);
                evaluate(model, numbers, generated[k], out[k]);
                check(numbers, bonds, generated[k], out[k]);
            }
            return out;
        }
        concord::OptimizeOptions options;
        options.fmax = fmax / FORCE_FACTOR;
        const auto optimized =
            model.generate_optimize(numbers, bonds, out.size(), sampler, options);
        for (size_t k = 0; k < out.size(); ++k) {
            const concord::Optimized& o = optimized[k];
            out[k].positions = toNanometres(o.positions);
            check(numbers, bonds, o.positions, out[k]);
            out[k].relaxed = o.status == CONCORD_SUCCESS;
            out[k].converged = o.converged;
            if (out[k].relaxed) {
                out[k].energy = o.energy * ConcordForce::KJ_PER_MOL_PER_EV;
                out[k].maxForce = o.max_force * FORCE_FACTOR;
            } else {
                evaluate(model, numbers, o.positions, out[k]);
            }
        }
        return out;
    } catch (const concord::Error& e) {
        throw OpenMM::OpenMMException(std::string("generateStructures: ") + e.what());
    }
}

}  // namespace ConcordPlugin
