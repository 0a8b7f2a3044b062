//! A small ONNX graph builder over tract's public protobuf structs (`tract_onnx::pb`), with
//! weight-only int8 quantization: a quantized weight is stored as int8 with one float scale
//! per channel and turned back into float by a `DequantizeLinear` node, so every matrix
//! multiplication stays in float (exact to the rounding of the weights, and fast in tract).

use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::tensor_shape_proto::Dimension;
use tract_onnx::pb::tensor_shape_proto::dimension::Value as DimensionValue;
use tract_onnx::pb::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto, attribute_proto, type_proto,
};

/// The ONNX operator set the exports use.
pub const OPSET: i64 = 17;

/// How weights are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// float32.
    Float,
    /// int8 per channel with float scales (weight-only).
    Int8,
}

/// A graph under construction. Every value has a unique name.
pub struct GraphBuilder {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    precision: Precision,
    counter: usize,
}

/// An attribute value.
pub enum Attribute {
    /// An integer.
    Int(i64),
    /// A float.
    Float(f32),
    /// A list of integers.
    Ints(Vec<i64>),
}

impl GraphBuilder {
    /// An empty graph storing weights at `precision`.
    pub fn new(precision: Precision) -> Self {
        GraphBuilder { nodes: Vec::new(), initializers: Vec::new(), precision, counter: 0 }
    }

    fn fresh(&mut self, hint: &str) -> String {
        self.counter += 1;
        format!("{hint}_{}", self.counter)
    }

    /// Stores an initializer and returns its (unique) name.
    fn initializer(&mut self, name: &str, dims: &[usize], data_type: DataType, raw_data: Vec<u8>) -> String {
        let name = self.fresh(name);
        self.initializers.push(TensorProto {
            name: name.clone(),
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: data_type as i32,
            raw_data,
            ..Default::default()
        });
        name
    }

    /// A float32 constant (always stored in float: biases, norms, scalars).
    pub fn float(&mut self, name: &str, dims: &[usize], values: &[f32]) -> String {
        assert_eq!(dims.iter().product::<usize>(), values.len(), "{name}: shape and data disagree");
        self.initializer(name, dims, DataType::Float, values.iter().flat_map(|v| v.to_le_bytes()).collect())
    }

    /// An int64 constant.
    pub fn int64(&mut self, name: &str, dims: &[usize], values: &[i64]) -> String {
        assert_eq!(dims.iter().product::<usize>(), values.len(), "{name}: shape and data disagree");
        self.initializer(name, dims, DataType::Int64, values.iter().flat_map(|v| v.to_le_bytes()).collect())
    }

    /// An int16 constant (compact index tables), cast to int64 in the graph.
    pub fn int16_as_int64(&mut self, name: &str, dims: &[usize], values: &[i64]) -> String {
        assert_eq!(dims.iter().product::<usize>(), values.len(), "{name}: shape and data disagree");
        let stored = self.fresh(name);
        let narrow: Vec<u8> =
            values.iter().flat_map(|&v| i16::try_from(v).expect("index tables fit in int16").to_le_bytes()).collect();
        self.initializers.push(TensorProto {
            name: stored.clone(),
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: DataType::Int16 as i32,
            raw_data: narrow,
            ..Default::default()
        });
        self.op("Cast", &[&stored], &[("to", Attribute::Int(DataType::Int64 as i64))])
    }

