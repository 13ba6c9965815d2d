// Energy and forces of a methane molecule with the Concord C++ wrapper.
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
    } catch (const concord::Error& e) {
        std::fprintf(stderr, "error (status %d): %s\n", static_cast<int>(e.status()), e.what());
        return 1;
    }
    return 0;
}
