"""The near-duplicate threshold's default and bounds, in bits of the 64-bit perceptual hash
(core.insight.duplicates). Importing this costs nothing: the command line's parser reads it.

On 60 generated photos with made copies (50 % resize, JPEG quality 40, 90 % crop, a colour
shift), every copy lay within 4 bits of its original and the closest two different photos were
18 bits apart; the default sits between, nearer the copies (real edits vary more than these).
benchmarks/bench_similarity.py prints recall and precision for each threshold."""

DEFAULT_THRESHOLD = 10
MAX_THRESHOLD = 32  # beyond this, unrelated images match by chance

# Embeddings (core.insight.vectors): the cosine distance at or under which two images' vectors
# from a trained network count as the same picture.
DEFAULT_COSINE = 0.05
MAX_COSINE = 1.0
