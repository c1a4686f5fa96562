"""The stack written out for other tools: a compose file, a Swarm stack file (and the Swarm service specs),
Kubernetes manifests.
"""
