"""Desired vs observed state: the desired units, the observed engine objects, the plan with causes, the
executor that applies it, and the same for Swarm.
"""
