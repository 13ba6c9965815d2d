// C++ test of ConcordForce with the real OpenMM and Concord libraries: energy and forces equal
// the Concord C++ API's after unit conversion (Reference and CPU platforms), forces match a
// finite difference of the energy, the XmlSerializer round trip keeps the energy, and bad
// input throws OpenMMException with a clear message.
// Usage: TestConcordForce MODEL.concord OPENMM_PLUGIN_DIR

#include "ConcordForce.h"
#include "concord.hpp"
#include "openmm/Context.h"
#include "openmm/OpenMMException.h"
#include "openmm/Platform.h"
#include "openmm/State.h"
#include "openmm/System.h"
#include "openmm/VerletIntegrator.h"
#include "openmm/serialization/XmlSerializer.h"

#include <cmath>
#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

using ConcordPlugin::ConcordForce;
using OpenMM::Vec3;

namespace {

int passes = 0;
int failures = 0;

void check(bool ok, const std::string& what) {
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
    ++(ok ? passes : failures);
}

/// Methanol near its minimum, Å (input data, not a reference result).
const std::vector<int> NUMBERS = {6, 8, 1, 1, 1, 1};
const std::vector<Vec3> POSITIONS_A = {{-0.0471, 0.6634, 0.0}, {-0.0471, -0.7566, 0.0},
                                       {-1.0864, 0.9749, 0.0}, {0.4375, 1.0754, 0.8900},
                                       {0.4375, 1.0754, -0.8900}, {0.8507, -1.0810, 0.0}};

std::vector<Vec3> nanometres() {
    std::vector<Vec3> x;
    for (const Vec3& r : POSITIONS_A) x.push_back(r * 0.1);
    return x;
}

std::unique_ptr<OpenMM::System> makeSystem(ConcordForce* force) {
    auto system = std::make_unique<OpenMM::System>();
    for (int z : NUMBERS) system->addParticle(z == 1 ? 1.008 : 12.0);
    system->addForce(force);
    return system;
}

OpenMM::State evaluate(const OpenMM::System& system, const std::string& platform,
                       const std::vector<Vec3>& positions) {
    OpenMM::VerletIntegrator integrator(0.0005);
    OpenMM::Context context(system, integrator, OpenMM::Platform::getPlatformByName(platform));
    context.setPositions(positions);
    return context.getState(OpenMM::State::Energy | OpenMM::State::Forces);
}

template <class F>
std::string thrownMessage(F&& f) {
    try {
        f();
    } catch (const OpenMM::OpenMMException& e) {
        return e.what();
    }
    return "";
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s MODEL.concord OPENMM_PLUGIN_DIR\n", argv[0]);
        return 2;
    }
    const std::string model = argv[1];
    OpenMM::Platform::loadPluginsFromDirectory(argv[2]);

    // The reference: the Concord C++ API at float64, eV and Å.
    std::vector<concord::Vector3> xa;
    for (const Vec3& r : POSITIONS_A) xa.push_back({r[0], r[1], r[2]});
    const concord::Model reference(model, "cpu", 64);
    const concord::Result expected =
        reference.compute(std::vector<int32_t>(NUMBERS.begin(), NUMBERS.end()), xa);
    const double kJ = ConcordForce::KJ_PER_MOL_PER_EV;

    auto system = makeSystem(new ConcordForce(model, NUMBERS, 64));
    for (const std::string platform : {"Reference", "CPU"}) {
        const OpenMM::State state = evaluate(*system, platform, nanometres());
        const double energy = state.getPotentialEnergy();
        check(std::fabs(energy - expected.energy * kJ) <= 1e-9 * std::fabs(expected.energy * kJ),
              platform + ": energy equals the C++ API's (kJ/mol)");
        double worst = 0.0;
        for (size_t i = 0; i < NUMBERS.size(); ++i) {
            for (int k = 0; k < 3; ++k) {
                const double want = expected.forces[i][k] * kJ * 10.0;
                worst = std::fmax(worst, std::fabs(state.getForces()[i][k] - want));
            }
        }
        check(worst < 1e-8, platform + ": forces equal the C++ API's (kJ/mol/nm)");
    }

    // Central finite difference of the energy along every coordinate of atom 1.
    const double h = 1e-5;  // nm
    const OpenMM::State state = evaluate(*system, "Reference", nanometres());
    for (int k = 0; k < 3; ++k) {
        std::vector<Vec3> plus = nanometres(), minus = nanometres();
        plus[1][k] += h;
        minus[1][k] -= h;
        const double fd = -(evaluate(*system, "Reference", plus).getPotentialEnergy() -
                            evaluate(*system, "Reference", minus).getPotentialEnergy()) / (2 * h);
        const double f = state.getForces()[1][k];
        std::ostringstream what;
        what << "finite difference of the energy = force on atom 1, axis " << k << " (" << fd
             << " vs " << f << ")";
        check(std::fabs(fd - f) < 1e-3 * std::fmax(1.0, std::fabs(f)), what.str());
    }

    // XmlSerializer round trip.
    std::stringstream xml;
    OpenMM::XmlSerializer::serialize<OpenMM::System>(system.get(), "System", xml);
    std::unique_ptr<OpenMM::System> copy(OpenMM::XmlSerializer::deserialize<OpenMM::System>(xml));
    const double restored = evaluate(*copy, "Reference", nanometres()).getPotentialEnergy();
    check(restored == state.getPotentialEnergy(), "XmlSerializer round trip gives the same energy");

    // Errors.
    std::string message = thrownMessage([&] { ConcordForce(model + ".missing", NUMBERS); });
    check(message.find(".missing") != std::string::npos, "missing model file: " + message);
    message = thrownMessage([&] { ConcordForce(model, std::vector<std::string>{"C", "Xx"}); });
    check(message.find("'Xx' is not a chemical element") != std::string::npos,
          "unknown symbol: " + message);
    message = thrownMessage([&] { ConcordForce(model, std::vector<int>{6, 92}); });
    check(message.find("atomic number 92") != std::string::npos,
          "element unknown to the model: " + message);
    auto wrongCount = makeSystem(new ConcordForce(model, std::vector<int>{6, 8, 1}));
    message = thrownMessage([&] { evaluate(*wrongCount, "Reference", nanometres()); });
    check(message.find("has 3 atomic numbers but the System has 6") != std::string::npos,
          "particle count mismatch: " + message);

    std::printf("%d passed, %d failed\n", passes, failures);
    return failures == 0 ? 0 : 1;
}