    /// A 2-D weight `[rows, columns]`, quantized per slice along `axis` (0: per row, for
    /// embedding tables; 1: per column, for `x @ W` weights) when the graph is int8.
    pub fn weight(&mut self, name: &str, rows: usize, columns: usize, values: &[f32], axis: usize) -> String {
        assert_eq!(rows * columns, values.len(), "{name}: shape and data disagree");
        if self.precision == Precision::Float {
            return self.float(name, &[rows, columns], values);
        }
        let channels = if axis == 0 { rows } else { columns };
        let channel = |index: usize| if axis == 0 { index / columns } else { index % columns };
        let mut maximum = vec![0.0f32; channels];
        for (index, value) in values.iter().enumerate() {
            let slot = &mut maximum[channel(index)];
            *slot = slot.max(value.abs());
        }
        let scales: Vec<f32> = maximum.iter().map(|&m| if m > 0.0 { m / 127.0 } else { 1.0 }).collect();
        let quantized: Vec<u8> = values
            .iter()
            .enumerate()
            .map(|(index, value)| ((value / scales[channel(index)]).round().clamp(-127.0, 127.0) as i8) as u8)
            .collect();
        let stored = self.initializer(name, &[rows, columns], DataType::Int8, quantized);
        let scale = self.float(&format!("{name}.scale"), &[channels], &scales);
        let zero_name = self.initializer(&format!("{name}.zero_point"), &[channels], DataType::Int8, vec![0; channels]);
        self.op("DequantizeLinear", &[&stored, &scale, &zero_name], &[("axis", Attribute::Int(axis as i64))])
    }

    /// Adds a node with one output and returns the output's name.
    pub fn op(&mut self, op_type: &str, inputs: &[&str], attributes: &[(&str, Attribute)]) -> String {
        let output = self.fresh(&op_type.to_ascii_lowercase());
        self.op_named(op_type, inputs, attributes, &output);
        output
    }

    /// Adds a node whose single output has the given name (graph outputs).
    pub fn op_named(&mut self, op_type: &str, inputs: &[&str], attributes: &[(&str, Attribute)], output: &str) {
        let attribute = attributes
            .iter()
            .map(|(name, value)| {
                let mut proto = AttributeProto { name: (*name).to_owned(), ..Default::default() };
                match value {
                    Attribute::Int(i) => {
                        proto.r#type = attribute_proto::AttributeType::Int as i32;
                        proto.i = *i;
                    }
                    Attribute::Float(f) => {
                        proto.r#type = attribute_proto::AttributeType::Float as i32;
                        proto.f = *f;
                    }
                    Attribute::Ints(ints) => {
                        proto.r#type = attribute_proto::AttributeType::Ints as i32;
                        proto.ints.clone_from(ints);
                    }
                }
                proto
            })
            .collect();
        self.nodes.push(NodeProto {
            op_type: op_type.to_owned(),
            name: format!("{op_type}_{output}"),
            input: inputs.iter().map(|&input| input.to_owned()).collect(),
            output: vec![output.to_owned()],
            attribute,
            ..Default::default()
        });
    }

    /// `x @ weight + bias` for a weight stored `[input, output]`.
    pub fn linear(
        &mut self,
        x: &str,
        name: &str,
        input: usize,
        output: usize,
        weight: &[f32],
        bias: Option<&[f32]>,
    ) -> String {
        let weight = self.weight(&format!("{name}.weight"), input, output, weight, 1);
        let product = self.op("MatMul", &[x, &weight], &[]);
        match bias {
            Some(bias) => {
                let bias = self.float(&format!("{name}.bias"), &[output], bias);
                self.op("Add", &[&product, &bias], &[])
            }
            None => product,
        }
    }

    /// LayerNormalization over the last axis.
    pub fn layer_norm(&mut self, x: &str, name: &str, gamma: &[f32], beta: &[f32], epsilon: f64) -> String {
        let scale = self.float(&format!("{name}.gamma"), &[gamma.len()], gamma);
        let bias = self.float(&format!("{name}.beta"), &[beta.len()], beta);
        self.op(
            "LayerNormalization",
            &[x, &scale, &bias],
            &[("axis", Attribute::Int(-1)), ("epsilon", Attribute::Float(epsilon as f32))],
        )
    }

