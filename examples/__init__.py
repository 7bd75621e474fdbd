"""Examples of agentgate's clients; ``examples.agent`` is the tutorial agent (README.md)."""
