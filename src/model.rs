//! The ONNX student, run by tract: loaded from bytes, checked against its contract, optimized
//! once for a symbolic `[batch, sequence]` input, then run on padded batches.

use tract_onnx::prelude::*;

use crate::config::{InputRole, IntegerType, LabelConfig};
use crate::error::{BoxError, Error, Result};
use crate::observation::{Observation, Status};

/// An optimized, immutable tract plan; cheap to share between threads.
pub(crate) struct Model {
    plan: Arc<TypedRunnableModel>,
    inputs: Vec<(InputRole, IntegerType)>,
}

impl Model {
    /// Parses `onnx`, checks its inputs and output against `config`, and optimizes it.
    ///
    /// # Errors
    /// [`Error::ModelLoad`] if the bytes are not an ONNX model tract can run; [`Error::Contract`]
    /// if the input names or order, the output name, or the output shape (`[batch, 14, 4]`)
    /// differ from the contract.
    pub(crate) fn from_bytes(onnx: &[u8], config: &LabelConfig) -> Result<Self> {
        // tract panics, instead of failing, on some malformed graphs (a Transpose permutation
        // out of range: found by fuzz/load_model).
        crate::guard::catch_panic(
            || Model::load(onnx, config),
            |message| Error::ModelLoad(format!("the ONNX graph is malformed (tract panicked: {message})").into()),
        )
    }

    fn load(onnx: &[u8], config: &LabelConfig) -> Result<Self> {
        let inputs = config.input_roles()?;
        let mut model = tract_onnx::onnx()
            .with_ignore_value_info(true)
            .with_ignore_output_shapes(true)
            .model_for_read(&mut &*onnx)
            .map_err(load_error)?;

        let input_names = model
            .input_outlets()
            .map_err(load_error)?
            .iter()
            .map(|outlet| model.node(outlet.node).name.clone())
            .collect::<Vec<_>>();
        let expected_names = config.inputs.iter().map(|input| input.name.clone()).collect::<Vec<_>>();
        if input_names != expected_names {
            return Err(Error::contract(format!(
                "the ONNX inputs are {input_names:?}, labels.json lists {expected_names:?}"
            )));
        }
        let outputs = model.output_outlets().map_err(load_error)?.to_vec();
        let output = outputs
            .iter()
            .copied()
            .find(|&outlet| model.outlet_label(outlet) == Some(config.output.name.as_str()))
            .ok_or_else(|| {
                let names: Vec<_> = outputs.iter().map(|&outlet| model.outlet_label(outlet).unwrap_or("?")).collect();
                Error::contract(format!("no output named {:?} (the model has {names:?})", config.output.name))
            })?;
        model.select_output_outlets(&[output]).map_err(load_error)?;

        let shape = [TDim::from(model.sym("batch")), TDim::from(model.sym("sequence"))];
        for (index, &(_, dtype)) in inputs.iter().enumerate() {
            let fact = match dtype {
                IntegerType::Int64 => i64::fact(shape.clone()),
                IntegerType::Int32 => i32::fact(shape.clone()),
            };
            model.set_input_fact(index, fact.into()).map_err(load_error)?;
        }
        let model = model.into_optimized().map_err(load_error)?;

        let fact = model.output_fact(0).map_err(load_error)?;
        let expected_shape = [Observation::COUNT, Status::COUNT];
        let trailing: Vec<Option<i64>> = fact.shape.iter().skip(1).map(|dimension| dimension.to_i64().ok()).collect();
        if fact.datum_type != f32::datum_type()
            || fact.rank() != 3
            || trailing != expected_shape.map(|size| Some(size as i64))
        {
            return Err(Error::contract(format!(
                "the output must be float32 [batch, {}, {}], the model gives {:?} {:?}",
                expected_shape[0], expected_shape[1], fact.datum_type, fact.shape
            )));
        }
        let plan = model.into_runnable().map_err(load_error)?;
        Ok(Model { plan, inputs })
    }

    /// Runs a batch of token windows, padded with `pad_id` to the longest, in one inference call.
    ///
    /// Returns the logits in the model's own layout: `windows.len() * 14 * 4` floats, row-major
    /// `[window][observation axis][status axis]`.
    pub(crate) fn logits(&self, windows: &[&[u32]], pad_id: u32) -> Result<Vec<f32>> {
        let batch = windows.len();
        let sequence = windows.iter().map(|window| window.len()).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(batch * sequence);
        let mut mask = Vec::with_capacity(batch * sequence);
        for window in windows {
            ids.extend(window.iter().map(|&id| i64::from(id)));
            ids.extend(std::iter::repeat_n(i64::from(pad_id), sequence - window.len()));
            mask.extend(std::iter::repeat_n(1, window.len()));
            mask.extend(std::iter::repeat_n(0, sequence - window.len()));
        }
        let zeros = vec![0; batch * sequence];
        let tensors = self
            .inputs
            .iter()
            .map(|&(role, dtype)| {
                let values = match role {
                    InputRole::InputIds => &ids,
                    InputRole::AttentionMask => &mask,
                    InputRole::TokenTypeIds => &zeros,
                };
                let tensor = match dtype {
                    IntegerType::Int64 => Tensor::from_shape(&[batch, sequence], values),
                    IntegerType::Int32 => {
                        // Token ids are u32 and masks 0/1, so narrowing can only fail for ids
                        // past i32::MAX, which no vocabulary has.
                        let narrow: Vec<i32> =
                            values.iter().map(|&value| i32::try_from(value).unwrap_or(i32::MAX)).collect();
                        Tensor::from_shape(&[batch, sequence], &narrow)
                    }
                };
                tensor.map(TValue::from)
            })
            .collect::<TractResult<TVec<TValue>>>()
            .map_err(inference_error)?;
        let outputs = self.plan.run(tensors).map_err(inference_error)?;
        let logits = outputs[0].to_plain_array_view::<f32>().map_err(inference_error)?;
        let expected = [batch, Observation::COUNT, Status::COUNT];
        if logits.shape() != expected {
            return Err(Error::contract(format!("the model returned shape {:?}, not {expected:?}", logits.shape())));
        }
        Ok(logits.iter().copied().collect())
    }
}

fn load_error(error: TractError) -> Error {
    Error::ModelLoad(BoxError::from(error))
}

fn inference_error(error: TractError) -> Error {
    Error::Inference(BoxError::from(error))
}
