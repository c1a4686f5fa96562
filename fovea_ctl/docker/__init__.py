"""Everything that talks to the Docker engine: the SDK adapter, the stdlib socket client `fovea status` runs on,
the multiplexed stream, the label keys, Swarm's calls, the redis-cli convention.

Empty on purpose: `fovea status` imports modules of this package before pydantic or the SDK.
"""
