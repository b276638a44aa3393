"""medsum: on-premise clinical summarization with privacy controls.

The base layer (configuration, records, model loading, keys, storage) lives here beside the entry
points (CLI, pipeline, HTTP API). Importing the package sets the offline switches that keep the
Hugging Face and Presidio libraries from reaching the network.
"""

from medsum import offline as _offline

_offline.apply()

__version__ = "0.1.0"
