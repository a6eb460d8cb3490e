"""Moving a store into a network without internet: bundles of stored artifacts with a manifest
(archive, manifest), written by export and verified by the importer before anything is stored."""
