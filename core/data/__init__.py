"""Images in: finding files (listing), decoding every format (images), training layouts
(datasets), generated images (synthetic)."""
