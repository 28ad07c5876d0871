// ONNX protobuf messages, encoded and decoded with protobufjs (a well-kept library; nothing is hand-
// serialised). The schema below is the subset of onnx/onnx.proto (IR version 8+, opset 17+) that
// LayerLab writes and reads: models, graphs, nodes, attributes, tensors (raw or typed data, external
// data references), value infos with tensor types, opset imports and metadata. Field numbers follow
// the ONNX specification (https://onnx.ai/onnx/repo-docs/IR.html); fields LayerLab never touches are
// left out, and protobufjs skips unknown fields when it decodes, so files that carry them still load.
import protobuf from 'protobufjs';

const ONNX_SCHEMA = `
syntax = "proto2";
package onnx;

message AttributeProto {
  enum AttributeType {
    UNDEFINED = 0; FLOAT = 1; INT = 2; STRING = 3; TENSOR = 4; GRAPH = 5;
    FLOATS = 6; INTS = 7; STRINGS = 8; TENSORS = 9; GRAPHS = 10;
  }
  optional string name = 1;
  optional string ref_attr_name = 21;
  optional string doc_string = 13;
  optional AttributeType type = 20;
  optional float f = 2;
  optional int64 i = 3;
  optional bytes s = 4;
  optional TensorProto t = 5;
  optional GraphProto g = 6;
  repeated float floats = 7;
  repeated int64 ints = 8;
  repeated bytes strings = 9;
  repeated TensorProto tensors = 10;
  repeated GraphProto graphs = 11;
}

message ValueInfoProto {
  optional string name = 1;
  optional TypeProto type = 2;
  optional string doc_string = 3;
}

message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  optional string name = 3;
  optional string op_type = 4;
  optional string domain = 7;
  repeated AttributeProto attribute = 5;
  optional string doc_string = 6;
}

message StringStringEntryProto {
  optional string key = 1;
  optional string value = 2;
}

message OperatorSetIdProto {
  optional string domain = 1;
  optional int64 version = 2;
}

message ModelProto {
  optional int64 ir_version = 1;
  repeated OperatorSetIdProto opset_import = 8;
  optional string producer_name = 2;
  optional string producer_version = 3;
  optional string domain = 4;
  optional int64 model_version = 5;
  optional string doc_string = 6;
  optional GraphProto graph = 7;
  repeated StringStringEntryProto metadata_props = 14;
}

message GraphProto {
  repeated NodeProto node = 1;
  optional string name = 2;
  repeated TensorProto initializer = 5;
  optional string doc_string = 10;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
  repeated ValueInfoProto value_info = 13;
}

message TensorProto {
  enum DataType {
    UNDEFINED = 0; FLOAT = 1; UINT8 = 2; INT8 = 3; UINT16 = 4; INT16 = 5; INT32 = 6; INT64 = 7;
    STRING = 8; BOOL = 9; FLOAT16 = 10; DOUBLE = 11; UINT32 = 12; UINT64 = 13; COMPLEX64 = 14;
    COMPLEX128 = 15; BFLOAT16 = 16;
  }
  repeated int64 dims = 1;
  optional int32 data_type = 2;
  repeated float float_data = 4 [packed = true];
  repeated int32 int32_data = 5 [packed = true];
  repeated bytes string_data = 6;
  repeated int64 int64_data = 7 [packed = true];
  optional string name = 8;
  optional string doc_string = 12;
  optional bytes raw_data = 9;
  repeated StringStringEntryProto external_data = 13;
  enum DataLocation { DEFAULT = 0; EXTERNAL = 1; }
  optional DataLocation data_location = 14;
  repeated double double_data = 10 [packed = true];
  repeated uint64 uint64_data = 11 [packed = true];
}

message TensorShapeProto {
  message Dimension {
    oneof value {
      int64 dim_value = 1;
      string dim_param = 2;
    }
    optional string denotation = 3;
  }
  repeated Dimension dim = 1;
}

message TypeProto {
  message Tensor {
    optional int32 elem_type = 1;
    optional TensorShapeProto shape = 2;
  }
  oneof value {
    Tensor tensor_type = 1;
  }
  optional string denotation = 6;
}
`;

/** ONNX TensorProto.DataType values used by LayerLab. */
export const OnnxDataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  BFLOAT16: 16,
} as const;

/** AttributeProto.AttributeType values. */
export const OnnxAttrType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;

