"""FOVEA model-service: detection, tracking, summaries and ontology suggestions, offline."""
