#include "ConcordForceProxy.h"

#include "ConcordForce.h"
#include "openmm/OpenMMException.h"
#include "openmm/serialization/SerializationNode.h"

namespace ConcordPlugin {

namespace {
constexpr int VERSION = 1;
}

ConcordForceProxy::ConcordForceProxy() : OpenMM::SerializationProxy("ConcordForce") {}

void ConcordForceProxy::serialize(const void* object, OpenMM::SerializationNode& node) const {
    const ConcordForce& force = *reinterpret_cast<const ConcordForce*>(object);
    node.setIntProperty("version", VERSION);
    node.setStringProperty("modelPath", force.getModelPath());
    node.setStringProperty("modelChecksum", force.getModelChecksum());
    node.setIntProperty("precision", force.getPrecision());
    node.setStringProperty("device", force.getDevice());
    node.setBoolProperty("periodic", force.usesPeriodicBoundaryConditions());
    node.setIntProperty("forceGroup", force.getForceGroup());
    node.setStringProperty("name", force.getName());
    OpenMM::SerializationNode& particles = node.createChildNode("Particles");
    const std::vector<int>& indices = force.getParticles();
    for (size_t i = 0; i < force.getAtomicNumbers().size(); ++i) {
        OpenMM::SerializationNode& particle = particles.createChildNode("Particle");
        particle.setIntProperty("z", force.getAtomicNumbers()[i]);
        if (!indices.empty()) particle.setIntProperty("index", indices[i]);
    }
}

void* ConcordForceProxy::deserialize(const OpenMM::SerializationNode& node) const {
    const int version = node.getIntProperty("version");
    if (version != VERSION) {
        throw OpenMM::OpenMMException("ConcordForce: unsupported serialization version " +
                                      std::to_string(version) + " (this plugin reads version " +
                                      std::to_string(VERSION) + ")");
    }
    std::vector<int> numbers, indices;
    for (const OpenMM::SerializationNode& particle : node.getChildNode("Particles").getChildren()) {
        numbers.push_back(particle.getIntProperty("z"));
        if (particle.hasProperty("index")) indices.push_back(particle.getIntProperty("index"));
    }
    auto* force =
        new ConcordForce(node.getStringProperty("modelPath"), numbers,
                         node.getIntProperty("precision"), node.getStringProperty("device"));
    // The file at the stored path must still be the model that was serialised.
    if (node.hasProperty("modelChecksum")) {
        const std::string stored = node.getStringProperty("modelChecksum");
        const std::string found = force->getModelChecksum();
        if (stored != found) {
            const std::string path = force->getModelPath();
            delete force;
            throw OpenMM::OpenMMException(
                "ConcordForce: the model file " + path +
                " is not the one this force was serialised with (checksum " +
                (found.empty() ? "none" : found) + ", stored " +
                (stored.empty() ? "none" : stored) + ")");
        }
    }
    force->setParticles(indices);
    force->setUsesPeriodicBoundaryConditions(node.getBoolProperty("periodic"));
    force->setForceGroup(node.getIntProperty("forceGroup"));
    force->setName(node.getStringProperty("name"));
    return force;
}

}  // namespace ConcordPlugin
