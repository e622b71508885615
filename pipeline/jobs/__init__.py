"""The only layer that wires the core, the torch models and Blender together: the stages of an avatar job, the job
itself, the manifest with fingerprints and resume, the add-on's decode worker, and the execution backends."""
