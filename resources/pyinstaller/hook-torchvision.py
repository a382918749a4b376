# Replaces the contrib hook, which asks for `torchvision._C` (not found: this torchvision names
# its native operator library _C_stable and loads it with torch.ops.load_library). build.spec
# collects every native library torchvision ships; this hook keeps the sources beside the
# bytecode, as TorchScript reads them.
module_collection_mode = "pyz+py"
