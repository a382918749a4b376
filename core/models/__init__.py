"""Loading models: the architecture registry (archs), torchvision's ImageNet weights (imagenet),
reading checkpoint files in every accepted format (formats), telling the architecture from the
weights (identify), and load/save (checkpoints: the one place the order of guesses lives).
A file is read (formats), its architecture identified (identify, archs), then built (checkpoints).
"""
