# Replaces the contrib hook's hidden import `torchvision.image` (here: image_stable, a native
# library collected by build.spec, loaded with torch.ops.load_library).
hiddenimports = []
