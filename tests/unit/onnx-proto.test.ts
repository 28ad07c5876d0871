// src/onnx/proto.ts: the protobufjs schema encodes to the bytes the protobuf wire format prescribes
// (a ModelProto hand-encoded below, field numbers from onnx.proto), decodes back, and reads float32
// initializers from raw_data even when the decoded bytes sit at an unaligned offset (Node Buffers).
import { describe, expect, it } from 'vitest';
import { decodeOnnxModel, encodeOnnxModel, float32Tensor, OnnxFormatError, tensorFloat32 } from '../../src/onnx/proto.ts';

describe('onnx proto', () => {
  it('encodes a ModelProto exactly as the wire format says', () => {
    // ir_version (field 1, varint) = 8; graph (field 7, length-delimited) { node (field 1) { op_type (field 4) = "Add" } }
    const want = [0x08, 0x08, 0x3a, 0x07, 0x0a, 0x05, 0x22, 0x03, 0x41, 0x64, 0x64];
    expect([...encodeOnnxModel({ irVersion: 8, graph: { node: [{ opType: 'Add' }] } })]).toEqual(want);
    const back = decodeOnnxModel(new Uint8Array(want));
    expect(back.irVersion).toBe(8);
    expect(back.graph!.node![0].opType).toBe('Add');
  });

  it('reads raw float32 data at any byte offset', () => {
    const values = new Float32Array([1.5, -2, 3.25, 1e-7]);
    const bytes = encodeOnnxModel({ irVersion: 8, graph: { node: [{ opType: 'Identity', input: ['w'], output: ['y'] }], initializer: [float32Tensor('w', [2, 2], values)] } });
    // An unaligned Node Buffer view, as fs.readFileSync slices or protobufjs may hand out.
    const padded = Buffer.concat([Buffer.from([7]), Buffer.from(bytes)]).subarray(1);
    const t = decodeOnnxModel(padded).graph!.initializer![0];
    expect(t.dims).toEqual([2, 2]);
    expect([...tensorFloat32(t)]).toEqual([...values]);
  });

  it('refuses bytes that are not an ONNX model, with a hint', () => {
    const bad = () => decodeOnnxModel(new TextEncoder().encode('GGUF this is not protobuf at all'));
    expect(bad).toThrow(OnnxFormatError);
    try {
      bad();
    } catch (e) {
      expect((e as OnnxFormatError).hint).toMatch(/ONNX/);
    }
    expect(() => decodeOnnxModel(new Uint8Array([0x08, 0x08]))).toThrow(/no graph nodes/);
  });
});
