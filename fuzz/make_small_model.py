"""Writes fuzz/seeds/small_model.onnx: the smallest model that honours the runtime contract of
tests/fixtures/tiny (inputs `input_ids`, `attention_mask`; output `logits` [batch, 14, 4]), for
the `load_small_model` fuzz target. Its nine nodes (int8 embeddings through DequantizeLinear,
a masked sum, a reshape) load in well under a millisecond, so a million corrupted copies can be
tried, and almost every corrupted byte lands in the graph's structure rather than in weights.

Usage (from the repository root, with `pip install -r scripts/requirements.txt`):
    python fuzz/make_small_model.py
The output is deterministic.
"""

import json
import pathlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUTPUTS = 14 * 4


def main() -> None:
    tokenizer = json.loads((ROOT / "tests/fixtures/tiny/tokenizer.json").read_text())
    vocabulary = len(tokenizer["model"]["vocab"])
    rng = np.random.default_rng(7)
    # One int8 weight per token, spread over the 56 outputs by a float row: little weight data.
    weights = rng.integers(-127, 128, size=(vocabulary, 1), dtype=np.int8)
    spread = rng.normal(0.0, 1.0, size=OUTPUTS).astype(np.float32)
    initializers = [
        numpy_helper.from_array(weights, "embeddings_q"),
        numpy_helper.from_array(np.array([0.01], dtype=np.float32), "embeddings_scale"),
        numpy_helper.from_array(np.zeros(1, dtype=np.int8), "embeddings_zero"),
        numpy_helper.from_array(spread, "spread"),
        numpy_helper.from_array(np.array([2], dtype=np.int64), "mask_axis"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "sequence_axis"),
        numpy_helper.from_array(np.array([-1, 14, 4], dtype=np.int64), "logits_shape"),
    ]
    nodes = [
        helper.make_node("DequantizeLinear", ["embeddings_q", "embeddings_scale", "embeddings_zero"], ["embeddings"], axis=1),
        helper.make_node("Gather", ["embeddings", "input_ids"], ["token_weights"]),
        helper.make_node("Mul", ["token_weights", "spread"], ["tokens"]),
        helper.make_node("Cast", ["attention_mask"], ["mask"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask", "mask_axis"], ["mask3"]),
        helper.make_node("Mul", ["tokens", "mask3"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "sequence_axis"], ["summed"], keepdims=0),
        helper.make_node("Reshape", ["summed", "logits_shape"], ["reshaped"]),
        helper.make_node("Identity", ["reshaped"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes,
        "small",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "sequence"]),
        ],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 14, 4])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="cxr-labeler-fuzz")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    out = ROOT / "fuzz/seeds/small_model.onnx"
    out.write_bytes(model.SerializeToString())
    print(f"wrote {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
