"""Fine-tuning the final layer: feature extraction and its disk cache, the head, the recipe."""
