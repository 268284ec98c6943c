"""The demo catalog `make run` loads: five ONNX models that run here (built from scikit-learn's bundled datasets by
`scripts/build-demo-models`) and listings of well-known Hugging Face and Replicate models.

Modules: `runnable` (the ONNX models' features, schemas and cards; runtime code, no scikit-learn), `builder`
(trains and converts them; dev-only, needs scikit-learn and skl2onnx), `listings` (the provider listings' data and
cards), `mirrors` (the system accounts that own provider listings), `loader` (the idempotent load service)."""