    /// Exact GELU: `x * 0.5 * (1 + erf(x / sqrt(2)))`.
    pub fn gelu(&mut self, x: &str) -> String {
        let inverse_root_two = self.float("inv_sqrt2", &[], &[std::f32::consts::FRAC_1_SQRT_2]);
        let one = self.float("one", &[], &[1.0]);
        let half = self.float("half", &[], &[0.5]);
        let scaled = self.op("Mul", &[x, &inverse_root_two], &[]);
        let erf = self.op("Erf", &[&scaled], &[]);
        let shifted = self.op("Add", &[&erf, &one], &[]);
        let gated = self.op("Mul", &[x, &shifted], &[]);
        self.op("Mul", &[&gated, &half], &[])
    }

    /// The finished model: int64 `[batch, sequence]` inputs named as given, one float output.
    pub fn finish(self, inputs: &[&str], output: &str, output_dims: &[Option<usize>], description: &str) -> ModelProto {
        let tensor_type = |element: DataType, dims: Vec<DimensionValue>| TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: element as i32,
                shape: Some(TensorShapeProto {
                    dim: dims.into_iter().map(|value| Dimension { value: Some(value), ..Default::default() }).collect(),
                }),
            })),
            ..Default::default()
        };
        let symbolic = |name: &str| DimensionValue::DimParam(name.to_owned());
        let graph = GraphProto {
            name: "cxr-labeler-student".to_owned(),
            node: self.nodes,
            initializer: self.initializers,
            input: inputs
                .iter()
                .map(|&name| ValueInfoProto {
                    name: name.to_owned(),
                    r#type: Some(tensor_type(DataType::Int64, vec![symbolic("batch"), symbolic("sequence")])),
                    ..Default::default()
                })
                .collect(),
            output: vec![ValueInfoProto {
                name: output.to_owned(),
                r#type: Some(tensor_type(
                    DataType::Float,
                    output_dims
                        .iter()
                        .map(|dim| dim.map_or_else(|| symbolic("batch"), |size| DimensionValue::DimValue(size as i64)))
                        .collect(),
                )),
                ..Default::default()
            }],
            ..Default::default()
        };
        ModelProto {
            ir_version: 8,
            opset_import: vec![OperatorSetIdProto { domain: String::new(), version: OPSET }],
            producer_name: "cxr-trainer".to_owned(),
            producer_version: env!("CARGO_PKG_VERSION").to_owned(),
            doc_string: description.to_owned(),
            metadata_props: vec![StringStringEntryProto {
                key: "cxr_labeler.contract".to_owned(),
                value: "labels.json".to_owned(),
            }],
            graph: Some(graph),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int8_weights_round_trip_within_half_a_step() {
        let values: Vec<f32> = (0..12).map(|i| (i as f32 - 5.5) * 0.37).collect();
        let mut graph = GraphBuilder::new(Precision::Int8);
        graph.weight("w", 3, 4, &values, 1);
        let stored = &graph.initializers[0];
        assert_eq!(stored.data_type, DataType::Int8 as i32);
        let scales: Vec<f32> =
            graph.initializers[1].raw_data.chunks(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        assert_eq!(scales.len(), 4, "one scale per output column");
        for (index, (&q, &value)) in stored.raw_data.iter().zip(&values).enumerate() {
            let restored = f32::from(q as i8) * scales[index % 4];
            assert!((restored - value).abs() <= scales[index % 4] / 2.0 + 1e-6, "{value} -> {restored}");
        }
        assert_eq!(graph.nodes[0].op_type, "DequantizeLinear");
    }

    #[test]
    fn float_weights_are_stored_as_is() {
        let mut graph = GraphBuilder::new(Precision::Float);
        let name = graph.weight("w", 1, 2, &[1.5, -2.0], 1);
        assert!(graph.nodes.is_empty());
        assert_eq!(graph.initializers[0].name, name);
        assert_eq!(graph.initializers[0].raw_data, [1.5f32.to_le_bytes(), (-2.0f32).to_le_bytes()].concat());
    }
}
