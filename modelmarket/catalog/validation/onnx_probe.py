"""Load one ONNX file with onnxruntime and print what it takes and returns, as JSON on stdout.

Run as a separate process (`python -I onnx_probe.py MODEL`) so that a hostile or broken model can crash, hang or
balloon only this process, never the job worker. Imports nothing from the project."""

from __future__ import annotations

import json
import sys
from typing import Any


def describe(path: str) -> dict[str, Any]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])

    def arguments(items: list[Any]) -> list[dict[str, Any]]:
        return [
            {
                "name": item.name,
                "type": item.type,
                "shape": [dim if isinstance(dim, int) or dim is None else str(dim) for dim in item.shape],
            }
            for item in items
        ]

    meta = session.get_modelmeta()
    return {
        "inputs": arguments(session.get_inputs()),
        "outputs": arguments(session.get_outputs()),
        "graph_name": meta.graph_name,
        "producer": meta.producer_name,
        "model_version": meta.version,
        "custom_metadata": dict(list(meta.custom_metadata_map.items())[:20]),
    }


def main() -> int:
    try:
        result = describe(sys.argv[1])
    except Exception as error:  # onnxruntime raises several unrelated classes for unreadable models
        result = {"error": f"{type(error).__name__}: {error}"[:1000]}
    sys.stdout.write(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
