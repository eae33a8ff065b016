"""The contract: the network description, the golden model that executes the integer semantics,
and the seeded random networks. Imports nothing of the rest of snngen."""
