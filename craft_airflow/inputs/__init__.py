"""Inputs of a Craft execution, one concept per module.

* :mod:`.mappings` — :class:`InputSource` / :class:`OutputDestination` and the mapping schema
  (contract §3.3);
* :mod:`.values` — input values checked against the pipeline's declared inputs, split into JSON
  values and file sources;
* :mod:`.files` — :class:`FileInput` and opening file sources (local paths, storage URIs,
  ``ObjectStoragePath``, bytes, streams) as binary streams, never read into memory.
"""
