// Array types of the gradient code (src/core/grad): inputs may be f32 (weights as loaded) or f64;
// everything the backward pass computes is float64, so finite-difference checks in float64 are exact
// up to truncation error.

export type Arr = Float32Array | Float64Array;
