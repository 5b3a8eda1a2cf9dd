//! Sans-IO control-plane logic: node registry, failure detector, routing, stream directory.
