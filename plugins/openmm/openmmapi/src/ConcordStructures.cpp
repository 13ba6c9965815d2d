#include "ConcordStructures.h"

#include "ConcordForce.h"
#include "concord.hpp"
#include "openmm/OpenMMException.h"

#include <optional>

namespace ConcordPlugin {

namespace {
constexpr double FORCE_FACTOR = ConcordForce::KJ_PER_MOL_PER_EV * ConcordForce::ANGSTROM_PER_NM;

/// Positions in Å -> flattened nm.
std::vector<double> toNanometres(const std::vector<concord::Vector3>& positions) {
    std::vector<double> flat;
    flat.reserve(3 * positions.size());
    for (const concord::Vector3& r : positions) {
        for (double x : r) flat.push_back(x / ConcordForce::ANGSTROM_PER_NM);
    }
    return flat;
}

}  // namespace

std::vector<GeneratedStructure> generateStructures(
    const std::string& modelPath, const std::vector<int>& atomicNumbers,
    const std::vector<int>& bondFirst, const std::vector<int>& bondSecond,
    const std::vector<int>& bondOrder, int samples, int64_t seed, bool relax, double fmax,
    int precision, const std::string& potentialPath, const std::vector<int>& formalCharges) {
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
                                          "one, e.g. concord-generator.concord)");
        }
        std::optional<concord::Model> potential;
        if (!potentialPath.empty()) potential.emplace(potentialPath, "cpu", precision);
        const std::vector<int32_t> numbers(atomicNumbers.begin(), atomicNumbers.end());
        const std::vector<int32_t> charges(formalCharges.begin(), formalCharges.end());
        std::vector<concord::Bond> bonds;
        for (size_t b = 0; b < bondFirst.size(); ++b) {
            bonds.push_back({bondFirst[b], bondSecond[b], bondOrder[b]});
        }
        concord::SamplerOptions sampler;
        sampler.seed = static_cast<uint64_t>(seed);
        std::optional<concord::OptimizeOptions> options;
        if (relax) {
            options = concord::OptimizeOptions::generated();
            // 0: the library's default; anything else (a negative or NaN included) is the
            // caller's, checked by the library.
            if (fmax != 0.0) options->fmax = fmax / FORCE_FACTOR;
        }
        const auto generated =
            model.generate_structures(numbers, bonds, static_cast<size_t>(samples), sampler,
                                      options, potential ? &*potential : nullptr, {}, charges);
        std::vector<GeneratedStructure> out(generated.size());
        for (size_t k = 0; k < out.size(); ++k) {
            const concord::GeneratedSample& g = generated[k];
            out[k].positions = toNanometres(g.positions);
            out[k].energy = g.energy * ConcordForce::KJ_PER_MOL_PER_EV;
            out[k].maxForce = g.max_force * FORCE_FACTOR;
            out[k].relaxed = g.relaxed;
            out[k].converged = g.converged;
            out[k].sane = g.sane;
            out[k].problem = g.problem;
            out[k].rank = g.rank;
        }
        return out;
    } catch (const concord::Error& e) {
        throw OpenMM::OpenMMException(std::string("generateStructures: ") + e.what());
    }
}

}  // namespace ConcordPlugin
