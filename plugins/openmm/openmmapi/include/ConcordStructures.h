#ifndef CONCORD_OPENMM_CONCORDSTRUCTURES_H_
#define CONCORD_OPENMM_CONCORDSTRUCTURES_H_

// Positions for a molecule from a Concord model's structure generator, in OpenMM's units.

#include <cstdint>
#include <string>
#include <vector>

namespace ConcordPlugin {

/** One structure proposed by the generator. */
struct GeneratedStructure {
    /** Positions in nm, flattened [N][3], centred at the origin, atoms in input order. */
    std::vector<double> positions;
    /**
     * Energy of the returned positions on the potential (the generator model's own, or
     * potentialPath's), kJ/mol; NaN when it cannot be
     * computed (e.g. two atoms of an unrelaxed sample closer than 0.025 nm).
     */
    double energy = 0.0;
    /** Whether a relaxation was requested and ran (converged or not). */
    bool relaxed = false;
    /** Whether the relaxation reached its force threshold. */
    bool converged = false;
    /** Largest per-atom force norm at the returned positions, kJ/mol/nm (NaN as energy). */
    double maxForce = 0.0;
    /**
     * Whether the positions are chemically sane for the graph (Concord's rule,
     * concord_check_structure: bond lengths plausible for their orders, no unbonded clash).
     */
    bool sane = false;
    /** The first problem in words when not sane; empty when sane. */
    std::string problem;
    /**
     * Rank among the call's samples, 0 = the best: sane before not sane, then the lowest
     * energy, then draw order (Concord's generation pipeline, the rule of every front end).
     */
    int rank = 0;
};

/**
 * Generates `samples` structures of a molecule from its bond graph with the structure
 * generator of a Concord model, optionally relaxing each on the model's potential (Concord's
 * relaxation of generated structures, preconditioned L-BFGS until the largest force is below
 * `fmax`, at most 500 steps) or on another Concord model's
 * (`potentialPath`), whose energies then also rank the samples. A sample whose relaxation
 * failed (the generator placed atoms badly) comes back unrelaxed with `relaxed` false.
 *
 * @param modelPath      a Concord model file with a structure generator
 * @param atomicNumbers  atomic numbers of the N atoms
 * @param bondFirst      first atom (0-based) of each bond
 * @param bondSecond     second atom of each bond (each bond listed once)
 * @param bondOrder      order of each bond: 1 single, 2 double, 3 triple, 4 aromatic
 * @param samples        number of structures, >= 1
 * @param seed           seed of the sampler: the same seed gives the same structures
 * @param relax          whether to relax each structure on the model's potential
 * @param fmax           force threshold of the relaxation, kJ/mol/nm (> 0), or 0 for the
 *                       library's default for generated structures (0.05 eV/Å = 48.2
 *                       kJ/mol/nm; OpenMM's LocalEnergyMinimizer default 10 is 0.01 eV/Å)
 * @param precision      floating-point precision of the models: 32 or 64
 * @param potentialPath  a Concord model file that relaxes and ranks the samples (energies are
 *                       its own); empty for the generator model itself
 * @param formalCharges  formal charge of each atom, or empty for a neutral graph: the
 *                       charge-separated groups of neutral molecules (nitro, N-oxides),
 *                       summing to zero
 * @throws OpenMM::OpenMMException when a model cannot be loaded or the first has no
 *         generator, the graph is invalid (an atom without bonds, a valence too high, bad
 *         indices, a net charge), or an element is unknown to a model
 */
std::vector<GeneratedStructure> generateStructures(
    const std::string& modelPath, const std::vector<int>& atomicNumbers,
    const std::vector<int>& bondFirst, const std::vector<int>& bondSecond,
    const std::vector<int>& bondOrder, int samples = 1, int64_t seed = 0, bool relax = true,
    double fmax = 0.0, int precision = 64, const std::string& potentialPath = "",
    const std::vector<int>& formalCharges = std::vector<int>());

}  // namespace ConcordPlugin

#endif  // CONCORD_OPENMM_CONCORDSTRUCTURES_H_
