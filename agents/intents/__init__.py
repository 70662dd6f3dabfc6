"""Offline-planner intents, one module per agent."""
