"""tflite-runtime wheels through TensorFlow's official CMake pip script, with our patches.

The modules, in the order a build uses them:

* ``recipe``: ``recipes/tflite-runtime.toml`` (versions, patch series, dependencies, platforms);
* ``versions``: which version a build produces and the proof the source is that version;
* ``tree``: what a TensorFlow tree says about itself (version, git state, line endings, pins);
* ``checks``: everything refused before anything is patched or compiled;
* ``patches``: strict application of the patch series;
* ``platforms``: what differs between Linux and Windows targets;
* ``numpy_abi``: the numpy requirement the module's build implies;
* ``model``, ``steps``, ``plan``: the plan's data, its steps, and making/printing/running it.
"""