// Plain-object views of the messages (protobufjs `toObject` with longs as numbers, bytes as Uint8Array).
export interface OnnxTensorShapeDim {
  dimValue?: number;
  dimParam?: string;
}
export interface OnnxValueInfo {
  name: string;
  type?: { tensorType?: { elemType?: number; shape?: { dim?: OnnxTensorShapeDim[] } } };
  docString?: string;
}
export interface OnnxStringEntry {
  key: string;
  value: string;
}
export interface OnnxTensor {
  name?: string;
  dims?: number[];
  dataType?: number;
  rawData?: Uint8Array;
  floatData?: number[];
  int32Data?: number[];
  int64Data?: number[];
  doubleData?: number[];
  externalData?: OnnxStringEntry[];
  /** 1 = EXTERNAL: the bytes live in a separate file named by externalData's "location". */
  dataLocation?: number;
  docString?: string;
}
export interface OnnxAttribute {
  name: string;
  type?: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: OnnxTensor;
  g?: OnnxGraph;
  floats?: number[];
  ints?: number[];
  strings?: Uint8Array[];
}
export interface OnnxNode {
  input?: string[];
  output?: string[];
  name?: string;
  opType: string;
  domain?: string;
  attribute?: OnnxAttribute[];
  docString?: string;
}
export interface OnnxGraph {
  name?: string;
  node?: OnnxNode[];
  initializer?: OnnxTensor[];
  input?: OnnxValueInfo[];
  output?: OnnxValueInfo[];
  valueInfo?: OnnxValueInfo[];
  docString?: string;
}
export interface OnnxModel {
  irVersion?: number;
  opsetImport?: { domain?: string; version?: number }[];
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: number;
  docString?: string;
  graph?: OnnxGraph;
  metadataProps?: OnnxStringEntry[];
}

let root: protobuf.Root | null = null;
function modelType(): protobuf.Type {
  root ??= protobuf.parse(ONNX_SCHEMA, { keepCase: false }).root;
  return root.lookupType('onnx.ModelProto');
}

/** Serialise a model to ONNX protobuf bytes. */
export function encodeOnnxModel(model: OnnxModel): Uint8Array {
  const T = modelType();
  const msg = T.fromObject(model as Record<string, unknown>);
  return T.encode(msg).finish();
}

/** An ONNX file that protobufjs cannot decode, or that decodes to something with no graph. */
export class OnnxFormatError extends Error {
  readonly hint: string;
  constructor(message: string, hint: string) {
    super(message);
    this.name = 'OnnxFormatError';
    this.hint = hint;
  }
}

/**
 * Parse ONNX protobuf bytes. Throws OnnxFormatError (message + hint) on bytes that are not an ONNX
 * model: truncated files, other formats, or a ModelProto without a graph.
 */
export function decodeOnnxModel(bytes: Uint8Array): OnnxModel {
  const T = modelType();
  let obj: OnnxModel;
  try {
    const msg = T.decode(bytes);
    obj = T.toObject(msg, { longs: Number, bytes: Uint8Array as unknown as typeof String, defaults: false, arrays: true, enums: Number }) as OnnxModel;
  } catch (e) {
    throw new OnnxFormatError(
      `not a readable ONNX model (${bytes.length} bytes): ${(e as Error).message}`,
      'the file is truncated or is not an ONNX protobuf; export it again (e.g. with Hugging Face Optimum) or pick the .onnx file itself',
    );
  }
  if (!obj.graph || !(obj.graph.node?.length ?? 0)) {
    throw new OnnxFormatError(
      `the ONNX file decodes but holds no graph nodes (${bytes.length} bytes)`,
      'this is not a model graph (or it is truncated); pick the model .onnx file, not an external-data file',
    );
  }
  return obj;
}

/** Float32 values of an initializer that carries its data inline (raw_data or float_data). */
export function tensorFloat32(t: OnnxTensor): Float32Array {
  if (t.dataType !== OnnxDataType.FLOAT) throw new Error(`tensor ${t.name ?? '?'} has ONNX data type ${t.dataType}, not FLOAT`);
  if (t.rawData && t.rawData.length) {
    // A fresh, 4-aligned copy: in Node protobufjs hands out Buffer views at any byte offset, and
    // Buffer#slice shares that memory (and its alignment) instead of copying.
    const copy = new Uint8Array(t.rawData);
    if (copy.byteLength % 4) throw new Error(`tensor ${t.name ?? '?'}: raw_data holds ${copy.byteLength} bytes, not a whole number of float32 values`);
    return new Float32Array(copy.buffer, 0, copy.byteLength / 4);
  }
  return Float32Array.from(t.floatData ?? []);
}

/** An initializer holding float32 data as raw little-endian bytes. */
export function float32Tensor(name: string, dims: readonly number[], data: Float32Array): OnnxTensor {
  return { name, dims: [...dims], dataType: OnnxDataType.FLOAT, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** A value info for a tensor input/output; a string dim is symbolic (dim_param). */
export function tensorValueInfo(name: string, elemType: number, dims: readonly (number | string)[]): OnnxValueInfo {
  return {
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}
