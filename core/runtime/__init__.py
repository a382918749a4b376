"""How runs execute: one plan per run (plan), one prefetching batch pipeline (pipeline), one
device-side batch step (step), the fused inference model (fusion) and GPU JPEG decoding
(gpu_decode). Inference and feature extraction both run through here."""
