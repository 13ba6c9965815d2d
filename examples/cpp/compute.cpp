// Energy and forces of a methane molecule with the Concord C++ wrapper, its geometry
// optimisation, and, when the model has a structure generator, methane structures generated
// from its bond graph and relaxed.
//
// Build: make examples (or: c++ -std=c++17 -I include -I cpp examples/cpp/compute.cpp
//        -L target/release -lconcord -Wl,-rpath,$PWD/target/release -o compute)
// Run:   target/examples/compute_cpp MODEL.concord
#include <cstdio>
#include <vector>

#include "concord.hpp"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s MODEL.concord\n", argv[0]);
        return 2;
    }
    try {
        concord::Model model(argv[1], "cpu", 64);

        // Methane: C, H, H, H, H; positions in Angstrom.
        std::vector<int32_t> numbers = {6, 1, 1, 1, 1};
        std::vector<concord::Vector3> positions = {{0.0, 0.0, 0.0},
                                                   {0.629, 0.629, 0.629},
                                                   {-0.629, -0.629, 0.629},
                                                   {-0.629, 0.629, -0.629},
                                                   {0.629, -0.629, -0.629}};
        concord::Result result = model.compute(numbers, positions);

        std::printf("Concord %s, methane\n", concord::version().c_str());
        std::printf("energy: %.10f eV\n", result.energy);
        std::printf("forces (eV/A):\n");
        for (size_t i = 0; i < numbers.size(); i++) {
            const auto& f = result.forces[i];
            std::printf("  %2d  %14.10f %14.10f %14.10f\n", numbers[i], f[0], f[1], f[2]);
        }

        // Geometry optimisation (default options: L-BFGS, fmax 0.01 eV/A).
        concord::Optimized relaxed = model.optimize(numbers, positions);
        std::printf("optimised: energy %.10f eV, max force %.2e eV/A, %lld steps, %s\n",
                    relaxed.energy, relaxed.max_force, static_cast<long long>(relaxed.steps),
                    relaxed.converged ? "converged" : "not converged");

        // Structures from the bond graph, each relaxed.
        if (!model.has_generator()) {
            std::printf("this model has no structure generator: skipping generation\n");
            return 0;
        }
        std::vector<concord::Bond> bonds = {{0, 1, 1}, {0, 2, 1}, {0, 3, 1}, {0, 4, 1}};
        concord::SamplerOptions sampler;
        sampler.seed = 42;
        auto samples = model.generate_optimize(numbers, bonds, 3, sampler);
        std::printf("generated methane, %zu samples:\n", samples.size());
        for (size_t k = 0; k < samples.size(); k++) {
            const concord::Optimized& s = samples[k];
            if (s.status != CONCORD_SUCCESS) {
                try {  // rerun the failed relaxation for its message
                    model.optimize(numbers, s.positions);
                } catch (const concord::Error& e) {
                    std::printf("sample %zu: relaxation failed: %s\n", k, e.what());
                }
                continue;
            }
            std::printf("sample %zu: energy %.6f eV, %lld steps, %s\n", k, s.energy,
                        static_cast<long long>(s.steps),
                        s.converged ? "converged" : "not converged");
        }
    } catch (const concord::Error& e) {
        std::fprintf(stderr, "error (status %d): %s\n", static_cast<int>(e.status()), e.what());
        return 1;
    }
    return 0;
}
