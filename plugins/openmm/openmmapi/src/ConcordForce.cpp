#include "ConcordForce.h"

#include "concord.hpp"
#include "internal/ConcordForceImpl.h"
#include "internal/Elements.h"
#include "openmm/Context.h"
#include "openmm/OpenMMException.h"
#include "openmm/State.h"

#include <algorithm>
#include <optional>

namespace ConcordPlugin {

namespace {
std::vector<int> atomicNumbersOf(const std::vector<std::string>& elements) {
    std::vector<int> numbers;
    numbers.reserve(elements.size());
    for (const std::string& symbol : elements) numbers.push_back(atomicNumberOf(symbol));
    return numbers;
}

std::string listOf(const std::vector<int32_t>& numbers) {
    std::string text;
    for (int32_t z : numbers) text += (text.empty() ? "" : ", ") + std::to_string(z);
    return text;
}

/// Loads the model and checks that it knows every atomic number.
std::shared_ptr<const concord::Model> load(const std::string& path, const std::vector<int>& numbers,
                                           int precision, const std::string& device) {
    try {
        auto model = std::make_shared<const concord::Model>(path, device, precision);
        const std::vector<int32_t> known = model->elements();
        for (size_t i = 0; i < numbers.size(); ++i) {
            if (std::find(known.begin(), known.end(), numbers[i]) == known.end()) {
                throw OpenMM::OpenMMException(
                    "ConcordForce: particle " + std::to_string(i) + " has atomic number " +
                    std::to_string(numbers[i]) + ", which the model " + path +
                    " does not know (its elements: " + listOf(known) + ")");
            }
        }
        return model;
    } catch (const concord::Error& e) {
        throw OpenMM::OpenMMException(std::string("ConcordForce: ") + e.what());
    }
}

/// The checksum in a model's metadata (`"checksum":"sha256:<hex>"`, no escapes in the value);
/// empty for a format-1 file.
std::string checksumOf(const concord::Model& model) {
    const std::string json = model.metadata_json();
    const std::string key = "\"checksum\":\"";
    const size_t start = json.find(key);
    if (start == std::string::npos) return "";
    const size_t begin = start + key.size();
    const size_t end = json.find('"', begin);
    return end == std::string::npos ? "" : json.substr(begin, end - begin);
}
}  // namespace

ConcordForce::ConcordForce(const std::string& modelPath, const std::vector<int>& atomicNumbers,
                           int precision, const std::string& device)
    : modelPath(modelPath), atomicNumbers(atomicNumbers), precision(precision), device(device),
      model(load(modelPath, atomicNumbers, precision, device)) {}

ConcordForce::ConcordForce(const std::string& modelPath, const std::vector<std::string>& elements,
                           int precision, const std::string& device)
    : ConcordForce(modelPath, atomicNumbersOf(elements), precision, device) {}

void ConcordForce::setParticles(const std::vector<int>& particles) {
    if (!particles.empty() && particles.size() != atomicNumbers.size()) {
        throw OpenMM::OpenMMException(
            "ConcordForce::setParticles: " + std::to_string(particles.size()) +
            " particle indices given for " + std::to_string(atomicNumbers.size()) +
            " atomic numbers (give one index per atomic number, or none for all particles)");
    }
    std::vector<int> sorted = particles;
    std::sort(sorted.begin(), sorted.end());
    if (!sorted.empty() && sorted.front() < 0) {
        throw OpenMM::OpenMMException("ConcordForce::setParticles: negative particle index " +
                                      std::to_string(sorted.front()));
    }
    const auto repeated = std::adjacent_find(sorted.begin(), sorted.end());
    if (repeated != sorted.end()) {
        throw OpenMM::OpenMMException("ConcordForce::setParticles: particle " +
                                      std::to_string(*repeated) + " is listed twice");
    }
    this->particles = particles;
}

void ConcordForce::addCommitteeModel(const std::string& path) {
    committee.push_back(load(path, atomicNumbers, precision, device));
    committeePaths.push_back(path);
}

const std::string& ConcordForce::getCommitteeModelPath(int index) const {
    if (index < 0 || index >= getNumCommitteeModels()) {
        throw OpenMM::OpenMMException("ConcordForce: committee member " + std::to_string(index) +
                                      " does not exist (" +
                                      std::to_string(getNumCommitteeModels()) + " members)");
    }
    return committeePaths[static_cast<size_t>(index)];
}

std::string ConcordForce::getCommitteeModelChecksum(int index) const {
    getCommitteeModelPath(index);  // checks the index
    return checksumOf(*committee[static_cast<size_t>(index)]);
}

ConcordDeviation ConcordForce::computeDeviation(OpenMM::Context& context) const {
    if (committee.empty()) {
        throw OpenMM::OpenMMException(
            "ConcordForce::computeDeviation: no committee; add models with addCommitteeModel");
    }
    const OpenMM::State state = context.getState(OpenMM::State::Positions);
    const std::vector<OpenMM::Vec3>& all = state.getPositions();
    std::vector<concord::Vector3> x(atomicNumbers.size());
    for (size_t i = 0; i < x.size(); ++i) {
        const size_t p = particles.empty() ? i : static_cast<size_t>(particles[i]);
        if (p >= all.size()) {
            throw OpenMM::OpenMMException("ConcordForce::computeDeviation: particle " +
                                          std::to_string(p) + " is not in the System");
        }
        for (int a = 0; a < 3; ++a) x[i][a] = all[p][a] * ANGSTROM_PER_NM;
    }
    std::optional<concord::Matrix3> cell;
    if (periodic) {
        OpenMM::Vec3 a, b, c;
        state.getPeriodicBoxVectors(a, b, c);
        cell = concord::Matrix3{};
        const OpenMM::Vec3* v[3] = {&a, &b, &c};
        for (int r = 0; r < 3; ++r)
            for (int k = 0; k < 3; ++k) (*cell)[r][k] = (*v[r])[k] * ANGSTROM_PER_NM;
    }
    std::vector<const concord::Model*> models{model.get()};
    for (const auto& m : committee) models.push_back(m.get());
    const std::vector<int32_t> z(atomicNumbers.begin(), atomicNumbers.end());
    try {
        const concord::Deviation d = concord::model_deviation(models, z, x, cell);
        const double f = KJ_PER_MOL_PER_EV * ANGSTROM_PER_NM;  // eV/Å -> kJ/mol/nm
        ConcordDeviation out;
        out.energyStd = KJ_PER_MOL_PER_EV * d.energy;
        out.maxForceDeviation = f * d.max_devi_f;
        out.minForceDeviation = f * d.min_devi_f;
        out.avgForceDeviation = f * d.avg_devi_f;
        for (double v : d.atom_forces) out.atomForceDeviations.push_back(f * v);
        return out;
    } catch (const concord::Error& e) {
        throw OpenMM::OpenMMException(std::string("ConcordForce::computeDeviation: ") + e.what());
    }
}

std::vector<int> ConcordForce::getModelElements() const {
    const std::vector<int32_t> known = model->elements();
    return std::vector<int>(known.begin(), known.end());
}

double ConcordForce::getReceptiveField() const {
    return model->receptive_field() / ANGSTROM_PER_NM;
}

std::string ConcordForce::getModelChecksum() const { return checksumOf(*model); }

OpenMM::ForceImpl* ConcordForce::createImpl() const { return new ConcordForceImpl(*this); }

}  // namespace ConcordPlugin
