// src/gpu/shaders.ts: `//!include NAME` lines are replaced by shaders/NAME.wgsl (nested includes too),
// other text is untouched, and a shader that includes a piece twice or itself is refused by name.
// The real shaders that include wg-reduce are compiled and run by the GPU kernel tests.
import { describe, expect, it } from 'vitest';
import { setShaderLoader, shaderSource } from '../../src/gpu/shaders.ts';

describe('shader includes', () => {
  it('pastes included files in place, recursively, and leaves other comments alone', () => {
    const files: Record<string, string> = {
      main: 'const WG: u32 = 64u;\n//!include outer\n// !include not-a-directive\nfn f() {}\n',
      outer: 'fn a() {}\n//!include inner\n',
      inner: 'fn b() {}',
    };
    setShaderLoader((n) => files[n]);
    // The directive line's own newline stays after the pasted text (outer ends with one of its own).
    expect(shaderSource('main')).toBe('const WG: u32 = 64u;\nfn a() {}\nfn b() {}\n\n// !include not-a-directive\nfn f() {}\n');
  });

  it('refuses a piece included twice or a shader including itself', () => {
    setShaderLoader((n) => ({ twice: '//!include p\n//!include p\n', p: 'fn p() {}', self: '//!include self\n' })[n]!);
    expect(() => shaderSource('twice')).toThrow(/twice\.wgsl: p\.wgsl is included twice/);
    expect(() => shaderSource('self')).toThrow(/self\.wgsl: self\.wgsl is included twice \(or includes itself\)/);
  });
});
