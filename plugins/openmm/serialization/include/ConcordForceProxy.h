#ifndef CONCORD_OPENMM_CONCORDFORCEPROXY_H_
#define CONCORD_OPENMM_CONCORDFORCEPROXY_H_

// XmlSerializer support for ConcordForce.

#include "openmm/serialization/SerializationProxy.h"

namespace ConcordPlugin {

/**
 * Serializes a ConcordForce as its model path, precision, device, periodicity, force group,
 * name, atomic numbers and particle indices; deserializing loads the model file again from
 * that path. Registered when the plugin library is loaded.
 */
class ConcordForceProxy : public OpenMM::SerializationProxy {
public:
    ConcordForceProxy();
    void serialize(const void* object, OpenMM::SerializationNode& node) const override;
    void* deserialize(const OpenMM::SerializationNode& node) const override;
};

}  // namespace ConcordPlugin

#endif  // CONCORD_OPENMM_CONCORDFORCEPROXY_H_
