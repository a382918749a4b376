"""How runs execute: one plan per run (plan), one prefetching batch pipeline (pipeline), one
batch step per engine (step: torch; onnx_engine: ONNX Runtime, with quantize for int8), chosen
in one place (engine), the fused torch model (fusion) and GPU JPEG decoding (gpu_decode).
Inference and feature extraction both run through here."""
