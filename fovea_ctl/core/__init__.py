"""The project's context and the primitives every use case shares: the project (settings, stack, engine), its
secrets, run and transfer progress, background work, the CLI's own telemetry.
"""
